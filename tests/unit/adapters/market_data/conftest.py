"""Fixtures of the market-data source tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from quantgrid.adapters.market_data import BinanceRestSource
from tests.unit.adapters.market_data.fixture_server import FixtureServer

#: The clock ``ticker/price`` answers are stamped with: 2024-01-02T00:00:00Z.
NOW_NS = 1_704_153_600_000_000_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> FixtureServer:
    return FixtureServer()


@pytest.fixture
async def binance(server: FixtureServer) -> AsyncIterator[BinanceRestSource]:
    source = BinanceRestSource(
        "http://binance.test", transport=server.transport(), now_ns=lambda: NOW_NS
    )
    try:
        yield source
    finally:
        await source.close()
