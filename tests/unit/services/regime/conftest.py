"""The regime service under test: a small synthetic market, the shipped detector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.cache import InMemoryCache
from quantgrid.core import TestClock
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.gateway import Authenticator
from quantgrid.model import BarSeries
from quantgrid.regime import RegimeDetector, RegimeFrame
from quantgrid.services.regime import RegimeSettings, create_app
from tests.unit.services.market_data.support import (
    FaultySource,
    authenticator,
    bearer,
    cache_clock,
    client,
)

CONFIG = SyntheticConfig(instruments=("SYN0", "SYN1", "SYN2"), bars=3000)
LOOKBACK = 600


class CountingDetector(RegimeDetector):
    """The shipped detector, counting its `detect` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.detections = 0

    def detect(self, bars: Any) -> dict[str, RegimeFrame]:
        self.detections += 1
        return super().detect(bars)


@pytest.fixture(scope="session")
def market_bars() -> dict[str, BarSeries]:
    return generate_market(CONFIG, seed=5).bars


@pytest.fixture(scope="session")
def auth() -> Authenticator:
    return authenticator()


@pytest.fixture
def source(market_bars: dict[str, BarSeries]) -> FaultySource:
    return FaultySource(market_bars, name="synthetic")


@pytest.fixture
def detector() -> CountingDetector:
    return CountingDetector()


@pytest.fixture
def clock() -> TestClock:
    return cache_clock()


@pytest.fixture
def settings() -> RegimeSettings:
    return RegimeSettings(regime_lookback_bars=LOOKBACK)


@pytest.fixture
def app(
    source: FaultySource,
    detector: CountingDetector,
    clock: TestClock,
    settings: RegimeSettings,
    auth: Authenticator,
) -> FastAPI:
    cache = InMemoryCache(now_ns=clock.timestamp_ns)
    return create_app(source, detector, cache, settings, authenticator=auth)


@pytest.fixture
async def viewer(app: FastAPI, auth: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    async with client(app, bearer(auth)) as http:
        yield http
