"""Invariants of every trade-driven builder, checked with Hypothesis on random trades.

- Bars are well formed: low <= open, close <= high; ts never go backwards.
- With the partial bar, volume is conserved; without it, the result is the same bars
  minus at most that one last bar.
- Each rule holds bar by bar against a plain-Python reference: tick bars hold exactly n
  trades, volume and dollar bars close at the first trade that reaches the threshold,
  range bars at the first trade that spans the range.
- Renko bricks are exactly ``brick_size`` tall (prices and bricks are dyadic here, so
  the arithmetic is exact) and each opens where the previous one closed or, after a
  reversal, where it opened.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.bars import TradeSeries, dollar_bars, range_bars, renko_bars, tick_bars, volume_bars
from quantgrid.model import BarSeries


@st.composite
def trade_series(draw: st.DrawFn) -> TradeSeries:
    n = draw(st.integers(0, 60))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))  # 0: shared ts
    quarters = draw(st.lists(st.integers(1, 400), min_size=n, max_size=n))
    sizes = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 10.0]), min_size=n, max_size=n))
    ts = 1_000 + np.cumsum(np.asarray(steps, dtype=np.int64))
    return TradeSeries.from_arrays("X", ts, np.asarray(quarters) / 4.0, sizes)


def _well_formed(bars: BarSeries) -> None:
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(np.maximum(bars.open, bars.close) <= bars.high)
    assert np.all(np.diff(bars.ts) >= 0)


def _same(a: BarSeries, b: BarSeries) -> None:
    for name in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), name)


def _check_partial_rule(build: Callable[..., BarSeries], trades: TradeSeries, arg: float) -> None:
    closed = build(trades, arg)
    with_partial = build(trades, arg, include_partial=True)
    _well_formed(closed)
    _well_formed(with_partial)
    assert len(with_partial) - len(closed) in (0, 1)
    _same(closed, with_partial.slice(0, len(closed)))
    assert with_partial.volume.sum() == trades.size.sum()  # sizes are exact binary floats


def _reference_ends(trades: TradeSeries, closes: Callable[[int, int], bool]) -> list[int]:
    """End (exclusive) of each closed bar: the first trade at which ``closes(start, i)``."""
    ends, start = [], 0
    for i in range(len(trades)):
        if closes(start, i):
            ends.append(i + 1)
            start = i + 1
    return ends


def _assert_bars_end_at(bars: BarSeries, trades: TradeSeries, ends: list[int]) -> None:
    assert len(bars) == len(ends)
    starts = [0, *ends][: len(ends)]
    for k, (start, end) in enumerate(zip(starts, ends, strict=True)):
        price = trades.price[start:end]
        assert bars.bar(k)[1:] == (
            int(trades.ts[end - 1]),
            price[0],
            price.max(),
            price.min(),
            price[-1],
            trades.size[start:end].sum(),
        )


@given(trade_series(), st.integers(1, 7))
def test_tick_bars_hold_exactly_n_trades(trades: TradeSeries, n: int) -> None:
    _check_partial_rule(tick_bars, trades, n)
    ends = list(range(n, len(trades) + 1, n))
    _assert_bars_end_at(tick_bars(trades, n), trades, ends)


@given(trade_series(), st.sampled_from([0.5, 1.0, 2.5, 4.0, 16.0]))
def test_volume_bars_close_at_the_first_trade_reaching_the_threshold(
    trades: TradeSeries, threshold: float
) -> None:
    _check_partial_rule(volume_bars, trades, threshold)
    bars = volume_bars(trades, threshold)
    assert np.all(bars.volume >= threshold)
    ends = _reference_ends(trades, lambda s, i: trades.size[s : i + 1].sum() >= threshold)
    _assert_bars_end_at(bars, trades, ends)


@given(trade_series(), st.sampled_from([10.0, 50.0, 200.0]))
def test_dollar_bars_close_at_the_first_trade_reaching_the_value(
    trades: TradeSeries, threshold: float
) -> None:
    _check_partial_rule(dollar_bars, trades, threshold)
    value = trades.price * trades.size
    ends = _reference_ends(trades, lambda s, i: value[s : i + 1].sum() >= threshold)
    _assert_bars_end_at(dollar_bars(trades, threshold), trades, ends)


@given(trade_series(), st.sampled_from([0.25, 1.0, 5.0, 20.0]))
def test_range_bars_close_at_the_first_trade_spanning_the_range(
    trades: TradeSeries, size: float
) -> None:
    _check_partial_rule(range_bars, trades, size)
    bars = range_bars(trades, size)
    assert np.all(bars.high - bars.low >= size)
    p = trades.price
    ends = _reference_ends(trades, lambda s, i: p[s : i + 1].max() - p[s : i + 1].min() >= size)
    _assert_bars_end_at(bars, trades, ends)


@given(trade_series(), st.sampled_from([0.25, 0.5, 1.0, 2.5, 8.0]))
def test_renko_bricks_are_exactly_one_brick_tall_and_chain(
    trades: TradeSeries, brick: float
) -> None:
    _check_partial_rule(renko_bars, trades, brick)
    bars = renko_bars(trades, brick)
    assert np.all(np.abs(bars.close - bars.open) == brick)
    np.testing.assert_array_equal(bars.high, np.maximum(bars.open, bars.close))
    np.testing.assert_array_equal(bars.low, np.minimum(bars.open, bars.close))
    if len(bars):
        grid = (bars.open - trades.price[0]) / brick
        np.testing.assert_array_equal(grid, np.round(grid))
        assert bars.open[0] == trades.price[0]
    same_way = bars.open[1:] == bars.close[:-1]
    reversal = bars.open[1:] == bars.open[:-1]
    assert np.all(same_way | reversal)
    # A reversal brick turns the direction; a continuation keeps it.
    direction = np.sign(bars.close - bars.open)
    np.testing.assert_array_equal(direction[1:] == direction[:-1], same_way)
