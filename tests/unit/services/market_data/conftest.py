"""The market-data service under test: a small synthetic market, an in-memory cache on a
test clock, a cheap authenticator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.cache import InMemoryCache
from quantgrid.core import TestClock
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.gateway import Authenticator
from quantgrid.model import BarSeries
from quantgrid.services.market_data import MarketDataSettings, create_app
from tests.unit.services.market_data.support import (
    FaultySource,
    authenticator,
    bearer,
    cache_clock,
    client,
)

#: A small synthetic market: 3 symbols, 3000 one-minute bars from 2024-01-01.
CONFIG = SyntheticConfig(instruments=("SYN0", "SYN1", "SYN2"), bars=3000)


@pytest.fixture(scope="session")
def market_bars() -> dict[str, BarSeries]:
    return generate_market(CONFIG, seed=11).bars


@pytest.fixture(scope="session")
def auth() -> Authenticator:
    return authenticator()


@pytest.fixture
def source(market_bars: dict[str, BarSeries]) -> FaultySource:
    return FaultySource(market_bars, name="synthetic", half_spread=CONFIG.tick)


@pytest.fixture
def clock() -> TestClock:
    return cache_clock()


@pytest.fixture
def cache(clock: TestClock) -> InMemoryCache:
    return InMemoryCache(now_ns=clock.timestamp_ns)


@pytest.fixture
def settings() -> MarketDataSettings:
    return MarketDataSettings()


@pytest.fixture
def app(
    source: FaultySource, cache: InMemoryCache, settings: MarketDataSettings, auth: Authenticator
) -> FastAPI:
    return create_app(source, cache, settings, authenticator=auth)


@pytest.fixture
async def viewer(app: FastAPI, auth: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    async with client(app, bearer(auth)) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client(app) as http:
        yield http
