"""Predictions on hand-built bars, a source that can fail, and the service in process.

The bars are one a minute from ``T0`` (2024-01-01T00:00Z), stamped at their close: bar
``k`` closes at ``T0 + k`` minutes. AAA's close is ``100 + k`` and BBB's ``200 - k/2``,
for k = 1..300; CCC's is ``50 + k`` for k = 1..20 only (its data ends). A price is read
off the time, so every expected entry and exit below is checked by hand.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import httpx
import numpy as np
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from quantgrid.adapters.market_data import InMemorySource, Timeframe, UpstreamUnavailableError
from quantgrid.adapters.storage import (
    InMemoryStore,
    Page,
    Role,
    StoredPrediction,
    StoreUnavailableError,
)
from quantgrid.core import NANOS_PER_SECOND, TestClock
from quantgrid.gateway import Authenticator, AuthSettings, RateLimit, RateLimits
from quantgrid.ml import Direction, Horizon, Prediction
from quantgrid.model import BarSeries
from quantgrid.services import ServiceSettings
from quantgrid.services.evaluation import DriftCheck, Evaluator, create_app

MINUTE = 60 * NANOS_PER_SECOND
T0 = 1_704_067_200 * NANOS_PER_SECOND  # 2024-01-01T00:00:00Z
#: The first run's clock: bars up to k = 30 are known.
NOW = T0 + 30 * MINUTE
#: Long enough for the CCC data to have ended; short enough to keep the tests readable.
MAX_GAP = 30 * MINUTE
PASSWORD = "correct horse battery staple"
ROOMY = RateLimits(
    viewer=RateLimit(10_000.0, 10_000),
    trader=RateLimit(10_000.0, 10_000),
    admin=RateLimit(10_000.0, 10_000),
    login=RateLimit(10_000.0, 10_000),
)
Headers = Callable[[Role | None], dict[str, str]]


def minute_bars(symbol: str, closes: Callable[[np.ndarray], np.ndarray], last: int) -> BarSeries:
    """Bars k = 1..last, closing at ``T0 + k`` minutes at ``closes(k)``."""
    k = np.arange(1, last + 1)
    close = closes(k).astype(np.float64)
    return BarSeries.from_arrays(symbol, T0 + k * MINUTE, close, close, close, close, k * 10.0)


def market() -> dict[str, BarSeries]:
    return {
        "AAA": minute_bars("AAA", lambda k: 100.0 + k, 300),
        "BBB": minute_bars("BBB", lambda k: 200.0 - k / 2, 300),
        "CCC": minute_bars("CCC", lambda k: 50.0 + k, 20),
    }


class FlakySource(InMemorySource):
    """An in-memory source that records its calls and fails for the symbols told to."""

    def __init__(self, bars: dict[str, BarSeries], failing: Iterable[str] = ()) -> None:
        super().__init__(bars, name="flaky")
        self.failing = set(failing)
        self.calls: list[tuple[str, int, int, int | None]] = []

    async def ohlcv(
        self,
        symbol: str,
        start: int,
        end: int,
        timeframe: Timeframe,
        *,
        limit: int | None = None,
    ) -> BarSeries:
        self.calls.append((symbol, start, end, limit))
        if symbol in self.failing:
            raise UpstreamUnavailableError(self.name, f"{symbol} is down")
        return await super().ohlcv(symbol, start, end, timeframe, limit=limit)


class GatedSource(FlakySource):
    """A source that holds every call until ``gate`` is set (``entered`` says one waits)."""

    def __init__(self, bars: dict[str, BarSeries]) -> None:
        super().__init__(bars)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def ohlcv(
        self,
        symbol: str,
        start: int,
        end: int,
        timeframe: Timeframe,
        *,
        limit: int | None = None,
    ) -> BarSeries:
        self.entered.set()
        await self.gate.wait()
        return await super().ohlcv(symbol, start, end, timeframe, limit=limit)


class SwitchableStore(InMemoryStore):
    """The in-memory store, which can be taken down, and counts its outcome batches."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.outcome_batches: list[int] = []

    def _check_up(self) -> None:
        if self.down:
            raise StoreUnavailableError("the database is unreachable")

    def due_predictions(
        self, now_ns: int, *, limit: int = 100, after: str | None = None
    ) -> Page[Prediction]:
        self._check_up()
        return super().due_predictions(now_ns, limit=limit, after=after)

    def save_outcomes(self, outcomes: Iterable[Any]) -> int:
        self._check_up()
        batch = list(outcomes)
        self.outcome_batches.append(len(batch))
        return super().save_outcomes(batch)

    def list_predictions(self, **filters: Any) -> Page[StoredPrediction]:
        self._check_up()
        return super().list_predictions(**filters)


