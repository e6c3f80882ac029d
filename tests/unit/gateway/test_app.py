"""The gateway in the distributed mode: ``/api/<service>/...`` forwarded over HTTP."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from quantgrid.adapters.market_data import SyntheticSource
from quantgrid.adapters.storage import Role
from quantgrid.data import SyntheticConfig
from quantgrid.gateway import ServiceProxy, Users, create_gateway_app
from quantgrid.runtime import Runtime, RuntimeConfig, build_service
from quantgrid.services import ServiceSettings

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def market_data(tmp_path: Path) -> AsyncIterator[Runtime]:
    """The market-data service of the distributed mode, on a shared SQLite file."""
    config = RuntimeConfig.from_env(
        "distributed",
        {"QUANTGRID_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}"},
        jwt_secret=secrets.token_urlsafe(48),
        source=SyntheticSource(SyntheticConfig(instruments=("SYN0",), bars=500)),
    )
    runtime = build_service("market-data", config)
    Users(runtime.store).create_user("alice", PASSWORD, Role.VIEWER)
    async with runtime.running():
        yield runtime


def gateway_for(service: Runtime, transport: httpx.AsyncBaseTransport | None, url: str) -> FastAPI:
    settings = ServiceSettings(
        service_urls={"market-data": url}, client_retries=0, client_timeout_s=2.0
    )
    proxy = ServiceProxy.from_settings(settings, "market-data", transport=transport)
    return create_gateway_app(settings, service.authenticator, proxies={"market-data": proxy})


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the gateway's lifespan (it closes the proxies) around a client of it."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        yield client


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_a_request_is_forwarded_with_credentials_and_correlation_id(
    market_data: Runtime,
) -> None:
    seen: list[str | None] = []

    inner = httpx.ASGITransport(app=market_data.app)
    app = gateway_for(market_data, _Recording(inner, seen), "http://market-data:8101")
    async with running(app) as client:
        headers = await login(client) | {"X-Correlation-ID": "cid-42"}
        answer = await client.get(
            "/api/market-data/market-data/ohlcv/SYN0", params={"limit": 3}, headers=headers
        )
        unknown = await client.get("/api/market-data/market-data/price/NOPE", headers=headers)
        anonymous = await client.get("/api/market-data/market-data/symbols")

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["bars"]) == 3
    assert answer.headers["X-Correlation-ID"] == "cid-42"
    assert seen[0] == "cid-42"
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["symbol"] == "NOPE"
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_service_down_is_a_503_problem_at_once(market_data: Runtime) -> None:
    app = gateway_for(market_data, None, "http://127.0.0.1:9")  # discard port: refused
    async with running(app) as client:
        headers = await login(client)
        start = time.monotonic()
        answer = await client.get("/api/market-data/market-data/symbols", headers=headers)
        elapsed = time.monotonic() - start
        health = await client.get("/health/dependencies")

    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["dependency"] == "market-data"
    assert elapsed < 2.0
    assert health.status_code == 503
    assert health.json()["dependencies"]["market-data"]["status"] == "down"


async def test_routing_over_a_real_socket(market_data: Runtime) -> None:
    config = uvicorn.Config(
        market_data.app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        app = gateway_for(market_data, None, f"http://127.0.0.1:{port}")
        async with running(app) as client:
            headers = await login(client)
            answer = await client.get("/api/market-data/market-data/price/SYN0", headers=headers)
            health = await client.get("/health/dependencies")
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task

    assert answer.status_code == 200, answer.text
    assert answer.json()["symbol"] == "SYN0"
    assert health.status_code == 200


class _Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, seen: list[str | None]) -> None:
        self._inner = inner
        self._seen = seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._seen.append(request.headers.get("X-Correlation-ID"))
        return await self._inner.handle_async_request(request)
