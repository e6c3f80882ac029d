"""``serve execution`` serves risk and portfolio too, over its one trading node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import Role
from quantgrid.gateway import ServiceProxy, Users, create_gateway_app
from quantgrid.runtime import PathDispatcher, Runtime, build_service
from quantgrid.services import SERVICES, ServiceSettings
from tests.unit.runtime.conftest import PASSWORD, make_config

pytestmark = pytest.mark.anyio

EXECUTION = SERVICES["execution"]
EXECUTION_URL = f"http://{EXECUTION.name}:{EXECUTION.port}"
HOSTED = [n for n, spec in SERVICES.items() if spec.hosted_by == EXECUTION.name]


@pytest.fixture
async def execution(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = build_service(EXECUTION.name, make_config(tmp_path))
    Users(runtime.store).create_user("alice", PASSWORD, Role.TRADER)
    async with runtime.running():
        yield runtime


def _client(app: Any, base_url: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


async def _login(client: httpx.AsyncClient, path: str = "/auth/login") -> dict[str, str]:
    answer = await client.post(path, json={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _token(runtime: Runtime) -> dict[str, str]:
    gateway = create_gateway_app(ServiceSettings(), runtime.authenticator)
    async with _client(gateway, "http://gateway") as client:
        return await _login(client)


def test_risk_and_portfolio_are_hosted_by_execution() -> None:
    assert sorted(HOSTED) == ["portfolio", "risk"]


async def test_execution_serves_risk_and_portfolio_over_one_node(execution: Runtime) -> None:
    assert isinstance(execution.app, PathDispatcher)
    assert set(execution.apps) == {"execution", *HOSTED}
    assert execution.node is not None
    for app in execution.apps.values():
        assert app.state.backend is execution.node
    headers = await _token(execution)

    async with _client(execution.app, EXECUTION_URL) as client:
        health = await client.get("/health")
        state = await client.get("/risk/state", headers=headers)
        positions = await client.get("/portfolio/positions", headers=headers)
        orders = await client.get("/orders", headers=headers)
        metrics = await client.get("/metrics")

    assert health.status_code == 200 and health.json()["service"] == "execution"
    assert state.status_code == 200, state.text
    assert positions.status_code == 200, positions.text
    assert orders.status_code == 200, orders.text
    assert metrics.status_code == 200


def test_the_dispatcher_matches_whole_path_segments(tmp_path: Path) -> None:
    runtime = build_service(EXECUTION.name, make_config(tmp_path))
    try:
        app = runtime.app
        assert isinstance(app, PathDispatcher)
        risk, portfolio, own = (runtime.apps[n] for n in ("risk", "portfolio", "execution"))
        assert app.app_for("/risk") is risk
        assert app.app_for("/risk/state") is risk
        assert app.app_for("/portfolio/positions") is portfolio
        for path in ("/risky", "/health", "/health/dependencies", "/metrics", "/orders", "/"):
            assert app.app_for(path) is own, path
    finally:
        runtime.store.close()


async def test_a_distributed_gateway_reaches_risk_and_portfolio_at_the_execution_url(
    execution: Runtime,
) -> None:
    env = {SERVICES[n].env_url: EXECUTION_URL for n in ("execution", *HOSTED)}
    settings = ServiceSettings.from_env(env)
    seen: list[str] = []

    class Recording(httpx.ASGITransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(f"{request.url.scheme}://{request.url.netloc.decode()}")
            return await super().handle_async_request(request)

    proxies = {
        n: ServiceProxy.from_settings(settings, n, transport=Recording(app=execution.app))
        for n in ("execution", *HOSTED)
    }
    gateway = create_gateway_app(settings, execution.authenticator, proxies=proxies)

    async with _client(gateway, "http://gateway") as client:
        headers = await _login(client)
        state = await client.get("/api/risk/risk/state", headers=headers)
        positions = await client.get("/api/portfolio/portfolio/positions", headers=headers)
        orders = await client.get("/api/execution/orders", headers=headers)

    assert state.status_code == 200, state.text
    assert positions.status_code == 200, positions.text
    assert orders.status_code == 200, orders.text
    assert set(seen) == {EXECUTION_URL}


def _requests_counted(metrics: str, route: str) -> bool:
    return f'quantgrid_http_requests_total{{method="GET",route="{route}",status="200"}}' in metrics


async def test_a_hosted_app_answers_its_own_metrics_and_health_under_its_prefix(
    execution: Runtime,
) -> None:
    headers = await _token(execution)

    async with _client(execution.app, EXECUTION_URL) as client:
        state = await client.get("/risk/state", headers=headers)
        risk_metrics = await client.get("/risk/metrics")
        portfolio_metrics = await client.get("/portfolio/metrics")
        own_metrics = await client.get("/metrics")
        healths = {n: await client.get(f"/{n}/health") for n in HOSTED}

    assert state.status_code == 200, state.text
    for answer in (risk_metrics, portfolio_metrics, own_metrics):
        assert answer.status_code == 200, answer.text
    # Each answers from its own registry, named by target_info.
    assert 'target_info{service="risk"' in risk_metrics.text
    assert 'target_info{service="portfolio"' in portfolio_metrics.text
    assert 'target_info{service="execution"' in own_metrics.text
    assert _requests_counted(risk_metrics.text, "/risk/state")
    assert not _requests_counted(own_metrics.text, "/risk/state")
    assert not _requests_counted(portfolio_metrics.text, "/risk/state")
    for name, health in healths.items():
        assert health.status_code == 200, health.text
        assert health.json()["service"] == name


def test_the_dispatcher_rewrites_only_a_hosted_apps_own_health_and_metrics(
    tmp_path: Path,
) -> None:
    runtime = build_service(EXECUTION.name, make_config(tmp_path))
    try:
        app = runtime.app
        assert isinstance(app, PathDispatcher)
        for name in HOSTED:
            for path in ("/health", "/metrics"):
                assert app.app_for(f"/{name}{path}") is runtime.apps[name]
                assert app.app_path(f"/{name}{path}") == path
        unchanged = [
            "/risk/metricsx",
            "/risk/metrics/",
            "/risk/health/dependencies",
            "/riskmetrics",
            "/risk",
            "/risk/state",
            "/portfolio/healthz",
            "/metrics",
            "/health",
            "/orders/metrics",
        ]
        for path in unchanged:
            assert app.app_path(path) == path, path
    finally:
        runtime.store.close()


async def test_a_rewritten_request_keeps_the_rest_of_its_scope() -> None:
    seen: list[dict[str, Any]] = []

    async def record(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = PathDispatcher(FastAPI(), {"/risk": record})
    async with _client(app, EXECUTION_URL) as client:
        rewritten = await client.get("/risk/metrics?name=x")
        passed_on = await client.get("/risk/metricsx")

    assert rewritten.status_code == passed_on.status_code == 204
    first, second = seen
    assert (first["path"], first["raw_path"]) == ("/metrics", b"/metrics")
    assert first["query_string"] == b"name=x"
    assert (second["path"], second["raw_path"]) == ("/risk/metricsx", b"/risk/metricsx")
    assert {k: v for k, v in first.items() if k not in ("path", "raw_path", "query_string")} == {
        k: v for k, v in second.items() if k not in ("path", "raw_path", "query_string")
    }
