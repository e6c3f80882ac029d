"""Fixtures of the ML service's tests: trained models, registries, callers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from quantgrid.adapters.features import MemoryOnlineStore
from quantgrid.adapters.registry import InMemoryModelRegistry
from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.gateway import Authenticator, AuthSettings, RateLimit, RateLimits
from quantgrid.ml import TrainingResult
from quantgrid.services.ml import MlSettings, ModelServer, ml_app
from tests.unit.services.ml.support import (
    LENIENT,
    memory_registry,
    register,
    ticking_clock,
    to_production,
    train,
)

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


@pytest.fixture(scope="session")
def v1_result() -> TrainingResult:
    return train(seed=1)


@pytest.fixture(scope="session")
def v2_result() -> TrainingResult:
    return train(seed=2)


@pytest.fixture(scope="session")
def lightgbm_result() -> TrainingResult:
    return train(seed=3, kind="lightgbm", three_classes=True)


@pytest.fixture
def registry() -> InMemoryModelRegistry:
    return memory_registry()


@pytest.fixture
def served_registry(
    registry: InMemoryModelRegistry, v1_result: TrainingResult
) -> InMemoryModelRegistry:
    """A registry with ``eurusd`` version 1 in production."""
    to_production(registry, "eurusd", register(registry, "eurusd", v1_result))
    return registry


@pytest.fixture
async def server(served_registry: InMemoryModelRegistry) -> AsyncIterator[ModelServer]:
    """A started server of every production model, which never polls on its own."""
    server = ModelServer(served_registry, reload_interval_s=None, clock=ticking_clock())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def auth() -> Authenticator:
    settings = AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY)
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    authenticator = Authenticator(InMemoryStore(), settings, hasher=hasher)
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
def online_store() -> MemoryOnlineStore:
    return MemoryOnlineStore()


@pytest.fixture
def app(
    server: ModelServer,
    served_registry: InMemoryModelRegistry,
    auth: Authenticator,
    online_store: MemoryOnlineStore,
) -> FastAPI:
    settings = MlSettings(ml_max_batch_rows=50)
    return ml_app(
        server, served_registry, settings, auth=auth, policy=LENIENT, online_store=online_store
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ml") as client:
        yield client
