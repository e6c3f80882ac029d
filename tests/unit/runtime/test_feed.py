"""``MarketFeed``: the node's process feeds it quotes from the market-data upstream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import anyio
import httpx
import numpy as np
import pytest

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.market_data import (
    InMemorySource,
    Price,
    RequestRate,
    SyntheticSource,
    Ticker,
    Timeframe,
    UpstreamUnavailableError,
)
from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.data import SyntheticConfig
from quantgrid.gateway import Users, create_gateway_app
from quantgrid.model import BarSeries, Instrument
from quantgrid.node import NodeConfig, TradingNode
from quantgrid.runtime import MarketFeed, Runtime, build_platform, build_service
from quantgrid.services import ServiceSettings, SettingsError
from tests.unit.runtime.conftest import PASSWORD, make_config

pytestmark = pytest.mark.anyio

START_NS = 1_704_067_200_000_000_000
MINUTE_NS = 60_000_000_000
#: The longest any test waits for the feed's task to do something.
WAIT_S = 10.0
FEED_TASK = "quantgrid-market-feed"


def bars(symbol: str, closes: list[float]) -> BarSeries:
    n = len(closes)
    close = np.array(closes, dtype=np.float64)
    ts = START_NS + MINUTE_NS * np.arange(1, n + 1, dtype=np.int64)
    return BarSeries(symbol, ts, close, close, close, close, np.ones(n))


class FlakySource:
    """A source answering tickers (no quotes) around ``last``, or failing while down."""

    name = "flaky"
    request_rate: RequestRate | None = None

    def __init__(self, last: float = 50.0) -> None:
        self.last = last
        self.up = False
        self.calls = 0

    async def symbols(self) -> list[str]:
        return ["AAPL"]

    async def latest_price(self, symbol: str) -> Price:
        raise NotImplementedError

    async def ohlcv(
        self, symbol: str, start: int, end: int, timeframe: Timeframe, *, limit: int | None = None
    ) -> BarSeries:
        raise NotImplementedError

    async def ticker(self, symbol: str) -> Ticker:
        self.calls += 1
        if not self.up:
            raise UpstreamUnavailableError(self.name, "connection refused")
        return Ticker(symbol, None, None, self.last, 0.0, 0.0, 0.0, START_NS)

    async def close(self) -> None:
        pass


@asynccontextmanager
async def node_of(*ids: str) -> AsyncIterator[TradingNode]:
    config = NodeConfig(instruments=[Instrument(i) for i in ids])
    node = TradingNode(
        config,
        store=InMemoryStore(),
        bus=InProcessEventBus(),
        clock=TestClock(START_NS),
        session_id="feed",
    )
    async with node:
        yield node


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds, at most ``WAIT_S``."""
    with anyio.move_on_after(WAIT_S):
        while not condition():
            await asyncio.sleep(0.005)
        return
    pytest.fail(f"no {what} within {WAIT_S}s")


def feed_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == FEED_TASK]


# -- where prices come from ------------------------------------------------------------
async def test_the_in_memory_market_is_replayed_one_bar_a_round_and_wraps_around() -> None:
    source = InMemorySource(
        {"AAPL": bars("AAPL", [100.0, 100.5, 101.0]), "MSFT": bars("MSFT", [20.0, 21.0, 22.0])},
        half_spread=0.05,
    )
    async with node_of("AAPL", "MSFT") as node:
        feed = MarketFeed(node, source, 1.0)
        mids = []
        for _ in range(4):
            assert await feed.step() == 2
            q = feed.last_quotes["AAPL"]
            mids.append(round((q.bid + q.ask) / 2, 6))
            assert round(q.ask - q.bid, 6) == 0.1

        assert mids == [100.0, 100.5, 101.0, 100.0]
        assert feed.last_quotes["MSFT"].bid == pytest.approx(19.95)
        assert await node.last_price("AAPL") == pytest.approx(100.0)
        assert feed.stats() == {
            "quotes": 8,
            "failures": 0,
            "outages": 0,
            "rounds": 4,
            "down": False,
        }


async def test_the_synthetic_market_advances_with_its_tick_as_the_half_spread() -> None:
    source = SyntheticSource(SyntheticConfig(instruments=("SYN0",), bars=50))
    closes = source.bars("SYN0").close
    async with node_of("SYN0") as node:
        feed = MarketFeed(node, source, 1.0)
        for i in range(3):
            await feed.step()
            q = feed.last_quotes["SYN0"]
            assert q.bid == pytest.approx(closes[i] - 0.01)
            assert q.ask == pytest.approx(closes[i] + 0.01)


async def test_another_source_is_quoted_one_tick_either_side_of_its_ticker() -> None:
    source = FlakySource(last=50.0)
    source.up = True
    async with node_of("AAPL") as node:
        feed = MarketFeed(node, source, 1.0, quote_size=7)
        await feed.step()

    q = feed.last_quotes["AAPL"]
    assert (q.bid, q.ask, q.bid_size, q.ask_size) == (49.99, 50.01, 7, 7)


