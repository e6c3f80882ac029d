"""Renko bricks on hand-computed paths: continuation, reversal, gaps, partial brick."""

from __future__ import annotations

import numpy as np

from quantgrid.bars import TradeSeries, renko_bars
from quantgrid.model import BarSeries


def _trades(prices: list[float], sizes: list[float] | None = None) -> TradeSeries:
    n = len(prices)
    return TradeSeries.from_arrays("X", np.arange(1, n + 1), prices, sizes or [1.0] * n)


def _bricks(bars: BarSeries) -> list[tuple[int, float, float, float]]:
    return [
        (int(t), o, c, v)
        for t, o, c, v in zip(bars.ts, bars.open, bars.close, bars.volume, strict=True)
    ]


def test_continuation_reversal_and_a_gap() -> None:
    trades = _trades([10.0, 11.0, 12.0, 11.0, 13.0, 8.0, 9.0], [1.0, 2.0, 3.0, 1.0, 1.0, 5.0, 2.0])
    bars = renko_bars(trades, 1.0)
    assert _bricks(bars) == [
        (2, 10.0, 11.0, 3.0),  # one brick up from the first price
        (3, 11.0, 12.0, 3.0),
        # 11 is only one brick down from 12: no reversal yet.
        (5, 12.0, 13.0, 2.0),
        # 8 reverses: the first down brick opens at the last brick's open (12), and one
        # trade draws four bricks with its ts; the volume goes on the first.
        (6, 12.0, 11.0, 5.0),
        (6, 11.0, 10.0, 0.0),
        (6, 10.0, 9.0, 0.0),
        (6, 9.0, 8.0, 0.0),
    ]
    np.testing.assert_array_equal(bars.high, np.maximum(bars.open, bars.close))
    np.testing.assert_array_equal(bars.low, np.minimum(bars.open, bars.close))
    # 9 is one brick up from 8: a reversal needs 10, so it is left as the partial bar.
    partial = renko_bars(trades, 1.0, include_partial=True)
    assert len(partial) == len(bars) + 1
    assert partial.bar(len(bars))[1:] == (7, 8.0, 9.0, 8.0, 9.0, 2.0)


def test_reaching_a_boundary_is_enough_and_a_reversal_needs_two_bricks() -> None:
    bars = renko_bars(_trades([100.0, 102.0, 101.0, 100.0, 99.5, 101.9, 102.0]), 1.0)
    assert _bricks(bars) == [
        (2, 100.0, 101.0, 2.0),
        (2, 101.0, 102.0, 0.0),
        (4, 101.0, 100.0, 2.0),  # 101 was not enough to reverse, 100 is
        (7, 101.0, 102.0, 3.0),  # 99.5 is half a brick, 101.9 short of the reversal
    ]


def test_first_brick_down_and_several_bricks_from_one_trade() -> None:
    bars = renko_bars(_trades([50.0, 48.9]), 0.5)
    assert _bricks(bars) == [(2, 50.0, 49.5, 2.0), (2, 49.5, 49.0, 0.0)]


def test_no_brick_yet_gives_only_the_partial_bar() -> None:
    trades = _trades([10.0, 10.4, 9.7, 10.2], [1.0, 2.0, 3.0, 4.0])
    assert len(renko_bars(trades, 0.5)) == 0
    partial = renko_bars(trades, 0.5, include_partial=True)
    assert partial.bar(0)[1:] == (4, 10.0, 10.4, 9.7, 10.2, 10.0)


def test_bricks_sit_on_the_grid_of_the_first_price_with_an_inexact_brick() -> None:
    rng = np.random.default_rng(5)
    prices = list(np.round(20.0 + np.cumsum(rng.normal(0.0, 0.05, 2_000)), 3))
    bars = renko_bars(_trades(prices), 0.1)
    assert len(bars) > 20
    np.testing.assert_allclose(np.abs(bars.close - bars.open), 0.1, rtol=1e-9)
    levels = (bars.open - prices[0]) / 0.1
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-6)
    # Each brick opens where the last one closed, or where it opened after a reversal.
    follows = np.isclose(bars.open[1:], bars.close[:-1])
    reverses = np.isclose(bars.open[1:], bars.open[:-1])
    assert np.all(follows | reverses)
