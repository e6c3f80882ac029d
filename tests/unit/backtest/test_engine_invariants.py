"""Invariants of the engine, checked with Hypothesis over random markets and traders.

- Equity equals cash plus positions marked at their last close, at every bar, and the
  reported equity curve equals what the portfolio answered live.
- No order fills more than it asked for; fills add up to each order's filled quantity.
- Cash reconciles with the sum of fills and commissions.
- Decisions and fills up to bar t do not change when data after t is altered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.backtest import BacktestConfig, BacktestEngine, BacktestResult
from quantgrid.model import Bar, BarSeries, OrderStatus, TimeInForce
from quantgrid.strategy import Strategy
from quantgrid.venues import BpsSlippage, BpsSpread, PercentCommission
from tests.conftest import make_bars, random_walk

MINUTE = 60_000_000_000


@dataclass
class Snapshot:
    ts: int
    instrument_id: str
    equity: float
    cash: float
    positions: dict[str, float]


class RandomTrader(Strategy):
    """Trades at random, but only from what it has seen: a pure function of past bars."""

    name: ClassVar[str] = "random_trader"

    def on_start(self) -> None:
        self.seed = 0
        self.snapshots: list[Snapshot] = []
        self.decisions: list[tuple[object, ...]] = []

    def on_bar(self, bar: Bar) -> None:
        view = self.portfolio
        self.snapshots.append(
            Snapshot(bar.ts_event, bar.instrument_id, view.equity(), view.cash,
                     view.open_positions())
        )  # fmt: skip
        rng = random.Random(f"{self.seed}-{bar.instrument_id}-{bar.ts_event}-{bar.close}")
        roll = rng.random()
        iid = bar.instrument_id
        if roll < 0.55:
            return
        quantity = None if rng.random() < 0.1 else float(rng.randint(1, 40))
        side = self.buy if rng.random() < 0.5 else self.sell
        offset = bar.close * rng.uniform(0.001, 0.02)
        kind = rng.random()
        tif = rng.choice(list(TimeInForce))
        if kind < 0.45 or quantity is None:
            order = side(quantity, iid, time_in_force=tif if quantity else TimeInForce.GTC)
        elif kind < 0.65:
            price = bar.close - offset if side == self.buy else bar.close + offset
            order = side(quantity, iid, price=price, time_in_force=tif)
        elif kind < 0.85:
            stop = bar.close + offset if side == self.buy else bar.close - offset
            order = side(quantity, iid, stop=stop, time_in_force=tif)
        elif kind < 0.93:
            stop = bar.close + offset if side == self.buy else bar.close - offset
            limit = stop + offset / 2 if side == self.buy else stop - offset / 2
            order = side(quantity, iid, price=limit, stop=stop, time_in_force=tif)
        else:
            order = self.close(iid)
        if order is not None:
            self.decisions.append(
                (order.ts_init, order.instrument_id, order.side, order.order_type,
                 order.quantity, order.price, order.trigger_price, order.time_in_force)
            )  # fmt: skip
        if rng.random() < 0.05:
            self.cancel_all(iid)


def _market(seed: int, n: int, two: bool) -> list[BarSeries]:
    first = make_bars(random_walk(n, seed), "AAA", volume=500.0)
    if not two:
        return [first]
    # The second instrument trades on every other minute, half a minute out of step
    # for part of the day, so timestamps both coincide and interleave.
    closes = random_walk(n // 2, seed + 1, start=50.0)
    second = make_bars(closes, "BBB", step_ns=2 * MINUTE, volume=300.0)
    shifted = second.ts.copy()
    shifted[::3] += MINUTE // 2
    return [first, BarSeries.from_arrays("BBB", shifted, second.open, second.high,
                                         second.low, second.close, second.volume)]  # fmt: skip


def _run(
    data: Sequence[BarSeries], seed: int, config: BacktestConfig
) -> tuple[BacktestResult, RandomTrader]:
    engine = BacktestEngine(config)
    engine.add_data(data)
    trader = RandomTrader()
    engine.add_strategy(trader)
    original_start = trader.on_start

    def start() -> None:
        original_start()
        trader.seed = seed

    trader.on_start = start  # type: ignore[method-assign]
    return engine.run(), trader


configs = st.builds(
    BacktestConfig,
    initial_cash=st.sampled_from([5_000.0, 100_000.0]),
    commission=st.sampled_from([0.0, 0.001]).map(
        lambda r: PercentCommission(r, minimum=1.0) if r else 0.0
    ),
    spread=st.sampled_from([None, BpsSpread(5.0)]),
    slippage=st.sampled_from([None, BpsSlippage(2.0)]),
    max_volume_fraction=st.sampled_from([None, 0.02, 0.5]),
    close_at_end=st.booleans(),
)


def _last_close_seen(data: Sequence[BarSeries], iid: str, snap: Snapshot) -> float:
    """Return ``iid``'s latest close when ``snap`` was taken.

    Bars sharing a timestamp are one moment: every instrument's close at that time is
    marked before any strategy sees a bar of it.
    """
    series = next(s for s in data if s.instrument_id == iid)
    j = int(np.searchsorted(series.ts, snap.ts, side="right")) - 1
    return float(series.close[j])


@given(seed=st.integers(0, 2**31), two=st.booleans(), config=configs)
def test_accounting_invariants(seed: int, two: bool, config: BacktestConfig) -> None:
    data = _market(seed, 240, two)
    result, trader = _run(data, seed, config)

    # Equity is cash plus positions marked at their last close, whenever a strategy looks.
    for snap in trader.snapshots:
        marked = sum(q * _last_close_seen(data, iid, snap) for iid, q in snap.positions.items())
        assert snap.equity == pytest.approx(snap.cash + marked, rel=1e-9, abs=1e-6)

    # The reported curve equals what the portfolio answered live at each timestamp's
    # last bar (the final row may include the end-of-data settlement).
    last_seen = {snap.ts: snap.equity for snap in trader.snapshots}
    row_of = {int(t): k for k, t in enumerate(result.ts)}
    for ts, equity in last_seen.items():
        if row_of[ts] < len(result.ts) - 1:
            assert result.equity[row_of[ts]] == pytest.approx(equity, rel=1e-9, abs=1e-6)

    # Orders never overfill, and the fills add up.
    filled: dict[str, float] = {}
    for fill in result.fills:
        filled[fill.client_order_id] = filled.get(fill.client_order_id, 0.0) + fill.last_qty
    for order in result.orders:
        assert order.filled_qty == pytest.approx(filled.get(order.client_order_id, 0.0))
        if order.quantity is not None:
            assert order.filled_qty <= order.quantity + 1e-9
            if order.status is OrderStatus.FILLED:
                assert order.filled_qty == pytest.approx(order.quantity)
        else:
            assert order.filled_qty == 0.0

    # Cash reconciles with the fills, so float drift cannot hide.
    flows = sum(f.side.sign * f.last_qty * f.last_px for f in result.fills)
    fees = sum(f.commission for f in result.fills)
    assert result.cash[-1] == pytest.approx(config.initial_cash - flows - fees, rel=1e-9)
    assert result.stats.commissions == pytest.approx(fees)

    if config.close_at_end:
        # Everything is closed: the ledger's P&L is the whole change in equity.
        assert result.gross_exposure[-1] == 0.0
        pnl = sum(t.pnl for t in result.trades)
        assert pnl == pytest.approx(result.equity[-1] - config.initial_cash, abs=1e-6)


@given(
    seed=st.integers(0, 2**31),
    cut=st.integers(30, 200),
    two=st.booleans(),
    config=configs,
)
def test_no_lookahead(seed: int, cut: int, two: bool, config: BacktestConfig) -> None:
    """Altering every bar after ``cut`` changes no decision or fill up to it."""
    data = _market(seed, 240, two)
    cut_ts = int(data[0].ts[cut])
    rng = np.random.default_rng(seed)
    altered = []
    for series in data:
        later = series.ts > cut_ts
        factor = np.where(later, rng.uniform(0.5, 1.5, len(series)), 1.0)
        altered.append(
            BarSeries.from_arrays(
                series.instrument_id, series.ts, series.open * factor, series.high * factor,
                series.low * factor, series.close * factor, series.volume,
            )
        )  # fmt: skip
    first, trader_a = _run(data, seed, config)
    second, trader_b = _run(altered, seed, config)

    def upto(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        return [r for r in rows if int(r[0]) <= cut_ts]  # type: ignore[call-overload]

    assert upto(trader_a.decisions) == upto(trader_b.decisions)
    fills_a = [f for f in first.fills if f.ts_event <= cut_ts]
    fills_b = [f for f in second.fills if f.ts_event <= cut_ts]
    assert fills_a == fills_b
    rows = first.ts <= cut_ts
    np.testing.assert_array_equal(first.equity[rows], second.equity[rows])
