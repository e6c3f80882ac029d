"""Bars, nodes and comparable records for the paper trading tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import InMemoryStore, Store
from quantgrid.core import TestClock
from quantgrid.model import BarSeries, Instrument, Order, OrderFilled
from quantgrid.node import NodeConfig, TradingNode
from quantgrid.paper import ReplayFeed, StrategyHost
from quantgrid.strategy import Strategy
from quantgrid.venues import VenueConfig

START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE_NS = 60_000_000_000


def random_walk(instrument_id: str, seed: int, n: int = 300, start_ns: int = START_NS) -> BarSeries:
    """Return ``n`` one-minute bars of a seeded random walk around 100."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]] * (1.0 + rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.003, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.003, n)))
    volume = rng.uniform(50.0, 500.0, n).round()
    ts = start_ns + np.arange(n, dtype=np.int64) * MINUTE_NS
    return BarSeries.from_arrays(instrument_id, ts, open_, high, low, close, volume)


def make_node(
    instruments: Sequence[str],
    *,
    store: Store | None = None,
    start_ns: int = START_NS,
    session_id: str = "p1",
    initial_cash: float = 100_000.0,
) -> TradingNode:
    """Return a node on a test clock over ``instruments`` (in-memory store unless given)."""
    return TradingNode(
        NodeConfig(instruments=[Instrument(i) for i in instruments], initial_cash=initial_cash),
        store=store if store is not None else InMemoryStore(),
        bus=InProcessEventBus(),
        clock=TestClock(start_ns),
        session_id=session_id,
    )


async def run_paper(
    strategies: Strategy | Sequence[Strategy],
    data: BarSeries | Sequence[BarSeries],
    venue: VenueConfig,
    *,
    initial_cash: float = 100_000.0,
) -> tuple[tuple[Order, ...], tuple[OrderFilled, ...], TradingNode]:
    """Play ``data`` to ``strategies`` on a fresh node; return its orders, fills and node.

    The node is stopped on return: its store holds everything the run did.
    """
    series = [data] if isinstance(data, BarSeries) else list(data)
    node = make_node(
        [s.instrument_id for s in series],
        start_ns=min(int(s.ts[0]) for s in series),
        initial_cash=initial_cash,
    )
    host = StrategyHost(node, venue)
    for strategy in [strategies] if isinstance(strategies, Strategy) else strategies:
        host.add_strategy(strategy)
    await node.start()
    try:
        await host.start()
        await ReplayFeed(series).play(host)
        await host.stop()
    finally:
        await node.stop()
    return host.orders, host.fills, node


def order_key(order: Order) -> tuple[Any, ...]:
    """Return what must match between a backtest's order and the paper run's.

    The venue order id is left out: it carries the venue's name (``SIM-1`` in a
    backtest, ``PAPER-<session>-1`` on the node).
    """
    return (
        order.client_order_id,
        order.strategy_id,
        order.instrument_id,
        order.side,
        order.order_type,
        order.quantity,
        order.price,
        order.trigger_price,
        order.time_in_force,
        order.reduce_only,
        order.cash_fraction,
        order.tag,
        order.ts_init,
        order.contingency,
        order.parent_order_id,
        order.linked_order_ids,
        order.status,
        order.filled_qty,
        order.avg_px,
        order.triggered,
        order.ts_last,
        tuple((type(e).__name__, e.ts_event) for e in order.events),
    )


def fill_key(fill: OrderFilled) -> tuple[Any, ...]:
    """Return what must match between two fills: all but the venue's trade id."""
    return (
        fill.client_order_id,
        fill.strategy_id,
        fill.instrument_id,
        fill.ts_event,
        fill.side,
        fill.last_qty,
        fill.last_px,
        fill.commission,
        fill.liquidity_side,
        fill.currency,
    )
