"""Services over a running node: an in-memory store, the in-process bus, a test clock.

The risk and portfolio service tests use these fixtures too.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from argon2 import PasswordHasher
from fastapi import FastAPI

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import Authenticator, AuthSettings, RateLimit, RateLimits
from quantgrid.node import TradingNode
from quantgrid.risk import RiskConfig
from quantgrid.services import ServiceSettings
from quantgrid.services.execution import create_app as execution_app
from quantgrid.services.portfolio import create_app as portfolio_app
from quantgrid.services.risk import create_app as risk_app
from tests.unit.node.support import START_NS, make_config

PASSWORD = "correct horse battery staple"
ROOMY = RateLimits(
    viewer=RateLimit(10_000.0, 10_000),
    trader=RateLimit(10_000.0, 10_000),
    admin=RateLimit(10_000.0, 10_000),
    login=RateLimit(10_000.0, 10_000),
)
Headers = Callable[[Role | None], dict[str, str]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START_NS)


@pytest.fixture
async def node(store: InMemoryStore, clock: TestClock) -> AsyncIterator[TradingNode]:
    node = TradingNode(
        make_config(risk=RiskConfig(max_order_quantity=1_000)),
        store=store,
        bus=InProcessEventBus(),
        clock=clock,
        session_id="svc",
    )
    await node.start()
    yield node
    await node.stop()


@pytest.fixture
def auth(store: InMemoryStore, clock: TestClock) -> Authenticator:
    settings = AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY)
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    authenticator = Authenticator(store, settings, hasher=hasher, clock=clock)
    for role in Role:
        authenticator.users.create_user(role.value, PASSWORD, role)
    return authenticator


@pytest.fixture
def headers(auth: Authenticator) -> Headers:
    """Return the headers of a caller with a role (``None``: no credentials)."""
    tokens = {role: auth.login(role.value, PASSWORD).access for role in Role}

    def make(role: Role | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {tokens[role]}"}

    return make


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings()


@pytest.fixture
def apps(node: TradingNode, settings: ServiceSettings, auth: Authenticator) -> dict[str, FastAPI]:
    return {
        "execution": execution_app(node, settings, auth=auth),
        "risk": risk_app(node, settings, auth=auth),
        "portfolio": portfolio_app(node, settings, auth=auth),
    }


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


@pytest.fixture
async def execution(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(apps["execution"]):
        yield client


@pytest.fixture
async def risk(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(apps["risk"]):
        yield client


@pytest.fixture
async def portfolio(apps: dict[str, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(apps["portfolio"]):
        yield client


class PortalEnv:
    """Services over a node on an event loop in a thread, for synchronous tests.

    Hypothesis drives synchronous test functions; each example's requests go to the
    loop through the portal, so one node serves every example.
    """

    def __init__(self, portal: BlockingPortal) -> None:
        self.portal = portal
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.auth: dict[Role, dict[str, str]] = {}
        self._node: TradingNode | None = None

    async def open(self) -> None:
        store = InMemoryStore()
        clock = TestClock(START_NS)
        self._node = TradingNode(
            make_config(), store=store, bus=InProcessEventBus(), clock=clock, session_id="fuzz"
        )
        await self._node.start()
        settings = AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY)
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        auth = Authenticator(store, settings, hasher=hasher, clock=clock)
        for role in Role:
            auth.users.create_user(role.value, PASSWORD, role)
            token = auth.login(role.value, PASSWORD).access
            self.auth[role] = {"Authorization": f"Bearer {token}"}
        service = ServiceSettings()
        for name, make in (
            ("execution", execution_app),
            ("risk", risk_app),
            ("portfolio", portfolio_app),
        ):
            transport = httpx.ASGITransport(app=make(self._node, service, auth=auth))
            self.clients[name] = httpx.AsyncClient(transport=transport, base_url="http://svc")

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        if self._node is not None:
            await self._node.stop()

    def request(
        self, service: str, method: str, path: str, body: object, role: Role
    ) -> httpx.Response:
        """Send one request on the loop and return its answer (waits at most 10 s)."""
        client, headers = self.clients[service], self.auth[role]

        async def send() -> httpx.Response:
            return await asyncio.wait_for(
                client.request(method, path, json=body, headers=headers), 10
            )

        return self.portal.call(send)


@pytest.fixture(scope="module")
def portal_env() -> Iterator[PortalEnv]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    httpx_level = logging.getLogger("httpx").level
    with start_blocking_portal(backend="asyncio") as portal:
        env = PortalEnv(portal)
        portal.call(env.open)
        try:
            yield env
        finally:
            portal.call(env.close)
    # The apps configured the process's logging; put it back as it was.
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)
