"""The distributed mode on loopback: a migrated PostgreSQL schema, a trader, and the
gateway and execution services as processes of their own.

PostgreSQL, NATS and Redis are found as the integration tests find them (their
fixtures are reused here): without one the test skips, saying what to start, except
under ``CI=true``, where it fails. Each test gets its own schema, ports and JWT secret.
NATS offers no isolation to the services (the node publishes on ``events.>`` into the
default ``QUANTGRID`` stream), which is harmless here: nothing in these tests reads
the stream, and concurrent runs create it safely.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from quantgrid.adapters.storage import PostgresStore, Role
from quantgrid.gateway import Users
from quantgrid.services import SERVICES
from tests.e2e.deployment import (
    STARTUP_TIMEOUT_S,
    TRADER,
    TRADER_PASSWORD,
    Deployment,
    ServiceProcess,
    free_port,
    service_env,
)
from tests.integration.bus.conftest import nats_url  # noqa: F401
from tests.integration.cache.conftest import redis_url  # noqa: F401
from tests.integration.storage.conftest import postgres_admin, postgres_url  # noqa: F401

#: The processes started: risk and portfolio are served by execution, and the other
#: services are not needed (the gateway only needs their URLs).
STARTED = ("execution", "gateway")
#: A short circuit-breaker reset, so the gateway probes a restarted service in a
#: second instead of the default 30.
GATEWAY_BREAKER_RESET_S = "1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(postgres_url: sa.URL) -> Iterator[PostgresStore]:  # noqa: F811
    """Return the test's schema, migrated as a deploy step would, with a trader in it."""
    store = PostgresStore(postgres_url)
    try:
        store.migrate()  # the distributed mode checks the schema, it does not migrate
        Users(store).create_user(TRADER, TRADER_PASSWORD, Role.TRADER)
        yield store
    finally:
        store.close()


@pytest.fixture
async def deployment(
    store: PostgresStore,
    postgres_url: sa.URL,  # noqa: F811
    nats_url: str,  # noqa: F811
    redis_url: str,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[Deployment]:
    """Start the gateway and execution processes on free loopback ports; stop them after.

    Every service URL is set, as the gateway requires: the ones not started point at
    ports nothing listens on, and risk's and portfolio's at execution's (their host).
    """
    ports = {name: free_port() for name, spec in SERVICES.items() if spec.hosted_by is None}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    for name, spec in SERVICES.items():
        if spec.hosted_by is not None:
            urls[name] = urls[spec.hosted_by]
    env = service_env(
        {
            "QUANTGRID_DATABASE_URL": postgres_url.render_as_string(hide_password=False),
            "QUANTGRID_NATS_URL": nats_url,
            "QUANTGRID_REDIS_URL": redis_url,
            "QUANTGRID_JWT_SECRET": secrets.token_urlsafe(48),
            "QUANTGRID_CLIENT_BREAKER_RESET_S": GATEWAY_BREAKER_RESET_S,
            # No quotes: the test checks orders and cash exactly, with nothing filled.
            "QUANTGRID_FEED_INTERVAL_S": "0",
        }
        | {SERVICES[name].env_url: url for name, url in urls.items()}
    )
    deployment = Deployment(
        {name: ServiceProcess(name, ports[name], env, tmp_path) for name in STARTED}
    )
    try:
        for process in deployment.processes.values():
            process.start()
        for process in deployment.processes.values():
            await process.wait_healthy(STARTUP_TIMEOUT_S)
        yield deployment
    finally:
        deployment.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the service processes' logs under a failed test."""
    report = yield
    deployment = getattr(item, "funcargs", {}).get("deployment")
    if report.failed and isinstance(deployment, Deployment):
        report.sections.append(("service process logs", deployment.logs()))
    return report
