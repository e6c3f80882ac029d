"""Indicators TA-Lib lacks, checked against straightforward numpy, and their conventions.

Choppiness Index, VWAP, rolling z-score and realized volatility are carried from bar to
bar; here each is recomputed from scratch over every window with numpy and must agree
to 1e-9 relative. Edge conventions (flat windows, idle bars, warm-ups) are pinned too.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from quantgrid import indicators as qi
from quantgrid.model import FloatArray
from tests.unit.indicators.conftest import Ohlcv

NAN = math.nan


def _windows(x: FloatArray, n: int) -> FloatArray:
    return sliding_window_view(x, n)


def _lead(values: FloatArray, n_nan: int) -> FloatArray:
    return np.concatenate([np.full(n_nan, NAN), values])


def assert_close(ours: FloatArray, expected: FloatArray, atol: float = 1e-9) -> None:
    assert ours.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected), err_msg="NaN positions")
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=atol)


# -- Choppiness Index ---------------------------------------------------------------------
def _reference_choppiness(m: Ohlcv, n: int) -> FloatArray:
    prev_close = m.close[:-1]
    h, lo = m.high[1:], m.low[1:]
    tr = np.maximum(h - lo, np.maximum(np.abs(h - prev_close), np.abs(lo - prev_close)))
    tr_sum = _windows(tr, n).sum(axis=1)
    span = _windows(m.high[1:], n).max(axis=1) - _windows(m.low[1:], n).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        chop = np.where(span > 0, 100.0 * np.log10(tr_sum / span) / np.log10(n), NAN)
    return _lead(chop, n)


def test_choppiness_index_matches_its_definition(market: Ohlcv) -> None:
    for n in (2, 14, 50):
        assert_close(
            qi.choppiness_index(market.high, market.low, market.close, n),
            _reference_choppiness(market, n),
        )


def test_choppiness_index_starts_at_bar_n_and_is_nan_over_a_flat_window() -> None:
    high = np.array([11.0, 12.0, 13.0, 12.0, 10.0, 10.0, 10.0, 10.0])
    low = np.array([9.0, 10.0, 11.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    close = np.array([10.0, 11.0, 12.0, 11.0, 10.0, 10.0, 10.0, 10.0])
    chop = qi.choppiness_index(high, low, close, 3)
    assert np.isnan(chop[:3]).all()
    # Bars 1..3: true ranges 2, 2, 2; highest high 13, lowest low 10.
    assert chop[3] == 100.0 * math.log10(6.0 / 3.0) / math.log10(3.0)
    assert np.isnan(chop[-1])  # three identical bars: no range at all
    trend = np.arange(1.0, 40.0)
    assert qi.choppiness_index(trend + 0.5, trend - 0.5, trend, 10)[-1] < 40.0


def test_choppiness_index_recovers_small_ranges_after_a_huge_gap() -> None:
    close = np.full(60, 100.0) + 0.01 * (np.arange(60) % 3)
    close[10] = 1e17  # a bad print: its two true ranges swamp the others while in the window
    m = Ohlcv("gap", close + 0.005, close - 0.005, close, np.ones(60))
    assert_close(qi.choppiness_index(m.high, m.low, m.close, 5), _reference_choppiness(m, 5))


# -- VWAP ---------------------------------------------------------------------------------
def _typical(m: Ohlcv) -> FloatArray:
    return (m.high + m.low + m.close) / 3.0


def test_cumulative_vwap_matches_its_definition(market: Ohlcv) -> None:
    pv = _typical(market) * market.volume
    expected = np.cumsum(pv) / np.cumsum(market.volume)
    assert_close(qi.vwap(market.high, market.low, market.close, market.volume), expected)


def test_rolling_vwap_matches_its_definition(market: Ohlcv) -> None:
    pv = _typical(market) * market.volume
    for n in (1, 20, 390):
        expected = _windows(pv, n).sum(axis=1) / _windows(market.volume, n).sum(axis=1)
        ours = qi.vwap(market.high, market.low, market.close, market.volume, n)
        assert_close(ours, _lead(expected, n - 1))


def test_vwap_is_nan_without_volume_and_recovers() -> None:
    price = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0])
    volume = np.array([0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 3.0])
    cumulative = qi.vwap(price, price, price, volume)
    np.testing.assert_array_equal(cumulative, [NAN, 11.0, 11.0, 11.0, 11.0, 37.0 / 3.0, 85.0 / 6.0])
    rolling = qi.vwap(price, price, price, volume, 2)
    np.testing.assert_array_equal(rolling, [NAN, 11.0, 11.0, NAN, NAN, 15.0, 63.0 / 4.0])


def test_rolling_vwap_recovers_small_volumes_after_a_huge_one_leaves() -> None:
    price = 100.0 + np.arange(40.0)
    for small in (1.0, 300.0):  # 1e18 + 3 rounds to 1e18; 1e18 + 900 to 1e18 + 1024
        volume = np.full(40, small)
        volume[5] = 1e18  # a print that swamps every other volume while in the window
        ours = qi.vwap(price, price, price, volume, 4)
        exact = _windows(price * volume, 4).sum(axis=1) / _windows(volume, 4).sum(axis=1)
        np.testing.assert_allclose(ours[3:], exact, rtol=1e-12)


# -- rolling z-score ----------------------------------------------------------------------
def test_zscore_matches_its_definition(market: Ohlcv) -> None:
    for n in (2, 20, 100):
        w = _windows(market.close, n)
        sd = w.std(axis=1, ddof=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd > 0, (market.close[n - 1 :] - w.mean(axis=1)) / sd, 0.0)
        assert_close(qi.zscore(market.close, n), _lead(z, n - 1), atol=1e-7)


def test_zscore_uses_the_population_deviation_and_scores_flat_windows_zero() -> None:
    z = qi.zscore(np.array([1.0, 2.0, 3.0, 3.0, 3.0, 3.0]), 3)
    assert np.isnan(z[:2]).all()
    assert z[2] == 1.0 / math.sqrt(2.0 / 3.0)  # ddof 0: variance 2/3, not 1
    assert z[-1] == 0.0


# -- realized volatility ------------------------------------------------------------------
def test_realized_volatility_matches_its_definition(market: Ohlcv) -> None:
    returns = np.log(market.close[1:] / market.close[:-1])
    for n in (2, 20, 250):
        sd = _windows(returns, n).std(axis=1, ddof=1)
        assert_close(qi.realized_volatility(market.close, n), _lead(sd, n))
        annual = qi.realized_volatility(market.close, n, periods_per_year=252)
        assert_close(annual, _lead(sd * math.sqrt(252.0), n))


def test_realized_volatility_uses_the_sample_deviation_and_is_zero_when_flat() -> None:
    closes = np.array([100.0, 110.0, 99.0, 99.0, 99.0, 99.0])
    vol = qi.realized_volatility(closes, 2)
    assert np.isnan(vol[:2]).all()
    r1, r2 = math.log(1.1), math.log(0.9)
    assert math.isclose(vol[2], abs(r1 - r2) / math.sqrt(2.0), rel_tol=1e-15)  # ddof 1
    assert vol[-1] == 0.0


# -- the rolling deviation stays accurate where E[x²] - mean² would not -------------------
def test_rolling_deviation_is_accurate_after_outliers_and_at_high_price_levels() -> None:
    rng = np.random.default_rng(7)
    level = 1e6 + np.cumsum(rng.normal(0.0, 1e-3, 60_000))  # sd ~ 1e-3 at a level of 1e6
    level[[1_000, 30_000]] *= 1e3  # two prints a thousand times the price
    n = 20
    exact = _windows(level.astype(np.longdouble), n)
    deviation = exact - exact.mean(axis=1, keepdims=True)
    expected_z = (deviation[:, -1] / np.sqrt((deviation**2).mean(axis=1))).astype(np.float64)
    # E[x²] - mean² would lose all ten significant digits here; the z-score needs them.
    z = qi.zscore(level, n)[n - 1 :]
    np.testing.assert_allclose(z, expected_z, rtol=1e-9, atol=1e-9)
    w = _windows(level, n)
    mean, sd = w.mean(axis=1), w.std(axis=1, ddof=0)
    bands = qi.bollinger_bands(level, n, 3.0, 3.0)
    # The middle band is TA-Lib's running-sum SMA: an outlier leaves it an ulp or two off.
    np.testing.assert_allclose(bands.upper[n - 1 :], mean + 3.0 * sd, rtol=1e-12)
    np.testing.assert_allclose(bands.lower[n - 1 :], mean - 3.0 * sd, rtol=1e-12)


def test_bollinger_bands_collapse_on_a_flat_window() -> None:
    bands = qi.bollinger_bands(np.array([5.0, 6.0, 7.0, 7.0, 7.0]), 3)
    assert (bands.middle[-1], bands.upper[-1], bands.lower[-1]) == (7.0, 7.0, 7.0)
