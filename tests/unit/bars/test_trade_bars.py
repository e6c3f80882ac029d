"""Tick, volume, dollar and range bars on small hand-computed cases, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from quantgrid.bars import (
    TradeSeries,
    dollar_bars,
    range_bars,
    renko_bars,
    tick_bars,
    volume_bars,
)
from quantgrid.model import BarSeries, OrderSide, TradeTick

# ts      1     2     3     4     5     6     7
PRICE = [10.0, 11.0, 12.0, 11.0, 13.0, 8.0, 9.0]
SIZE = [1.0, 2.0, 3.0, 1.0, 1.0, 5.0, 2.0]
TRADES = TradeSeries.from_arrays("X", np.arange(1, 8), PRICE, SIZE)


def _rows(bars: BarSeries) -> list[tuple[float, ...]]:
    return [
        (int(t), o, h, lo, c, v)
        for t, o, h, lo, c, v in zip(
            bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True
        )
    ]


def test_tick_bars() -> None:
    assert _rows(tick_bars(TRADES, 3)) == [
        (3, 10.0, 12.0, 10.0, 12.0, 6.0),
        (6, 11.0, 13.0, 8.0, 8.0, 7.0),
    ]
    assert _rows(tick_bars(TRADES, 3, include_partial=True))[-1] == (7, 9.0, 9.0, 9.0, 9.0, 2.0)
    assert len(tick_bars(TRADES, 7)) == 1
    assert len(tick_bars(TRADES, 8)) == 0
    assert len(tick_bars(TRADES, 8, include_partial=True)) == 1


def test_volume_bars_keep_the_crossing_trade_whole_and_restart_from_zero() -> None:
    # 1+2 = 3 closes bar 1 exactly; 3 alone closes bar 2; 1+1+5 = 7 overshoots and
    # closes bar 3 with all of the size-5 trade; the 2 left over is the partial bar.
    assert _rows(volume_bars(TRADES, 3.0)) == [
        (2, 10.0, 11.0, 10.0, 11.0, 3.0),
        (3, 12.0, 12.0, 12.0, 12.0, 3.0),
        (6, 11.0, 13.0, 8.0, 8.0, 7.0),
    ]
    assert _rows(volume_bars(TRADES, 3.0, include_partial=True))[-1] == (
        7, 9.0, 9.0, 9.0, 9.0, 2.0,
    )  # fmt: skip


def test_volume_bars_do_not_add_a_partial_bar_when_the_last_trade_closes_one() -> None:
    closed = volume_bars(TRADES, 1.0)
    assert len(closed) == 7
    assert len(volume_bars(TRADES, 1.0, include_partial=True)) == 7


def test_dollar_bars_weigh_trades_by_price_times_size() -> None:
    # Values: 10, 22, 36, 11, 13, 40, 18.
    assert _rows(dollar_bars(TRADES, 32.0)) == [
        (2, 10.0, 11.0, 10.0, 11.0, 3.0),  # 10 + 22 = 32
        (3, 12.0, 12.0, 12.0, 12.0, 3.0),  # 36
        (6, 11.0, 13.0, 8.0, 8.0, 7.0),  # 11 + 13 + 40 = 64; volume is size, not value
    ]
    assert _rows(dollar_bars(TRADES, 1_000.0, include_partial=True)) == [
        (7, 10.0, 13.0, 8.0, 9.0, 15.0),
    ]


def test_range_bars_close_when_high_minus_low_reaches_the_range() -> None:
    # 10, 11, 12 spans 2; 11, 13 spans 2; 8, 9 spans 1 (partial).
    assert _rows(range_bars(TRADES, 2.0)) == [
        (3, 10.0, 12.0, 10.0, 12.0, 6.0),
        (5, 11.0, 13.0, 11.0, 13.0, 2.0),
    ]
    assert _rows(range_bars(TRADES, 3.0)) == [(5, 10.0, 13.0, 10.0, 13.0, 8.0)]
    assert _rows(range_bars(TRADES, 3.0, include_partial=True)) == [
        (5, 10.0, 13.0, 10.0, 13.0, 8.0),
        (7, 8.0, 9.0, 8.0, 9.0, 7.0),
    ]
    # A jump closes the bar at the trade's own price, so its range (6) exceeds 2.
    gap = TradeSeries.from_arrays("X", [1, 2, 3], [10.0, 10.5, 16.0], [1.0, 1.0, 1.0])
    assert _rows(range_bars(gap, 2.0)) == [(3, 10.0, 16.0, 10.0, 16.0, 3.0)]


BUILDERS: list[tuple[Callable[..., BarSeries], Any]] = [
    (tick_bars, 2),
    (volume_bars, 2.5),
    (dollar_bars, 25.0),
    (range_bars, 1.5),
    (renko_bars, 1.0),
]


@pytest.mark.parametrize(("build", "arg"), BUILDERS)
@pytest.mark.parametrize("include_partial", [False, True])
def test_trade_ticks_and_bar_series_give_the_same_bars_as_trade_columns(
    build: Callable[..., BarSeries], arg: Any, include_partial: bool
) -> None:
    expected = build(TRADES, arg, include_partial=include_partial)
    ticks = [
        TradeTick("X", int(t), p, s, OrderSide.BUY, str(i))
        for i, (t, p, s) in enumerate(zip(TRADES.ts, PRICE, SIZE, strict=True))
    ]
    noise = np.linspace(1.0, 2.0, 7)  # open/high/low of input bars are not used
    bars = BarSeries.from_arrays(
        "X", TRADES.ts, np.array(PRICE) - noise, np.array(PRICE) + noise,
        np.array(PRICE) - noise, PRICE, SIZE,
    )  # fmt: skip
    for source in (ticks, tuple(ticks), bars):
        got = build(source, arg, include_partial=include_partial)
        assert got.instrument_id == "X"
        assert _rows(got) == _rows(expected)


@pytest.mark.parametrize(("build", "arg"), BUILDERS)
def test_no_trades_give_no_bars(build: Callable[..., BarSeries], arg: Any) -> None:
    empty = TradeSeries.from_arrays("Y", [], [], [])
    for source in (empty, []):
        for include_partial in (False, True):
            assert len(build(source, arg, include_partial=include_partial)) == 0
    assert build(empty, arg).instrument_id == "Y"


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (volume_bars, "volume_per_bar"),
        (dollar_bars, "value_per_bar"),
        (range_bars, "range_size"),
        (renko_bars, "brick_size"),
    ],
)
@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "1", None])
def test_refuses_a_threshold_that_is_not_positive_and_finite(
    build: Callable[..., BarSeries], name: str, bad: object
) -> None:
    with pytest.raises(ValueError, match=f"{build.__name__}: {name} must be a finite number > 0"):
        build(TRADES, bad)


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "2", None])
def test_tick_bars_refuse_a_count_that_is_not_a_whole_number(bad: object) -> None:
    with pytest.raises(ValueError, match="tick_bars: ticks_per_bar must be a whole number >= 1"):
        tick_bars(TRADES, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("build", "arg"), BUILDERS)
def test_refuses_bad_trades(build: Callable[..., BarSeries], arg: Any) -> None:
    fn = build.__name__
    ts = np.array([1, 2, 3, 2, 5])
    with pytest.raises(ValueError, match=rf"{fn}: trades.ts must be non-decreasing.*row 3"):
        build(TradeSeries.from_arrays("X", ts, [1.0] * 5, [1.0] * 5), arg)
    with pytest.raises(ValueError, match=rf"{fn}: trades.price must be finite.*row 1"):
        build(TradeSeries.from_arrays("X", [1, 2], [1.0, np.nan], [1.0, 1.0]), arg)
    with pytest.raises(ValueError, match=rf"{fn}: trades.size must be >= 0.*row 0"):
        build(TradeSeries.from_arrays("X", [1, 2], [1.0, 1.0], [-1.0, 1.0]), arg)
    with pytest.raises(ValueError, match=rf"{fn}: bars.volume must be finite.*row 1"):
        build(BarSeries.from_arrays("X", [1, 2], [1, 1], [1, 1], [1, 1], [1, 1], [1, np.inf]), arg)
    with pytest.raises(ValueError, match=rf"{fn}: trades\[\].ts_event must be non-decreasing"):
        build([TradeTick("X", 2, 1.0, 1.0), TradeTick("X", 1, 1.0, 1.0)], arg)
    with pytest.raises(ValueError, match=rf"{fn}: trades must share one instrument_id"):
        build([TradeTick("X", 1, 1.0, 1.0), TradeTick("Y", 2, 1.0, 1.0)], arg)
    with pytest.raises(TypeError, match=rf"{fn}: trades must be a TradeSeries"):
        build((np.arange(3), np.ones(3), np.ones(3)), arg)
    with pytest.raises(TypeError, match=rf"{fn}: trades must be a TradeSeries"):
        build("trades", arg)


def test_dollar_bars_refuse_prices_that_are_not_positive() -> None:
    trades = TradeSeries.from_arrays("X", [1, 2], [1.0, -1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"dollar_bars: trades.price must be > 0.*row 1"):
        dollar_bars(trades, 10.0)
    bars = BarSeries.from_arrays("X", [1, 2], [1, 1], [1, 1], [0, 0], [1.0, 0.0], [1, 1])
    with pytest.raises(ValueError, match=r"dollar_bars: bars.close must be > 0.*row 1"):
        dollar_bars(bars, 10.0)


def test_trade_series_checks_dtypes_and_lengths() -> None:
    with pytest.raises(TypeError, match="ts must be int64"):
        TradeSeries("X", np.zeros(2), np.zeros(2), np.zeros(2))
    with pytest.raises(TypeError, match="price must be float64"):
        TradeSeries("X", np.zeros(2, np.int64), np.zeros(2, np.int32), np.zeros(2))
    with pytest.raises(ValueError, match="column size has shape"):
        TradeSeries.from_arrays("X", [1, 2], [1.0, 2.0], [1.0])


def test_trade_series_from_ticks() -> None:
    ticks = [TradeTick("X", 5, 10.0, 2.0), TradeTick("X", 6, 11.0, 3.0)]
    series = TradeSeries.from_ticks(ticks)
    assert series.instrument_id == "X"
    assert len(series) == 2
    np.testing.assert_array_equal(series.ts, [5, 6])
    np.testing.assert_array_equal(series.price, [10.0, 11.0])
    np.testing.assert_array_equal(series.size, [2.0, 3.0])
    assert TradeSeries.from_ticks([], "Y").instrument_id == "Y"
    with pytest.raises(ValueError, match=r"TradeSeries\.from_ticks: trades must share one"):
        TradeSeries.from_ticks(ticks, "Z")
