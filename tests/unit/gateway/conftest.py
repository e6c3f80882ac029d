"""The gateway under test: an in-memory store, a cheap argon2 hasher and a test clock."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import (
    Authenticator,
    AuthSettings,
    RateLimit,
    RateLimits,
    auth_router,
    install_auth,
)

START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
PASSWORD = "correct horse battery staple"
#: Budgets no test reaches unless it means to.
ROOMY = RateLimits(
    viewer=RateLimit(1000.0, 1000),
    trader=RateLimit(1000.0, 1000),
    admin=RateLimit(1000.0, 1000),
    login=RateLimit(1000.0, 1000),
)


def fast_hasher() -> PasswordHasher:
    """Return an argon2id hasher cheap enough for unit tests (8 KiB, one pass)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class CountingHasher(PasswordHasher):
    """A cheap hasher that counts its verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified.append(str(hash))
        return super().verify(hash, password)


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START_NS)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY)


@pytest.fixture
def auth(store: InMemoryStore, settings: AuthSettings, clock: TestClock) -> Authenticator:
    authenticator = Authenticator(store, settings, hasher=fast_hasher(), clock=clock)
    for role in Role:
        authenticator.users.create_user(role.value, PASSWORD, role)
    return authenticator


@pytest.fixture
def app(auth: Authenticator) -> FastAPI:
    app = FastAPI()
    install_auth(app, auth)
    app.include_router(auth_router)
    return app


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the services use asyncio."""
    return "asyncio"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # httpx straight onto the ASGI app: starlette's TestClient is deprecated with httpx.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
