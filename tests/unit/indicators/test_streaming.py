"""Each streaming class gives exactly its vectorised function's values, bar by bar.

Exactly means bit for bit (``np.array_equal(..., equal_nan=True)``), on real and
synthetic histories and on Hypothesis-made bars with flat stretches, zero ranges, zero
volumes and price levels from millionths to tens of thousands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid import indicators as qi
from quantgrid.model import FloatArray
from tests.unit.indicators.conftest import Ohlcv


@dataclass(frozen=True)
class Spec:
    """How to run one indicator both ways, and how long its warm-up is."""

    name: str
    vectorised: Callable[[Ohlcv], Any]
    streaming: Callable[[], Any]
    inputs: str  # which columns ``update`` takes, in order: c, hlc, cv or hlcv
    warm_up: int  # bars without a value: ``ready`` turns True on bar warm_up + 1

    def columns(self, m: Ohlcv) -> list[FloatArray]:
        by_letter = {"h": m.high, "l": m.low, "c": m.close, "v": m.volume}
        return [by_letter[letter] for letter in self.inputs]


SPECS = [
    Spec("SMA(10)", lambda m: qi.sma(m.close, 10), lambda: qi.SMA(10), "c", 9),
    Spec("EMA(10)", lambda m: qi.ema(m.close, 10), lambda: qi.EMA(10), "c", 9),
    Spec("EMA(1)", lambda m: qi.ema(m.close, 1), lambda: qi.EMA(1), "c", 0),
    Spec("WMA(10)", lambda m: qi.wma(m.close, 10), lambda: qi.WMA(10), "c", 9),
    Spec("WMA(3)", lambda m: qi.wma(m.close, 3), lambda: qi.WMA(3), "c", 2),
    Spec("RSI(14)", lambda m: qi.rsi(m.close, 14), lambda: qi.RSI(14), "c", 14),
    Spec("MACD()", lambda m: qi.macd(m.close), qi.MACD, "c", 33),
    Spec("MACD(3,7,1)", lambda m: qi.macd(m.close, 3, 7, 1), lambda: qi.MACD(3, 7, 1), "c", 6),
    Spec(
        "BollingerBands(20,2,1.5)",
        lambda m: qi.bollinger_bands(m.close, 20, 2.0, 1.5),
        lambda: qi.BollingerBands(20, 2.0, 1.5),
        "c",
        19,
    ),
    Spec(
        "BollingerBands(2)",
        lambda m: qi.bollinger_bands(m.close, 2),
        lambda: qi.BollingerBands(2),
        "c",
        1,
    ),
    Spec("ATR(14)", lambda m: qi.atr(m.high, m.low, m.close, 14), lambda: qi.ATR(14), "hlc", 14),
    Spec("ATR(1)", lambda m: qi.atr(m.high, m.low, m.close, 1), lambda: qi.ATR(1), "hlc", 1),
    Spec("ADX(14)", lambda m: qi.adx(m.high, m.low, m.close, 14), lambda: qi.ADX(14), "hlc", 27),
    Spec("ADX(2)", lambda m: qi.adx(m.high, m.low, m.close, 2), lambda: qi.ADX(2), "hlc", 3),
    Spec(
        "ChoppinessIndex(14)",
        lambda m: qi.choppiness_index(m.high, m.low, m.close, 14),
        lambda: qi.ChoppinessIndex(14),
        "hlc",
        14,
    ),
    Spec(
        "Stochastic()",
        lambda m: qi.stochastic(m.high, m.low, m.close),
        qi.Stochastic,
        "hlc",
        8,
    ),
    Spec(
        "Stochastic(14,1,5)",
        lambda m: qi.stochastic(m.high, m.low, m.close, 14, 1, 5),
        lambda: qi.Stochastic(14, 1, 5),
        "hlc",
        17,
    ),
    Spec("OBV", lambda m: qi.obv(m.close, m.volume), qi.OBV, "cv", 0),
    Spec("VWAP()", lambda m: qi.vwap(m.high, m.low, m.close, m.volume), qi.VWAP, "hlcv", 0),
    Spec(
        "VWAP(20)",
        lambda m: qi.vwap(m.high, m.low, m.close, m.volume, 20),
        lambda: qi.VWAP(20),
        "hlcv",
        19,
    ),
    Spec(
        "VWAP(3)",
        lambda m: qi.vwap(m.high, m.low, m.close, m.volume, 3),
        lambda: qi.VWAP(3),
        "hlcv",
        2,
    ),
    Spec("ZScore(20)", lambda m: qi.zscore(m.close, 20), lambda: qi.ZScore(20), "c", 19),
    Spec("ZScore(2)", lambda m: qi.zscore(m.close, 2), lambda: qi.ZScore(2), "c", 1),
    Spec("ZScore(7)", lambda m: qi.zscore(m.close, 7), lambda: qi.ZScore(7), "c", 6),
    Spec(
        "RealizedVolatility(20,252)",
        lambda m: qi.realized_volatility(m.close, 20, 252),
        lambda: qi.RealizedVolatility(20, 252),
        "c",
        20,
    ),
]


def _lines(result: Any) -> list[FloatArray]:
    return list(result) if isinstance(result, tuple) else [result]


def _stream(spec: Spec, m: Ohlcv) -> tuple[list[FloatArray], list[bool]]:
    indicator = spec.streaming()
    values: list[Any] = []
    ready: list[bool] = []
    for row in zip(*(column.tolist() for column in spec.columns(m)), strict=True):
        values.append(indicator.update(*row))
        ready.append(indicator.ready)
    if values and isinstance(values[0], tuple):
        lines = [np.array(line, dtype=np.float64) for line in zip(*values, strict=True)]
    else:
        lines = [np.array(values, dtype=np.float64)]
    return lines, ready


def assert_stream_equals_vectorised(spec: Spec, m: Ohlcv) -> None:
    expected = _lines(spec.vectorised(m))
    got, ready = _stream(spec, m)
    if len(m) == 0:
        assert all(line.shape == (0,) for line in expected)
        return
    assert len(got) == len(expected)
    for streamed, vectorised in zip(got, expected, strict=True):
        assert np.array_equal(streamed, vectorised, equal_nan=True), spec.name
    assert ready == [k > spec.warm_up for k in range(1, len(m) + 1)], spec.name


@pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
def test_stream_equals_vectorised_on_market_history(market: Ohlcv, spec: Spec) -> None:
    assert_stream_equals_vectorised(spec, market)


@pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
def test_warm_up_is_nan_and_then_values_start(goog: Ohlcv, spec: Spec) -> None:
    lines = _lines(spec.vectorised(goog))
    for line in lines[:1]:  # the first line carries the indicator's full warm-up
        assert np.isnan(line[: spec.warm_up]).all()
        assert not np.isnan(line[spec.warm_up])


@st.composite
def bars(draw: st.DrawFn) -> Ohlcv:
    """Draw bars with flat stretches, zero ranges and idle (zero-volume) bars."""
    level = draw(st.sampled_from([1e-6, 1.0, 100.0, 25_000.0]))
    # Runs of bars: each run repeats one log move (0.0 makes a flat stretch) and one
    # volume (0.0 makes an idle stretch), so long flat windows are common.
    run = st.tuples(
        st.integers(min_value=1, max_value=30),
        st.one_of(st.just(0.0), st.floats(-0.08, 0.08, allow_subnormal=False)),
        st.one_of(st.just(0.0), st.floats(0.0, 1e6, allow_subnormal=False)),
    )
    runs = draw(st.lists(run, max_size=12))
    steps = [move for length, move, _ in runs for _ in range(length)]
    n = len(steps)
    volume = np.array([size for length, _, size in runs for _ in range(length)], dtype=np.float64)
    # Quote in ticks of a hundredth of the level, so equal closes are common.
    ticks = np.maximum(np.round(100.0 * np.exp(np.cumsum(steps))), 1.0)
    close = (ticks * (level / 100.0)).astype(np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    wick = st.one_of(st.just(0.0), st.floats(0.0, 0.05, allow_subnormal=False))
    up = np.array(draw(st.lists(wick, min_size=n, max_size=n)), dtype=np.float64)
    down = np.array(draw(st.lists(wick, min_size=n, max_size=n)), dtype=np.float64)
    high = np.maximum(open_, close) * (1.0 + up)
    low = np.minimum(open_, close) * (1.0 - down)
    return Ohlcv("hypothesis", high, low, close, volume)


@settings(max_examples=25, deadline=None)
@given(m=bars())
def test_stream_equals_vectorised_on_generated_bars(m: Ohlcv) -> None:
    for spec in SPECS:
        assert_stream_equals_vectorised(spec, m)


def test_multi_output_values_are_named_tuples_of_floats() -> None:
    macd = qi.MACD(2, 3, 1)
    assert isinstance(macd.value, qi.MACDOutput)
    assert all(math.isnan(v) for v in macd.value)
    for x in (1.0, 2.0, 4.0, 3.0):
        out = macd.update(x)
    assert isinstance(out, qi.MACDOutput)
    assert out is macd.value
    assert out.histogram == out.macd - out.signal
    assert all(isinstance(v, float) for v in out)

    bands = qi.BollingerBands(2)
    bands.update(1.0)
    middle, upper, lower = bands.update(3.0)
    assert (middle, upper, lower) == (2.0, 4.0, 0.0)


def test_streams_keep_state_per_instance(goog: Ohlcv) -> None:
    first, second = qi.ADX(14), qi.ADX(14)
    rows: Sequence[tuple[float, float, float]] = list(
        zip(goog.high.tolist(), goog.low.tolist(), goog.close.tolist(), strict=True)
    )[:200]
    for row in rows:
        first.update(*row)
    for row in rows[:100]:
        second.update(*row)
    assert first.value != second.value
    for row in rows[100:]:
        second.update(*row)
    assert first.value == second.value