async def test_a_price_off_the_node_tick_is_rounded_and_never_crossed() -> None:
    source = InMemorySource({"AAPL": bars("AAPL", [10.003])}, half_spread=0.001)
    async with node_of("AAPL") as node:
        feed = MarketFeed(node, source, 1.0)
        assert await feed.step() == 1

    q = feed.last_quotes["AAPL"]
    assert (q.bid, q.ask) == (10.0, 10.01)


# -- failures ------------------------------------------------------------------------------
async def test_a_failing_source_does_not_stop_the_feed_and_it_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FlakySource()
    caplog.set_level(logging.INFO, logger="quantgrid.runtime.feed")
    async with node_of("AAPL") as node:
        feed = MarketFeed(node, source, 0.001)
        await feed.start()
        try:
            await eventually(lambda: feed.failures >= 5, "failures")
            assert feed.running and feed.down
            assert feed.quotes == 0
            source.up = True
            await eventually(lambda: feed.quotes >= 2, "quotes after the outage")
            assert feed.running and not feed.down
        finally:
            await feed.stop()

    assert feed.outages == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "UpstreamUnavailableError" in warnings[0].getMessage()
    assert "connection refused" in warnings[0].getMessage()
    assert any("recovered" in r.getMessage() for r in caplog.records)
    assert await node.last_price("AAPL") == pytest.approx(50.0)


async def test_an_unknown_instrument_fails_alone() -> None:
    source = InMemorySource({"AAPL": bars("AAPL", [100.0])})
    async with node_of("AAPL", "MSFT") as node:
        feed = MarketFeed(node, source, 1.0)
        assert await feed.step() == 1

    assert set(feed.last_quotes) == {"AAPL"}
    assert (feed.quotes, feed.failures, feed.outages) == (1, 1, 1)


def test_a_feed_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        MarketFeed(object(), FlakySource(), 0)  # type: ignore[arg-type]


# -- in the runtime ------------------------------------------------------------------------
async def test_the_platforms_node_receives_quotes_and_the_feed_stops_with_it(
    tmp_path: Path,
) -> None:
    runtime = build_platform(make_config(tmp_path, QUANTGRID_FEED_INTERVAL_S="0.001"))
    feed, node = runtime.feed, runtime.node
    assert feed is not None and node is not None

    async with runtime.running():
        assert len(feed_tasks()) == 1
        await eventually(lambda: feed.stats()["rounds"] >= 3, "three rounds")
        assert feed.failures == 0
        assert await node.last_price("SYN0") is not None
        assert await node.last_price("SYN1") is not None

    assert not feed.running
    assert feed_tasks() == []
    rounds = feed.stats()["rounds"]
    await asyncio.sleep(0.01)
    assert feed.stats()["rounds"] == rounds


async def test_a_zero_interval_feeds_nothing(tmp_path: Path) -> None:
    runtime = build_platform(make_config(tmp_path, QUANTGRID_FEED_INTERVAL_S="0"))
    async with runtime.running():
        assert runtime.feed is None
        assert feed_tasks() == []


def test_an_invalid_interval_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="QUANTGRID_FEED_INTERVAL_S"):
        make_config(tmp_path, QUANTGRID_FEED_INTERVAL_S="-1")


async def test_services_without_a_node_have_no_feed(tmp_path: Path) -> None:
    assert build_service("market-data", make_config(tmp_path)).feed is None


@pytest.fixture
async def execution(tmp_path: Path) -> AsyncIterator[Runtime]:
    # One round at the start, then none during the test: the fill price is known.
    runtime = build_service("execution", make_config(tmp_path, QUANTGRID_FEED_INTERVAL_S="3600"))
    Users(runtime.store).create_user("alice", PASSWORD, Role.TRADER)
    async with runtime.running():
        yield runtime


async def test_a_market_order_through_the_execution_app_fills_at_the_fed_price(
    execution: Runtime,
) -> None:
    feed = execution.feed
    assert feed is not None
    await eventually(lambda: "SYN0" in feed.last_quotes, "the first quote")
    ask = feed.last_quotes["SYN0"].ask
    gateway = create_gateway_app(ServiceSettings(), execution.authenticator)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
    ) as client:
        login = {"username": "alice", "password": PASSWORD}
        token = (await client.post("/auth/login", json=login)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    order = {
        "client_order_id": "M-1",
        "instrument_id": "SYN0",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": 5,
    }

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=execution.app), base_url="http://execution"
    ) as client:
        answer = await client.post("/orders", json=order, headers=headers)
        fills = await client.get("/fills", headers=headers)
        metrics = await client.get("/metrics")

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "FILLED"
    assert Decimal(body["filled_qty"]) == 5
    assert Decimal(body["avg_px"]) == Decimal(str(ask))
    assert [Decimal(f["price"]) for f in fills.json()["items"]] == [Decimal(str(ask))]
    assert "quantgrid_feed_quotes_total 2.0" in metrics.text
    assert "quantgrid_feed_failures_total 0.0" in metrics.text
