"""Every indicator TA-Lib also has equals TA-Lib on real and synthetic price histories.

Equal means the same NaN positions (the same warm-up) and values within 1e-9 relative,
1e-9 absolute near zero. SMA, WMA, OBV, ADX and the DIs, the stochastic and the middle
band are bit-identical; the rest differ by a few ulps where TA-Lib fuses a multiply-add
on FMA hardware (EMA, MACD, ATR, RSI) or rounds its cancellation-free standard
deviation differently (the upper and lower bands).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from quantgrid import indicators as qi
from quantgrid.model import FloatArray
from tests.unit.indicators.conftest import Ohlcv

talib = pytest.importorskip("talib")

Lines = Sequence[FloatArray]


def _di_lines(m: Ohlcv, period: int) -> Lines:
    hlc = (m.high, m.low, m.close)
    return [talib.ADX(*hlc, period), talib.PLUS_DI(*hlc, period), talib.MINUS_DI(*hlc, period)]


def _bbands(close: FloatArray, period: int, up: float, down: float) -> Lines:
    upper, middle, lower = talib.BBANDS(close, period, up, down, 0)
    return [middle, upper, lower]


# name -> (ours, TA-Lib's, parameter sets); each callable maps (market, *params) to lines.
INDICATORS: dict[str, tuple[Callable[..., Lines], Callable[..., Lines], list[tuple[Any, ...]]]] = {
    "sma": (
        lambda m, p: [qi.sma(m.close, p)],
        lambda m, p: [talib.SMA(m.close, p)],
        [(1,), (2,), (5,), (30,), (200,)],
    ),
    "ema": (
        lambda m, p: [qi.ema(m.close, p)],
        lambda m, p: [talib.EMA(m.close, p)],
        [(1,), (2,), (5,), (30,), (200,)],
    ),
    "wma": (
        lambda m, p: [qi.wma(m.close, p)],
        lambda m, p: [talib.WMA(m.close, p)],
        [(1,), (2,), (5,), (30,), (200,)],
    ),
    "rsi": (
        lambda m, p: [qi.rsi(m.close, p)],
        lambda m, p: [talib.RSI(m.close, p)],
        [(2,), (5,), (14,), (200,)],
    ),
    "macd": (
        lambda m, f, s, g: qi.macd(m.close, f, s, g),
        lambda m, f, s, g: talib.MACD(m.close, f, s, g),
        [(12, 26, 9), (5, 35, 5), (3, 10, 16), (2, 3, 1)],
    ),
    "bollinger_bands": (
        lambda m, p, up, down: qi.bollinger_bands(m.close, p, up, down),
        lambda m, p, up, down: _bbands(m.close, p, up, down),
        [(20, 2.0, 2.0), (2, 1.0, 1.0), (5, 1.5, 2.5), (50, 0.0, 3.0)],
    ),
    "atr": (
        lambda m, p: [qi.atr(m.high, m.low, m.close, p)],
        lambda m, p: [talib.ATR(m.high, m.low, m.close, p)],
        [(1,), (2,), (14,), (200,)],
    ),
    "adx": (
        lambda m, p: qi.adx(m.high, m.low, m.close, p),
        _di_lines,
        [(2,), (5,), (14,), (50,)],
    ),
    "stochastic": (
        lambda m, k, sk, sd: qi.stochastic(m.high, m.low, m.close, k, sk, sd),
        lambda m, k, sk, sd: talib.STOCH(m.high, m.low, m.close, k, sk, 0, sd, 0),
        [(5, 3, 3), (14, 3, 3), (1, 1, 1), (9, 1, 4), (21, 7, 5)],
    ),
    "obv": (
        lambda m: [qi.obv(m.close, m.volume)],
        lambda m: [talib.OBV(m.close, m.volume)],
        [()],
    ),
}

CASES = [
    pytest.param(ours, theirs, params, id=f"{name}{params}")
    for name, (ours, theirs, param_sets) in INDICATORS.items()
    for params in param_sets
]


def assert_matches_talib(ours: FloatArray, theirs: FloatArray, scale: float = 1.0) -> None:
    """Assert the same warm-up and values within 1e-9 relative (1e-9 * scale absolute)."""
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg="NaN positions")
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9 * scale)
    assert not np.isnan(ours).all(), "nothing was compared"


@pytest.mark.parametrize(("ours", "theirs", "params"), CASES)
def test_equals_talib(
    market: Ohlcv,
    ours: Callable[..., Lines],
    theirs: Callable[..., Lines],
    params: tuple[Any, ...],
) -> None:
    expected = theirs(market, *params)
    got = ours(market, *params)
    assert len(got) == len(expected)
    for our_line, their_line in zip(got, expected, strict=True):
        assert_matches_talib(our_line, their_line)


def test_lines_without_a_multiply_add_are_bit_identical(market: Ohlcv) -> None:
    # EMA-based lines differ from TA-Lib's by an ulp now and then: TA-Lib rounds its
    # multiply-add once on FMA hardware, Python and numba twice.
    h, lo, c, v = market.high, market.low, market.close, market.volume
    pairs = [
        (qi.sma(c, 20), talib.SMA(c, 20)),
        (qi.wma(c, 20), talib.WMA(c, 20)),
        (qi.bollinger_bands(c, 20).middle, talib.SMA(c, 20)),
        (qi.obv(c, v), talib.OBV(c, v)),
        *zip(qi.adx(h, lo, c, 14), _di_lines(market, 14), strict=True),
        *zip(qi.stochastic(h, lo, c), talib.STOCH(h, lo, c), strict=True),
    ]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("scale", [1e-9, 1e6])
def test_equals_talib_at_extreme_price_levels(minutes: Ohlcv, scale: float) -> None:
    # TA-Lib's zero tests are exact or relative to the prices (a fixed band would zero
    # the RSI, DIs and stochastic of an instrument quoted in billionths); ours too.
    m = Ohlcv(
        "scaled", minutes.high * scale, minutes.low * scale, minutes.close * scale, minutes.volume
    )
    h, lo, c = m.high, m.low, m.close
    pairs = [
        (qi.rsi(c, 14), talib.RSI(c, 14)),
        (qi.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14)),
        *zip(qi.adx(h, lo, c, 14), _di_lines(m, 14), strict=True),
        *zip(qi.stochastic(h, lo, c), talib.STOCH(h, lo, c), strict=True),
        *zip(qi.bollinger_bands(c, 20), _bbands(c, 20, 2.0, 2.0), strict=True),
    ]
    for ours, theirs in pairs:
        assert_matches_talib(ours, theirs, scale)


def test_input_shorter_than_the_warm_up_is_all_nan_like_talib(goog: Ohlcv) -> None:
    h, lo, c = goog.high[:20], goog.low[:20], goog.close[:20]
    for ours, theirs in (
        (qi.macd(c).signal, talib.MACD(c)[1]),
        (qi.adx(h, lo, c).adx, talib.ADX(h, lo, c)),
        (qi.bollinger_bands(c, 21).upper, talib.BBANDS(c, 21)[0]),
        (qi.stochastic(h, lo, c, 14, 5, 5).d, talib.STOCH(h, lo, c, 14, 5, 0, 5, 0)[1]),
    ):
        assert np.isnan(ours).all()
        assert np.isnan(theirs).all()
