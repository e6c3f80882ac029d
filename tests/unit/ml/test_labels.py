"""Labels: hand-computed cases, a plain reference for the triple barrier, and invariants."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.indicators import realized_volatility
from quantgrid.ml import (
    Barrier,
    Labels,
    fixed_horizon_labels,
    meta_labels,
    triple_barrier_labels,
)
from quantgrid.model import BarSeries, FloatArray
from tests.conftest import make_bars

STEP = 60_000_000_000
T0 = 1_704_067_200_000_000_000


def ohlc(*bars: tuple[float, float, float, float]) -> BarSeries:
    """Build bars from (open, high, low, close) rows, one minute apart."""
    o, h, lo, c = (np.array(column, dtype=np.float64) for column in zip(*bars, strict=True))
    ts = T0 + STEP * np.arange(len(bars), dtype=np.int64)
    return BarSeries.from_arrays("X", ts, o, h, lo, c)


# -- fixed horizon ------------------------------------------------------------------------
def test_fixed_horizon_by_hand() -> None:
    bars = make_bars([100.0, 110.0, 99.0, 99.0, 120.0])

    labels = fixed_horizon_labels(bars, horizon=2, threshold=0.05)

    assert np.allclose(labels.ret[:3], [math.log(0.99), math.log(0.9), math.log(120 / 99)])
    assert np.isnan(labels.ret[3:]).all()
    assert labels.label.tolist() == [0, -1, 1, 0, 0]
    assert labels.valid.tolist() == [True, True, True, False, False]
    assert labels.t1.tolist() == [*bars.ts[2:].tolist(), bars.ts[-1], bars.ts[-1]]
    assert labels.barrier.tolist() == [Barrier.TIME_LIMIT] * 3 + [Barrier.NONE] * 2
    assert labels.side.tolist() == [1] * 5
    assert labels.ts.tolist() == bars.ts.tolist()


def test_fixed_horizon_on_closes_with_a_per_bar_threshold_and_sides() -> None:
    close = np.array([100.0, 101.0, 103.0, 100.0, 100.0])
    ts = np.arange(5, dtype=np.int64) * 10

    labels = fixed_horizon_labels(
        close,
        1,
        threshold=np.array([0.02, 0.0, np.nan, 0.0, 0.0]),
        ts=ts,
        side=[1, -1, 1, 0, 1],
    )

    assert labels.ret[0] == pytest.approx(math.log(1.01))
    assert labels.ret[1] == pytest.approx(-math.log(103 / 101))  # a short loses on a rise
    assert labels.label.tolist() == [0, -1, 0, 0, 0]  # 1 % is within the 2 % threshold
    # unknown threshold, no trade, and no next bar make three invalid rows
    assert labels.valid.tolist() == [True, True, False, False, False]
    assert labels.t1.tolist() == [10, 20, 40, 40, 40]


@settings(deadline=None)
@given(
    moves=st.lists(st.floats(-0.05, 0.05, allow_subnormal=False), min_size=1, max_size=80),
    horizon=st.integers(1, 12),
    threshold=st.sampled_from([0.0, 0.001, 0.02]),
    sides=st.lists(st.sampled_from([-1, 0, 1]), min_size=81, max_size=81),
)
def test_fixed_horizon_invariants(
    moves: list[float], horizon: int, threshold: float, sides: list[int]
) -> None:
    close = 100.0 * np.exp(np.cumsum([0.0, *moves]))
    n = close.shape[0]
    ts = np.cumsum(np.arange(1, n + 1, dtype=np.int64))
    side = np.array(sides[:n])

    labels = fixed_horizon_labels(close, horizon, threshold, ts=ts, side=side)

    i = np.arange(n)
    assert labels.valid.tolist() == ((i < n - horizon) & (side != 0)).tolist()
    assert (labels.t1 >= labels.ts).all()
    v = labels.valid
    assert np.array_equal(labels.t1[v], ts[i[v] + horizon])
    assert np.allclose(labels.ret[v], side[v] * np.log(close[i[v] + horizon] / close[v]))
    assert np.isnan(labels.ret[~v]).all()
    assert (labels.label[~v] == 0).all()
    expected = np.where(labels.ret[v] > threshold, 1, np.where(labels.ret[v] < -threshold, -1, 0))
    assert np.array_equal(labels.label[v], expected)


# -- triple barrier: hand-computed --------------------------------------------------------
ENTRY = (100.0, 100.0, 100.0, 100.0)  # bar 0: entry at its close, 100
QUIET = (100.0, 101.0, 99.0, 100.0)  # touches no 5 % barrier
TP, SL = 0.05, 0.05  # log-return barriers: profit at 105.127, stop at 95.123


def first(labels: Labels) -> dict[str, Any]:
    return {
        "ret": float(labels.ret[0]),
        "label": int(labels.label[0]),
        "barrier": Barrier(int(labels.barrier[0])),
        "t1": int(labels.t1[0]),
        "valid": bool(labels.valid[0]),
    }


@pytest.mark.parametrize(
    ("path", "side", "ret", "label", "barrier", "exit_bar"),
    [
        # take-profit touched within bar 2: exit at the barrier, ret is the barrier
        ([QUIET, (100, 106, 100, 104)], 1, TP, 1, Barrier.TAKE_PROFIT, 2),
        # stop touched within bar 1
        ([(100, 101, 94, 96)], 1, -SL, -1, Barrier.STOP_LOSS, 1),
        # both barriers within bar 1, opening between them: the stop is assumed first
        ([(100, 106, 94, 100)], 1, -SL, -1, Barrier.STOP_LOSS, 1),
        # bar 1 opens above the profit barrier: filled at the open
        ([(107, 108, 106.5, 107)], 1, math.log(1.07), 1, Barrier.TAKE_PROFIT, 1),
        # bar 1 opens below the stop, then spikes through the profit barrier: stop at open
        ([(90, 110, 89, 109)], 1, math.log(0.9), -1, Barrier.STOP_LOSS, 1),
        # no touch within 3 bars: the close of bar 3, with its sign as the label
        ([QUIET, QUIET, (100, 103, 100, 102)], 1, math.log(1.02), 1, Barrier.TIME_LIMIT, 3),
        ([QUIET, QUIET, QUIET], 1, 0.0, 0, Barrier.TIME_LIMIT, 3),
        # a short: a fall to 94 takes its profit, a rise to 106 stops it out
        ([(100, 101, 94, 96)], -1, TP, 1, Barrier.TAKE_PROFIT, 1),
        ([QUIET, (100, 106, 99, 105)], -1, -SL, -1, Barrier.STOP_LOSS, 2),
        ([(100, 106, 94, 100)], -1, -SL, -1, Barrier.STOP_LOSS, 1),
        ([QUIET, QUIET, (100, 103, 100, 102)], -1, -math.log(1.02), -1, Barrier.TIME_LIMIT, 3),
    ],
)
def test_triple_barrier_by_hand(
    path: list[tuple[float, float, float, float]],
    side: int,
    ret: float,
    label: int,
    barrier: Barrier,
    exit_bar: int,
) -> None:
    bars = ohlc(ENTRY, *path, *[QUIET] * (4 - len(path)))

    got = first(triple_barrier_labels(bars, 3, TP, SL, side=np.full(len(bars), side)))

    assert got["ret"] == pytest.approx(ret, abs=1e-15)
    assert (got["label"], got["barrier"], got["valid"]) == (label, barrier, True)
    assert got["t1"] == int(bars.ts[exit_bar])


def test_barriers_scale_with_the_volatility_at_entry() -> None:
    bars = ohlc(ENTRY, QUIET, (100, 103.5, 100, 103))
    vol = np.array([0.01, 0.02, 0.02])

    labels = triple_barrier_labels(bars, 2, take_profit=3.0, stop_loss=2.0, volatility=vol)

    # row 0: 3 * 1 % = 3 % profit barrier (103.05), touched in bar 2
    assert first(labels)["barrier"] == Barrier.TAKE_PROFIT
    assert labels.ret[0] == pytest.approx(0.03, abs=1e-15)
    # row 1: 6 % barrier not reached, and bar 3 does not exist: no outcome
    assert labels.valid.tolist() == [True, False, False]
    assert labels.t1[1] == labels.ts[-1]
    assert labels.barrier[1] == Barrier.NONE


def test_a_touch_before_the_data_ends_is_a_valid_label_at_the_tail() -> None:
    bars = ohlc(ENTRY, QUIET, (100, 101, 90, 91))

    labels = triple_barrier_labels(bars, 10, TP, SL)

    assert labels.valid.tolist() == [True, True, False]
    assert labels.barrier.tolist() == [Barrier.STOP_LOSS, Barrier.STOP_LOSS, Barrier.NONE]
    assert labels.t1.tolist() == [bars.ts[2]] * 3


def test_no_trade_unknown_volatility_and_removed_barriers() -> None:
    bars = ohlc(ENTRY, (100, 200, 50, 150), QUIET)

    no_trade = triple_barrier_labels(bars, 1, TP, SL, side=[0, 1, 1])
    unknown_vol = triple_barrier_labels(bars, 1, 1.0, 1.0, volatility=[np.nan, 0.1, 0.1])
    no_barriers = triple_barrier_labels(bars, 1, math.inf, math.inf)

    assert no_trade.valid.tolist() == [False, True, False]
    assert unknown_vol.valid.tolist() == [False, True, False]
    assert first(no_barriers) == {
        "ret": pytest.approx(math.log(1.5)),
        "label": 1,
        "barrier": Barrier.TIME_LIMIT,
        "t1": int(bars.ts[1]),
        "valid": True,
    }


# -- triple barrier: against a plain reference --------------------------------------------
def reference_triple_barrier(
    bars: BarSeries,
    horizon: int,
    tp: float,
    sl: float,
    vol: FloatArray,
    side: np.ndarray,
) -> list[tuple[bool, int, int, float]]:
    """Walk every trade bar by bar in plain Python: (valid, exit bar, barrier, ret)."""
    n = len(bars)
    rows: list[tuple[bool, int, int, float]] = []
    for i in range(n):
        s = int(side[i])
        if s == 0 or math.isnan(vol[i]):
            rows.append((False, -1, 0, math.nan))
            continue
        entry = bars.close[i]
        up = tp * vol[i] if tp != math.inf else math.inf
        down = sl * vol[i] if sl != math.inf else math.inf
        outcome = None
        for j in range(i + 1, min(i + horizon, n - 1) + 1):
            # the trade's return at the open, best and worst price of bar j
            at_open = s * math.log(bars.open[j] / entry)
            prices = (bars.high[j], bars.low[j])
            best = max(s * math.log(p / entry) for p in prices)
            worst = min(s * math.log(p / entry) for p in prices)
            if at_open <= -down:
                outcome = (True, j, 2, at_open)
            elif at_open >= up:
                outcome = (True, j, 1, at_open)
            elif worst <= -down:
                outcome = (True, j, 2, -down)
            elif best >= up:
                outcome = (True, j, 1, up)
            if outcome:
                break
        if outcome is None and i + horizon < n:
            outcome = (True, i + horizon, 3, s * math.log(bars.close[i + horizon] / entry))
        rows.append(outcome or (False, -1, 0, math.nan))
    return rows


def market(n: int, seed: int) -> BarSeries:
    config = SyntheticConfig(instruments=("SYN",), bars=n)
    return generate_market(config, seed=seed).bars["SYN"]


@settings(deadline=None)
@given(
    seed=st.integers(0, 1_000),
    horizon=st.integers(1, 30),
    tp=st.sampled_from([0.0, 0.5, 1.0, 2.5, math.inf]),
    sl=st.sampled_from([0.0, 0.5, 1.0, 2.0, math.inf]),
    sided=st.booleans(),
)
def test_triple_barrier_equals_the_reference_and_keeps_its_invariants(
    seed: int, horizon: int, tp: float, sl: float, sided: bool
) -> None:
    bars = market(300, seed)
    n = len(bars)
    vol = realized_volatility(bars.close, 10)
    side = np.random.default_rng(seed).choice([-1, 0, 1], n) if sided else np.ones(n)

    labels = triple_barrier_labels(bars, horizon, tp, sl, volatility=vol, side=side)
    expected = reference_triple_barrier(bars, horizon, tp, sl, vol, side)

    valid, exit_bar, barrier, ret = (np.array(column) for column in zip(*expected, strict=True))
    assert np.array_equal(labels.valid, valid)
    assert np.array_equal(labels.barrier, barrier)
    assert np.allclose(labels.ret, ret, equal_nan=True, rtol=0, atol=1e-12)
    assert np.array_equal(labels.t1[valid], bars.ts[exit_bar[valid]])
    # t1 is after the entry and no later than the time limit
    i = np.arange(n)
    assert (labels.t1 >= labels.ts).all()
    assert (labels.t1[valid] <= bars.ts[np.minimum(i[valid] + horizon, n - 1)]).all()
    # invalid trades with a known volatility are only those the data ends on
    tradable = (side != 0) & ~np.isnan(vol)
    assert (i[tradable & ~labels.valid] > n - 1 - horizon).all()
    assert np.isnan(labels.ret[~labels.valid]).all()
    labelled = {
        Barrier.TAKE_PROFIT: labels.label[labels.barrier == Barrier.TAKE_PROFIT],
        Barrier.STOP_LOSS: labels.label[labels.barrier == Barrier.STOP_LOSS],
    }
    assert (labelled[Barrier.TAKE_PROFIT] == 1).all()
    assert (labelled[Barrier.STOP_LOSS] == -1).all()


@settings(deadline=None)
@given(seed=st.integers(0, 1_000), horizon=st.integers(1, 30))
def test_without_barriers_the_triple_barrier_is_the_fixed_horizon(seed: int, horizon: int) -> None:
    bars = market(200, seed)
    side = np.random.default_rng(seed).choice([-1, 0, 1], len(bars))

    barrier = triple_barrier_labels(bars, horizon, math.inf, math.inf, side=side)
    fixed = fixed_horizon_labels(bars, horizon, side=side)

    assert np.array_equal(barrier.valid, fixed.valid)
    assert np.array_equal(barrier.t1, fixed.t1)
    assert np.array_equal(barrier.label, fixed.label)
    assert np.array_equal(barrier.barrier, fixed.barrier)
    assert np.allclose(barrier.ret, fixed.ret, equal_nan=True, rtol=0, atol=1e-14)


# -- meta-labels --------------------------------------------------------------------------
def test_meta_labels_by_hand() -> None:
    bars = make_bars([100.0, 110.0, 99.0, 99.5, 120.0, 121.0])
    side = np.array([1, 1, -1, 0, 1, -1])
    labels = fixed_horizon_labels(bars, 1, threshold=0.01, side=side)

    meta = meta_labels(side, labels)

    # long 100→110 won; long 110→99 lost; short 99→99.5 lost; no trade; long 120→121
    # gained less than the 1 % threshold; the last bar has no next bar.
    assert meta.label.tolist() == [1, 0, 0, 0, 0, 0]
    assert meta.valid.tolist() == [True, True, True, False, True, False]
    assert np.allclose(meta.ret[[0, 1, 2, 4]], labels.ret[[0, 1, 2, 4]])
    assert np.isnan(meta.ret[[3, 5]]).all()
    assert meta.side.tolist() == side.tolist()


def test_meta_labels_of_a_triple_barrier() -> None:
    bars = ohlc(ENTRY, (100, 101, 94, 96), (96, 97, 95, 96), (96, 97, 95, 96))
    side = np.array([-1, 1, 0, 1])
    labels = triple_barrier_labels(bars, 2, TP, SL, side=side)

    meta = meta_labels(side, labels)

    # row 0: a short takes its profit on the fall; row 1: a long from 96 times out flat
    assert meta.label.tolist()[:2] == [1, 0]
    assert meta.valid.tolist() == [True, True, False, False]


def test_meta_labels_refuse_labels_made_for_another_side() -> None:
    bars = make_bars([100.0, 110.0, 99.0, 99.5])
    labels = triple_barrier_labels(bars, 1, TP, SL)  # long everywhere

    with pytest.raises(ValueError, match=r"another side at 1 bars .*compute them with side=side"):
        meta_labels([1, -1, 0, 1], labels)
    with pytest.raises(ValueError, match="side must be one-dimensional with 4 values"):
        meta_labels([1, 1], labels)


# -- bad input ----------------------------------------------------------------------------
GOOD = make_bars([100.0, 101.0, 102.0, 101.0, 103.0])


def with_close(value: float, i: int = 2) -> BarSeries:
    close = GOOD.close.copy()
    close[i] = value
    return BarSeries.from_arrays("X", GOOD.ts, GOOD.open, GOOD.high, GOOD.low, close)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fixed_horizon_labels(GOOD, 0), r"horizon must be a whole number of bars >= 1"),
        (lambda: fixed_horizon_labels(GOOD, 1.5), "horizon"),
        (lambda: fixed_horizon_labels(GOOD, True), "horizon"),
        (lambda: fixed_horizon_labels(GOOD, 1, -0.1), r"threshold must be a finite number >= 0"),
        (lambda: fixed_horizon_labels(GOOD, 1, [0.1, 0.1]), r"one value per bar \(5\)"),
        (lambda: fixed_horizon_labels(GOOD, 1, np.full(5, -1.0)), "threshold must be >= 0"),
        (lambda: fixed_horizon_labels(GOOD, 1, ts=GOOD.ts), "pass ts only with an array"),
        (lambda: fixed_horizon_labels(GOOD.close, 1), "ts is required"),
        (
            lambda: fixed_horizon_labels(GOOD.close, 1, ts=GOOD.ts[:4]),
            r"ts must be one-dimensional with 5 values",
        ),
        (
            lambda: fixed_horizon_labels(GOOD.close, 1, ts=GOOD.ts[::-1].copy()),
            r"ts must be strictly increasing, but ts\[1\] <= ts\[0\]",
        ),
        (
            lambda: fixed_horizon_labels(GOOD.close, 1, ts=GOOD.ts.astype(float)),
            "ts must be integer nanoseconds",
        ),
        (
            lambda: fixed_horizon_labels(with_close(math.nan), 1),
            r"close must be finite and > 0, but close\[2\] is nan",
        ),
        (lambda: fixed_horizon_labels(with_close(-1.0), 1), r"close\[2\] is -1.0"),
        (lambda: fixed_horizon_labels(GOOD, 1, side=[1, 2, 1, 1, 1]), "side must hold only"),
        (lambda: fixed_horizon_labels(GOOD, 1, side=[1, 1]), "side must be one-dimensional"),
        (
            lambda: triple_barrier_labels(GOOD, 0, 1.0, 1.0),
            r"triple_barrier_labels: horizon must be",
        ),
        (lambda: triple_barrier_labels(GOOD, 2, -0.1, 1.0), r"take_profit must be a number >= 0"),
        (lambda: triple_barrier_labels(GOOD, 2, 1.0, math.nan), r"stop_loss must be a number"),
        (
            lambda: triple_barrier_labels(GOOD, 2, 1.0, 1.0, volatility=np.full(5, -0.01)),
            r"volatility must be finite and >= 0",
        ),
        (
            lambda: triple_barrier_labels(GOOD, 2, 1.0, 1.0, volatility=np.ones(3)),
            r"volatility must have one value per bar \(5\)",
        ),
        (
            lambda: triple_barrier_labels(GOOD, 2, 1.0, 1.0, side=[1, -1, 0.5, 1, 1]),
            "side must hold only -1",
        ),
        (
            lambda: triple_barrier_labels(with_close(math.inf), 2, 1.0, 1.0),
            r"close must be finite and > 0",
        ),
        (
            lambda: triple_barrier_labels(
                BarSeries.from_arrays(
                    "X", GOOD.ts[[0, 0, 2, 3, 4]], GOOD.open, GOOD.high, GOOD.low, GOOD.close
                ),
                2,
                1.0,
                1.0,
            ),
            r"ts must be strictly increasing, but ts\[1\] <= ts\[0\]",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_argument_and_rule(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_labels_refuse_mismatched_columns() -> None:
    labels = fixed_horizon_labels(GOOD, 1)

    with pytest.raises(ValueError, match=r"Labels: label must be a int8 array of 5 rows"):
        Labels(
            labels.ts,
            labels.t1,
            labels.ret,
            labels.label.astype(np.int64),
            labels.barrier,
            labels.side,
            labels.valid,
        )
    with pytest.raises(ValueError, match=r"Labels: valid must be a bool array of 5 rows"):
        Labels(
            labels.ts,
            labels.t1,
            labels.ret,
            labels.label,
            labels.barrier,
            labels.side,
            labels.valid[:4],
        )


def test_no_bars_give_no_labels() -> None:
    empty = BarSeries.from_arrays("X", [], [], [], [], [])

    assert len(fixed_horizon_labels(empty, 3)) == 0
    assert len(triple_barrier_labels(empty, 3, 1.0, 1.0)) == 0
