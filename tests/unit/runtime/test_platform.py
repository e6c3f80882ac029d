"""The one-process platform: every service behind the gateway on embedded defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from quantgrid.adapters.storage import Role
from quantgrid.gateway import Users
from quantgrid.runtime import Runtime, build_platform, build_service
from quantgrid.services import SERVICES, assert_stable_operation_ids
from tests.unit.runtime.conftest import PASSWORD, make_config

pytestmark = pytest.mark.anyio


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = build_platform(make_config(tmp_path))
    Users(runtime.store).create_user("alice", PASSWORD, Role.TRADER)
    async with runtime.running():
        yield runtime


@pytest.fixture
async def gateway(platform: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=platform.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.hosted_by is None])
async def test_every_service_builds_and_starts_on_embedded_defaults(
    tmp_path: Path, name: str
) -> None:
    config = make_config(tmp_path)
    runtime = build_service(name, config)

    async with runtime.running() as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            health = await client.get("/health")

    assert health.status_code == 200
    assert health.json()["service"] == name


async def test_the_platform_shares_one_store_and_one_node(platform: Runtime) -> None:
    assert set(platform.apps) == set(SERVICES) - {"gateway"}
    assert platform.node is not None
    for name in ("execution", "risk", "portfolio"):
        assert platform.apps[name].state.backend is platform.node
    assert platform.node.store is platform.store


async def test_the_platform_schedules_every_ml_job_on_its_store(platform: Runtime) -> None:
    assert platform.jobs is not None
    scheduler = platform.jobs.scheduler
    assert scheduler is not None and scheduler.running
    # No drift check: the synthetic market's bars end long before now, so no reference.
    assert sorted(job.name for job in scheduler.jobs) == ["evaluate", "predict", "retrain-check"]
    assert platform.apps["ml"].state.service == "ml"


@pytest.mark.parametrize(
    ("service", "jobs"), [("ml", ["predict", "retrain-check"]), ("evaluation", ["evaluate"])]
)
async def test_a_distributed_service_schedules_its_own_jobs(
    tmp_path: Path, service: str, jobs: list[str]
) -> None:
    runtime = build_service(service, make_config(tmp_path))
    async with runtime.running():
        assert runtime.jobs is not None and runtime.jobs.scheduler is not None
        assert sorted(job.name for job in runtime.jobs.scheduler.jobs) == jobs
    assert not runtime.jobs.scheduler.running


@pytest.mark.parametrize(
    "path",
    [
        "/api/ml/ml/models",
        "/api/evaluation/evaluation/metrics",
        "/api/market-data/market-data/price/SYN0",
        "/api/regime/regime/overview",
        "/api/strategy/strategies",
        "/api/backtest/backtests",
        "/api/execution/orders",
        "/api/portfolio/portfolio/positions",
        "/api/risk/risk/state",
    ],
)
async def test_login_then_reach_each_service(gateway: httpx.AsyncClient, path: str) -> None:
    headers = await login(gateway)
    headers["X-Correlation-ID"] = "test-cid-1"

    answer = await gateway.get(path, headers=headers)

    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Correlation-ID"] == "test-cid-1"


async def test_a_call_without_credentials_is_a_401_problem(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/api/market-data/market-data/symbols")

    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.headers["X-Correlation-ID"]


async def test_the_gateway_checks_every_service(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/health/dependencies")

    assert answer.status_code == 200, answer.text
    assert set(answer.json()["dependencies"]) == set(SERVICES) - {"gateway"}


async def test_a_trader_submits_an_order_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    headers = await login(gateway)
    order = {
        "client_order_id": "C-1",
        "instrument_id": "SYN0",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": 1,
        "price": 1.0,
    }

    answer = await gateway.post("/api/execution/orders", json=order, headers=headers)

    assert answer.status_code in (200, 201), answer.text
    listed = await gateway.get("/api/execution/orders", headers=headers)
    assert [o["client_order_id"] for o in listed.json()["items"]] == ["C-1"]


async def test_the_gateway_describes_every_operation_with_a_stable_id(platform: Runtime) -> None:
    assert_stable_operation_ids(platform.main_app)
    paths = platform.main_app.openapi()["paths"]
    for name, app in platform.apps.items():
        for path, item in app.openapi()["paths"].items():
            for method, operation in item.items():
                described = paths[f"/api/{name}{path}"][method]
                assert (
                    described["operationId"]
                    == f"{name.replace('-', '_')}_" + (operation["operationId"])
                )


async def test_the_distributed_gateway_describes_every_service_while_none_is_up(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 9: the description is built from the services' code.
    urls = {s.env_url: "http://127.0.0.1:9" for n, s in SERVICES.items() if n != "gateway"}
    runtime = build_service("gateway", make_config(tmp_path, "distributed", **urls))

    async with runtime.running() as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            answer = await client.get("/openapi.json")

    assert answer.status_code == 200, answer.text
    paths = answer.json()["paths"]
    assert paths["/api/execution/orders"]["post"]["operationId"] == "execution_submit_order"
    assert paths["/api/execution/orders"]["post"]["x-required-role"] == "trader"
    assert paths["/api/risk/risk/limits"]["put"]["x-required-role"] == "admin"
    assert paths["/auth/login"]["post"]["security"] == []


async def test_a_mounted_service_is_served_directly_and_the_gateway_still_counts_it(
    platform: Runtime, gateway: httpx.AsyncClient
) -> None:
    """``MountedServices`` skips the gateway's middleware, not its metrics or its ids."""
    headers = await login(gateway)
    headers["X-Correlation-ID"] = "direct-cid-1"
    answer = await gateway.get("/api/execution/orders", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["X-Correlation-ID"] == "direct-cid-1"

    counted = 'quantgrid_http_requests_total{method="GET",route="/orders",status="200"} 1.0'
    assert counted in (await gateway.get("/metrics")).text  # the gateway's share
    assert counted in (await gateway.get("/api/execution/metrics")).text  # the service's
    # Not a mounted service: the gateway answers, as a problem.
    unknown = await gateway.get("/api/nowhere/orders", headers=headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    # The service's own routes and docs still see the mount's root path.
    docs = await gateway.get("/api/execution/openapi.json")
    assert docs.status_code == 200 and "/orders" in docs.json()["paths"]