def predict(
    pid: str, instrument: str, ts_event: int, horizon: Horizon, **changes: Any
) -> Prediction:
    fields: dict[str, Any] = {
        "prediction_id": pid,
        "model_name": "m",
        "model_version": 1,
        "instrument_id": instrument,
        "ts_event": ts_event,
        "direction": Direction.BUY,
        "confidence": 0.7,
        "horizon": horizon,
        "exchange_tz": "UTC",
    }
    return Prediction(**(fields | changes))


def logged_predictions() -> list[Prediction]:
    """The predictions every test logs; see each one's comment for its fate."""
    return [
        # Entry k=10 (110), exit 5 bars on k=15 (115), prior k=5 (105): a hit.
        predict(
            "p-bars",
            "AAA",
            T0 + 10 * MINUTE + 30 * NANOS_PER_SECOND,
            Horizon.of_bars(5),
            confidence=0.8,
            feature_snapshot={"rsi_14": 55.0},
        ),
        # Entry k=12 (112); the horizon ends at 15m30s: exit k=15 (115), known once
        # k=16 is. A SELL of a rise: a miss. Prior: last bar by 8m30s, k=8 (108).
        predict(
            "p-duration",
            "AAA",
            T0 + 12 * MINUTE,
            Horizon.of_duration(210 * NANOS_PER_SECOND),
            direction=Direction.SELL,
            confidence=0.6,
            model_version=2,
            probabilities={Direction.SELL: 0.6, Direction.BUY: 0.3, Direction.HOLD: 0.1},
        ),
        # Exit k=120: pending until the clock passes T0 + 120m.
        predict("p-later", "AAA", T0 + 20 * MINUTE, Horizon.of_bars(100)),
        # Before AAA's first bar: unresolvable, no entry bar.
        predict("p-early", "AAA", T0 - 60 * MINUTE, Horizon.of_bars(1)),
        # Entry k=10 (195), exit k=15 (192.5): a BUY of a fall, when BBB answers.
        predict("p-down", "BBB", T0 + 10 * MINUTE, Horizon.of_bars(5)),
        # Exit k=25, but CCC's bars end at k=20: pending, then the data has ended.
        predict("p-ends", "CCC", T0 + 15 * MINUTE, Horizon.of_bars(10)),
        # Due only at T0 + 85m: entry k=25 (125), exit k=85 (185).
        predict("p-not-due", "AAA", T0 + 25 * MINUTE, Horizon.of_duration(60 * MINUTE)),
    ]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store() -> SwitchableStore:
    store = SwitchableStore()
    store.save_predictions(logged_predictions())
    return store


@pytest.fixture
def clock() -> TestClock:
    return TestClock(NOW)


@pytest.fixture
def source() -> FlakySource:
    return FlakySource(market(), failing={"BBB"})


@pytest.fixture
def evaluator(store: SwitchableStore, source: FlakySource, clock: TestClock) -> Evaluator:
    return Evaluator(store, source, clock, timeframe=Timeframe.M1, max_gap_ns=MAX_GAP)


@pytest.fixture
def auth(store: SwitchableStore) -> Authenticator:
    # A clock of its own: the evaluator's moves hours ahead, and tokens would expire.
    settings = AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY)
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    authenticator = Authenticator(store, settings, hasher=hasher, clock=TestClock(NOW))
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
def drift() -> DriftCheck | None:
    """No drift check by default; tests that show drift override this fixture."""
    return None


@pytest.fixture
def app(
    store: SwitchableStore, evaluator: Evaluator, auth: Authenticator, drift: DriftCheck | None
) -> FastAPI:
    return create_app(store, evaluator, ServiceSettings(), auth=auth, drift=drift)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client
