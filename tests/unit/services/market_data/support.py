"""What the market-data and regime service tests share: callers, fakes, app builders."""

from __future__ import annotations

import asyncio
import secrets

import httpx
from argon2 import PasswordHasher

from quantgrid.adapters.market_data import (
    InMemorySource,
    Price,
    Ticker,
    Timeframe,
    UpstreamUnavailableError,
)
from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import Authenticator, AuthSettings, RateLimit, RateLimits
from quantgrid.model import BarSeries

PASSWORD = "correct horse battery staple"
#: Budgets no test reaches unless it means to.
ROOMY = RateLimits(
    viewer=RateLimit(10_000.0, 10_000),
    trader=RateLimit(10_000.0, 10_000),
    admin=RateLimit(10_000.0, 10_000),
    login=RateLimit(10_000.0, 10_000),
)


def authenticator() -> Authenticator:
    """Return an authenticator with one user per role (named after it), cheap hashing."""
    auth = Authenticator(
        InMemoryStore(),
        AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY),
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    for role in Role:
        auth.users.create_user(role.value, PASSWORD, role)
    return auth


def bearer(auth: Authenticator, role: Role = Role.VIEWER) -> dict[str, str]:
    """Return the Authorization header of a user with ``role``."""
    return {"Authorization": f"Bearer {auth.login(role.value, PASSWORD).access}"}


def client(app: object, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """Return an httpx client calling ``app`` in process."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://service", headers=headers)


class FakeTime:
    """Monotonic seconds that move only when told to, and a sleep that moves them."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def cache_clock() -> TestClock:
    """Return a test clock for an ``InMemoryCache(now_ns=clock.timestamp_ns)``."""
    return TestClock(1_000_000_000_000)


class FaultySource(InMemorySource):
    """An in-memory source that counts calls and can fail or hang on demand.

    ``mode`` is ``"ok"``, ``"fail"`` (raise `UpstreamUnavailableError`) or ``"hang"``
    (never answer); ``symbols()`` always answers, so the symbol list can be cached.
    """

    def __init__(self, bars: dict[str, BarSeries], **options: object) -> None:
        super().__init__(bars, **options)  # type: ignore[arg-type]
        self.mode = "ok"
        self.calls = 0

    async def _misbehave(self) -> None:
        self.calls += 1
        if self.mode == "fail":
            raise UpstreamUnavailableError(self.name, "answered 503")
        if self.mode == "hang":
            await asyncio.Event().wait()

    async def latest_price(self, symbol: str) -> Price:
        await self._misbehave()
        return await super().latest_price(symbol)

    async def ticker(self, symbol: str) -> Ticker:
        await self._misbehave()
        return await super().ticker(symbol)

    async def ohlcv(
        self,
        symbol: str,
        start: int,
        end: int,
        timeframe: Timeframe,
        *,
        limit: int | None = None,
    ) -> BarSeries:
        await self._misbehave()
        return await super().ohlcv(symbol, start, end, timeframe, limit=limit)
