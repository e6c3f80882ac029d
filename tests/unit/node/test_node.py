"""The node's wiring: its config, its clocks, market data and the portfolio views."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import InMemoryStore
from quantgrid.backtest import ReplayConfig
from quantgrid.core import LiveClock
from quantgrid.model import Instrument, InvalidMarketDataError, OrderStatus, QuoteTick, TradeTick
from quantgrid.node import NodeConfig, TradingNode
from quantgrid.venues import BookVenueConfig
from tests.unit.node.support import (
    INSTRUMENTS,
    MS,
    START_NS,
    limit_buy,
    make_config,
    market,
    quote,
    running_node,
)

PUBLIC = (
    "CashView",
    "Denial",
    "EquityPoint",
    "InvalidOrderRequestError",
    "NodeConfig",
    "NodeError",
    "NodeNotRunningError",
    "OrderClosedError",
    "OrderConflictError",
    "OrderDetail",
    "OrderNotFoundError",
    "OrderRefusedError",
    "OrderRequest",
    "OrderView",
    "PnlView",
    "PositionView",
    "RecoveryError",
    "RecoveryReport",
    "RiskDecision",
    "RiskStatus",
    "SaveOrder",
    "StorageFailedError",
    "StoreWriter",
    "SubmitResult",
    "SupportsTransaction",
    "TradingNode",
)


def test_the_public_api_is_stable() -> None:
    module = importlib.import_module("quantgrid.node")
    assert tuple(module.__all__) == PUBLIC


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"instruments": []}, "at least one instrument"),
        ({"instruments": [Instrument("A"), Instrument("A")]}, "names one instrument twice"),
        (
            {"instruments": [Instrument("A"), Instrument("B", currency="EUR")]},
            "one currency",
        ),
        ({"initial_cash": 0.0}, "initial_cash must be a positive number"),
        ({"account_id": "has space"}, "account_id"),
        ({"venue_name": "9x"}, "venue_name"),
        ({"write_batch": 0}, "write_batch must be a whole number >= 1"),
        ({"venue": "fast"}, "venue must be a BookVenueConfig"),
    ],
)
def test_a_bad_config_names_the_field(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_config(**overrides)


def test_a_backtest_config_is_refused() -> None:
    replay = ReplayConfig(INSTRUMENTS)
    with pytest.raises(TypeError, match="backtest config runs in run_backtest or run_replay"):
        TradingNode(replay, store=InMemoryStore(), bus=InProcessEventBus())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LiveClock or a TestClock"):
        TradingNode(make_config(), store=InMemoryStore(), bus=InProcessEventBus(), clock="now")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="session_id"):
        TradingNode(make_config(), store=InMemoryStore(), bus=InProcessEventBus(), session_id="A B")


def test_the_node_is_wired_like_a_replay() -> None:
    node = TradingNode(make_config(), store=InMemoryStore(), bus=InProcessEventBus())
    assert isinstance(node.clock, LiveClock)
    assert node.venue.name == f"PAPER-{node.session_id}"
    assert set(node.bus.endpoints) >= {
        "ExecEngine.execute",
        "ExecEngine.process",
        "RiskEngine.execute",
        node.venue.endpoint,
    }


@pytest.mark.anyio
async def test_latency_is_simulated_on_the_test_clock() -> None:
    store = InMemoryStore()
    venue = BookVenueConfig(latency_ns=MS)
    async with running_node(store, venue=venue) as node:
        result = await node.submit(limit_buy("o-1"))
        assert result.order.status is OrderStatus.SUBMITTED
        node.on_quote(quote(node.clock))  # 1 ms later: the order arrives
        await node.writer.barrier()
        stored = store.get_order("o-1")
        assert stored is not None and stored.status is OrderStatus.ACCEPTED


@pytest.mark.anyio
async def test_latency_alerts_fire_on_the_wall_clock() -> None:
    store = InMemoryStore()
    node = TradingNode(
        make_config(venue=BookVenueConfig(latency_ns=2 * MS)),
        store=store,
        bus=InProcessEventBus(),
    )
    async with node:
        result = await node.submit(limit_buy("o-1"))
        assert result.order.status is OrderStatus.SUBMITTED
        for _ in range(200):  # at most 2 s
            stored = store.get_order("o-1")
            if stored is not None and stored.status is OrderStatus.ACCEPTED:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the order never arrived at the venue")


@pytest.mark.anyio
async def test_a_feed_is_consumed_and_bad_data_is_named() -> None:
    async def feed() -> AsyncIterator[QuoteTick | TradeTick]:
        for i in range(5):
            yield QuoteTick("AAPL", START_NS + (i + 1) * MS, 100.0, 100.02, 100.0, 100.0)
        yield QuoteTick("AAPL", START_NS + 9 * MS, 100.0, 100.005, 100.0, 100.0)

    async with running_node() as node:
        assert await node.consume(feed(), limit=3) == 3
        with pytest.raises(InvalidMarketDataError, match="feed item 5"):
            await node.consume(feed())
        assert node.venue.best_ask("AAPL") == 100.02


@pytest.mark.anyio
async def test_positions_cash_pnl_and_equity_history() -> None:
    async with running_node(equity_interval_ns=0) as node:
        node.on_quote(quote(node.clock, bid=100.0, ask=100.02))
        await node.submit(market("m-1", quantity=10))
        node.on_quote(quote(node.clock, bid=101.0, ask=101.02))
        (position,) = await node.positions()
        assert (position.instrument_id, position.quantity) == ("AAPL", 10)
        assert position.last_price == pytest.approx(101.01)
        pnl = await node.pnl()
        assert pnl.capital == 100_000
        assert pnl.unrealized == pytest.approx(9.9)
        assert pnl.total == pytest.approx(pnl.equity - pnl.capital)
        cash = await node.cash()
        assert cash.balance == Decimal("98999.8")
        history = await node.equity_history()
        assert len(history) >= 3
        assert history[-1].equity == pytest.approx(pnl.equity)
        assert len(await node.equity_history(limit=2)) == 2
        returns = await node.equity_returns()
        assert len(returns) == len(history) - 1


def test_node_config_keeps_a_read_only_instrument_map() -> None:
    config = NodeConfig({"AAPL": Instrument("AAPL")})
    assert config.instrument_map() == {"AAPL": Instrument("AAPL")}
    assert config.currency == "USD"
    with pytest.raises(TypeError):
        config.instruments["X"] = Instrument("X")  # type: ignore[index]
