"""Bad parameters and inputs are refused with a ValueError naming the indicator and rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from quantgrid import indicators as qi

X = np.linspace(100.0, 110.0, 50)
HLC = (X + 1.0, X - 1.0, X)
HLCV = (*HLC, np.full(50, 1_000.0))

# (indicator, builder taking one period, smallest valid period, parameter name)
PERIODS: list[tuple[str, Callable[[Any], object], int, str]] = [
    ("sma", lambda p: qi.sma(X, p), 1, "period"),
    ("SMA", qi.SMA, 1, "period"),
    ("ema", lambda p: qi.ema(X, p), 1, "period"),
    ("EMA", qi.EMA, 1, "period"),
    ("wma", lambda p: qi.wma(X, p), 1, "period"),
    ("WMA", qi.WMA, 1, "period"),
    ("rsi", lambda p: qi.rsi(X, p), 1, "period"),
    ("RSI", qi.RSI, 1, "period"),
    ("macd", lambda p: qi.macd(X, p, 40), 2, "fast_period"),
    ("MACD", lambda p: qi.MACD(p, 40), 2, "fast_period"),
    ("macd", lambda p: qi.macd(X, 2, 40, p), 1, "signal_period"),
    ("MACD", lambda p: qi.MACD(2, 40, p), 1, "signal_period"),
    ("bollinger_bands", lambda p: qi.bollinger_bands(X, p), 2, "period"),
    ("BollingerBands", qi.BollingerBands, 2, "period"),
    ("atr", lambda p: qi.atr(*HLC, p), 1, "period"),
    ("ATR", qi.ATR, 1, "period"),
    ("adx", lambda p: qi.adx(*HLC, p), 2, "period"),
    ("ADX", qi.ADX, 2, "period"),
    ("choppiness_index", lambda p: qi.choppiness_index(*HLC, p), 2, "period"),
    ("ChoppinessIndex", qi.ChoppinessIndex, 2, "period"),
    ("stochastic", lambda p: qi.stochastic(*HLC, p), 1, "fastk_period"),
    ("Stochastic", qi.Stochastic, 1, "fastk_period"),
    ("stochastic", lambda p: qi.stochastic(*HLC, 5, p), 1, "slowk_period"),
    ("Stochastic", lambda p: qi.Stochastic(5, 3, p), 1, "slowd_period"),
    ("vwap", lambda p: qi.vwap(*HLCV, p), 1, "period"),
    ("VWAP", qi.VWAP, 1, "period"),
    ("zscore", lambda p: qi.zscore(X, p), 2, "period"),
    ("ZScore", qi.ZScore, 2, "period"),
    ("realized_volatility", lambda p: qi.realized_volatility(X, p), 2, "period"),
    ("RealizedVolatility", qi.RealizedVolatility, 2, "period"),
]


@pytest.mark.parametrize(
    ("indicator", "build", "minimum", "name"),
    PERIODS,
    ids=[f"{indicator}-{name}" for indicator, _, _, name in PERIODS],
)
@pytest.mark.parametrize("bad", ["below", 2.5, True, "3"])
def test_invalid_periods_are_refused(
    indicator: str, build: Callable[[Any], object], minimum: int, name: str, bad: object
) -> None:
    value = minimum - 1 if bad == "below" else bad
    rule = f"{indicator}: {name} must be a whole number >= {minimum}, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(rule)):
        build(value)
    build(minimum)  # the smallest valid period is accepted


@pytest.mark.parametrize("build", [lambda: qi.macd(X, 12, 12), lambda: qi.MACD(26, 12)])
def test_macd_needs_a_slow_period_longer_than_the_fast(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="slow_period must be greater than fast_period"):
        build()


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), "2", True])
@pytest.mark.parametrize("name", ["nbdev_up", "nbdev_down"])
def test_band_multipliers_must_be_finite_and_non_negative(bad: object, name: str) -> None:
    rule = f"bollinger_bands: {name} must be a finite number >= 0, got {bad!r}"
    with pytest.raises(ValueError, match=re.escape(rule)):
        qi.bollinger_bands(X, 20, **{name: bad})
    with pytest.raises(
        ValueError, match=re.escape(rule.replace("bollinger_bands", "BollingerBands"))
    ):
        qi.BollingerBands(20, **{name: bad})


@pytest.mark.parametrize("bad", [0, -252, float("nan"), float("inf"), True])
def test_periods_per_year_must_be_positive_and_finite(bad: object) -> None:
    with pytest.raises(ValueError, match="periods_per_year must be a finite number > 0"):
        qi.realized_volatility(X, 20, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="periods_per_year must be a finite number > 0"):
        qi.RealizedVolatility(20, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_realized_volatility_needs_positive_finite_prices(bad: float) -> None:
    closes = X.copy()
    closes[10] = bad
    rule = "prices must be positive finite numbers to take log returns"
    with pytest.raises(ValueError, match=f"realized_volatility: {rule}"):
        qi.realized_volatility(closes, 5)
    stream = qi.RealizedVolatility(5)
    for close in closes[:10]:
        stream.update(float(close))
    with pytest.raises(ValueError, match=f"RealizedVolatility: {rule}"):
        stream.update(bad)


@pytest.mark.parametrize(
    ("indicator", "call"),
    [
        ("atr", lambda h, lo, c, v: qi.atr(h, lo, c)),
        ("adx", lambda h, lo, c, v: qi.adx(h, lo, c)),
        ("choppiness_index", lambda h, lo, c, v: qi.choppiness_index(h, lo, c)),
        ("stochastic", lambda h, lo, c, v: qi.stochastic(h, lo, c)),
        ("obv", lambda h, lo, c, v: qi.obv(c, v)),
        ("vwap", qi.vwap),
    ],
)
def test_multi_input_arrays_must_have_one_length(
    indicator: str, call: Callable[..., object]
) -> None:
    h, lo, c, v = HLCV
    with pytest.raises(ValueError, match=f"{indicator}: .* must have the same length, got"):
        call(h, lo[:-1], c[:-1], v[:-2])


@pytest.mark.parametrize(
    ("indicator", "call"),
    [
        ("sma", lambda a: qi.sma(a, 3)),
        ("wma", lambda a: qi.wma(a, 3)),
        ("macd", qi.macd),
        ("zscore", lambda a: qi.zscore(a, 3)),
        ("atr", lambda a: qi.atr(a, a, a)),
    ],
)
def test_inputs_must_be_one_dimensional(indicator: str, call: Callable[..., object]) -> None:
    with pytest.raises(ValueError, match=f"{indicator}: .* must be one-dimensional arrays"):
        call(X.reshape(5, 10))


def test_inputs_are_converted_not_mutated() -> None:
    ints = np.arange(1, 41)  # int64 prices and volumes are accepted and left alone
    as_list = [float(x) for x in ints]
    np.testing.assert_array_equal(qi.sma(ints, 5), qi.sma(np.asarray(as_list), 5))
    np.testing.assert_array_equal(
        qi.obv(ints, ints), qi.obv(ints.astype(float), ints.astype(float))
    )
    assert ints.dtype == np.int64


def test_empty_input_gives_empty_output() -> None:
    empty = np.empty(0)
    for result in (
        qi.sma(empty, 3),
        qi.wma(empty, 3),
        qi.macd(empty).signal,
        qi.bollinger_bands(empty).upper,
        qi.atr(empty, empty, empty),
        qi.adx(empty, empty, empty).adx,
        qi.choppiness_index(empty, empty, empty),
        qi.stochastic(empty, empty, empty).d,
        qi.obv(empty, empty),
        qi.vwap(empty, empty, empty, empty, 5),
        qi.zscore(empty),
        qi.realized_volatility(empty),
    ):
        assert result.shape == (0,)
