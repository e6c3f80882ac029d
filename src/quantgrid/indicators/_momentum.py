"""Momentum oscillators: MACD and the slow stochastic, vectorised and streaming.

Both follow TA-Lib's arithmetic and seeding step by step (``talib.MACD``,
``talib.STOCH`` with SMA smoothing), so they equal TA-Lib with the same warm-up, and
each streaming class performs the same float operations as its kernel, so the two forms
agree bit for bit.
"""

from __future__ import annotations

import math
from typing import Generic, NamedTuple, TypeVar

import numpy as np
from numba import njit

from quantgrid.indicators._checks import as_float_arrays, as_series, check_period
from quantgrid.indicators._moving import SMA
from quantgrid.indicators._windows import RollingMax, RollingMin, rolling_max, rolling_min
from quantgrid.model import FloatArray

_NAN = math.nan
_T = TypeVar("_T", FloatArray, float)

# TA-Lib's test for a flat stochastic window: a range within 1e-14 of the extremes'
# magnitude is rounding residue, not a range (TA_IS_ZERO_SCALED).
_FLAT_RANGE = 1e-14


class MACDOutput(NamedTuple, Generic[_T]):
    """MACD line, signal line and histogram: arrays from `macd`, floats from `MACD`."""

    macd: _T
    signal: _T
    histogram: _T


class StochasticOutput(NamedTuple, Generic[_T]):
    """Slow %K and %D: arrays from `stochastic`, floats from `Stochastic`."""

    k: _T
    d: _T


def _check_macd(indicator: str, fast_period: int, slow_period: int, signal_period: int) -> None:
    check_period(indicator, fast_period, name="fast_period", minimum=2)
    check_period(indicator, slow_period, name="slow_period", minimum=2)
    check_period(indicator, signal_period, name="signal_period")
    if slow_period <= fast_period:
        msg = (
            f"{indicator}: slow_period must be greater than fast_period, "
            f"got fast_period={fast_period}, slow_period={slow_period}"
        )
        raise ValueError(msg)


def _check_stochastic(
    indicator: str, fastk_period: int, slowk_period: int, slowd_period: int
) -> None:
    check_period(indicator, fastk_period, name="fastk_period")
    check_period(indicator, slowk_period, name="slowk_period")
    check_period(indicator, slowd_period, name="slowd_period")


# -- MACD ---------------------------------------------------------------------------------
@njit(cache=True)
def _macd_kernel(
    x: FloatArray, fast: int, slow: int, signal: int
) -> tuple[FloatArray, FloatArray, FloatArray]:  # pragma: no cover - numba
    n = x.shape[0]
    line_out = np.full(n, np.nan)
    signal_out = np.full(n, np.nan)
    hist_out = np.full(n, np.nan)
    fast_k = 2.0 / (fast + 1)
    slow_k = 2.0 / (slow + 1)
    signal_k = 2.0 / (signal + 1)
    slow_total = 0.0
    fast_total = 0.0
    prev_fast = 0.0
    prev_slow = 0.0
    prev_signal = 0.0
    for i in range(n):
        value = x[i]
        if i < slow:
            # Both EMAs are seeded with SMAs whose windows end on bar slow - 1.
            slow_total = slow_total + value
            if i >= slow - fast:
                fast_total = fast_total + value
            if i < slow - 1:
                continue
            prev_slow = slow_total / slow
            prev_fast = fast_total / fast
        else:
            prev_fast = ((value - prev_fast) * fast_k) + prev_fast
            prev_slow = ((value - prev_slow) * slow_k) + prev_slow
        line = prev_fast - prev_slow
        # The signal EMA is seeded with the SMA of the first ``signal`` MACD values.
        seed_end = slow + signal - 2
        if i < seed_end:
            prev_signal = prev_signal + line
            continue
        if i == seed_end:
            prev_signal = (prev_signal + line) / signal
        elif signal == 1:
            # No smoothing: the recursion at k = 1 would not return the line exactly.
            prev_signal = line
        else:
            prev_signal = ((line - prev_signal) * signal_k) + prev_signal
        line_out[i] = line
        signal_out[i] = prev_signal
        hist_out[i] = line - prev_signal
    return line_out, signal_out, hist_out


def macd(
    values: FloatArray, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9
) -> MACDOutput[FloatArray]:
    """Return the MACD line, its signal line and the histogram.

    Parameters
    ----------
    values
        Input series, e.g. closes.
    fast_period, slow_period
        Spans of the fast and slow EMAs; both at least 2, ``slow_period > fast_period``.
    signal_period
        Span of the signal EMA of the MACD line, at least 1.

    Returns
    -------
    MACDOutput[FloatArray]
        ``macd = EMA(values, fast) - EMA(values, slow)``, ``signal = EMA(macd,
        signal_period)`` and ``histogram = macd - signal``. All three are NaN for the
        first ``slow_period + signal_period - 2`` bars.

    Notes
    -----
    TA-Lib's seeding, so the result equals ``talib.MACD``: each EMA is seeded with an
    SMA and the fast EMA's seed window ends on the same bar as the slow one's (bar
    ``slow_period - 1``), not ``slow_period - fast_period`` bars earlier as a standalone
    ``ema(values, fast_period)`` would be; the signal EMA is seeded with the mean of the
    first ``signal_period`` MACD values. The MACD line exists from bar
    ``slow_period - 1``, but like TA-Lib every output waits for the signal line.
    """
    _check_macd("macd", fast_period, slow_period, signal_period)
    line, signal, histogram = _macd_kernel(
        as_series("macd", values), fast_period, slow_period, signal_period
    )
    return MACDOutput(line, signal, histogram)


class MACD:
    """Streaming MACD: O(1) per update, equal to `macd` bit for bit.

    ``update`` returns a `MACDOutput` of floats, all NaN until ``slow_period +
    signal_period - 1`` values have been seen.
    """

    __slots__ = (
        "_count",
        "_fast_k",
        "_fast_total",
        "_prev_fast",
        "_prev_signal",
        "_prev_slow",
        "_signal_k",
        "_slow_k",
        "_slow_total",
        "fast_period",
        "signal_period",
        "slow_period",
        "value",
    )

    def __init__(
        self, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9
    ) -> None:
        _check_macd("MACD", fast_period, slow_period, signal_period)
        self.fast_period = fast_period
        self.slow_period = slow_period
        self.signal_period = signal_period
        self._fast_k = 2.0 / (fast_period + 1)
        self._slow_k = 2.0 / (slow_period + 1)
        self._signal_k = 2.0 / (signal_period + 1)
        self._count = 0
        self._slow_total = 0.0
        self._fast_total = 0.0
        self._prev_fast = 0.0
        self._prev_slow = 0.0
        self._prev_signal = 0.0
        self.value: MACDOutput[float] = MACDOutput(_NAN, _NAN, _NAN)

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count >= self.slow_period + self.signal_period - 1

    def update(self, x: float) -> MACDOutput[float]:
        """Add one value and return the MACD line, signal and histogram."""
        i = self._count
        self._count = i + 1
        slow = self.slow_period
        if i < slow:
            self._slow_total = self._slow_total + x
            if i >= slow - self.fast_period:
                self._fast_total = self._fast_total + x
            if i < slow - 1:
                return self.value
            self._prev_slow = self._slow_total / slow
            self._prev_fast = self._fast_total / self.fast_period
        else:
            prev_fast = self._prev_fast
            prev_slow = self._prev_slow
            self._prev_fast = ((x - prev_fast) * self._fast_k) + prev_fast
            self._prev_slow = ((x - prev_slow) * self._slow_k) + prev_slow
        line = self._prev_fast - self._prev_slow
        seed_end = slow + self.signal_period - 2
        if i < seed_end:
            self._prev_signal = self._prev_signal + line
            return self.value
        prev_signal = self._prev_signal
        if i == seed_end:
            prev_signal = (prev_signal + line) / self.signal_period
        elif self.signal_period == 1:
            prev_signal = line
        else:
            prev_signal = ((line - prev_signal) * self._signal_k) + prev_signal
        self._prev_signal = prev_signal
        self.value = MACDOutput(line, prev_signal, line - prev_signal)
        return self.value


# -- slow stochastic ----------------------------------------------------------------------
@njit(cache=True)
def _stochastic_kernel(
    highest: FloatArray,
    lowest: FloatArray,
    close: FloatArray,
    fastk_period: int,
    slowk_period: int,
    slowd_period: int,
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - numba
    n = close.shape[0]
    k_out = np.full(n, np.nan)
    d_out = np.full(n, np.nan)
    # Both smoothings are TA-Lib's SMA (see ``_sma_kernel``) with its running sums;
    # the rings hold the values that leave them.
    fast_ring = np.zeros(slowk_period)
    slow_ring = np.zeros(slowd_period)
    fast_head = 0
    slow_head = 0
    k_total = 0.0
    d_total = 0.0
    seen_fast = 0
    seen_slow = 0
    for i in range(fastk_period - 1, n):
        hh = highest[i]
        ll = lowest[i]
        span = hh - ll
        if abs(span) <= _FLAT_RANGE * (abs(hh) + abs(ll)):
            fast = 0.0
        else:
            fast = 100.0 * ((close[i] - ll) / span)
        k_total = k_total + fast
        fast_ring[fast_head] = fast
        fast_head = fast_head + 1 if fast_head + 1 < slowk_period else 0
        seen_fast += 1
        if seen_fast < slowk_period:
            continue
        slow = k_total / slowk_period
        k_total = k_total - fast_ring[fast_head]
        d_total = d_total + slow
        slow_ring[slow_head] = slow
        slow_head = slow_head + 1 if slow_head + 1 < slowd_period else 0
        seen_slow += 1
        if seen_slow < slowd_period:
            continue
        k_out[i] = slow
        d_out[i] = d_total / slowd_period
        d_total = d_total - slow_ring[slow_head]
    return k_out, d_out


def stochastic(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowd_period: int = 3,
) -> StochasticOutput[FloatArray]:
    """Return the slow stochastic oscillator, %K and %D, in [0, 100].

    Parameters
    ----------
    high, low, close
        Bar prices, one value per bar, all the same length.
    fastk_period
        Bars of the high-low range behind the raw (fast) %K, at least 1.
    slowk_period
        SMA length that smooths the fast %K into the slow %K, at least 1.
    slowd_period
        SMA length that smooths the slow %K into %D, at least 1.

    Returns
    -------
    StochasticOutput[FloatArray]
        ``fast_k = 100 * (close - lowest_low) / (highest_high - lowest_low)`` over the
        last ``fastk_period`` bars, ``k = SMA(fast_k, slowk_period)`` and
        ``d = SMA(k, slowd_period)``. Both are NaN for the first ``fastk_period +
        slowk_period + slowd_period - 3`` bars.

    Notes
    -----
    Equals ``talib.STOCH`` with its default SMA smoothing. As in TA-Lib, a flat window
    (highest high equal to lowest low) gives a fast %K of 0, and %K waits for %D: it is
    NaN until %D exists although it could be computed ``slowd_period - 1`` bars earlier.
    """
    _check_stochastic("stochastic", fastk_period, slowk_period, slowd_period)
    h, lo, c = as_float_arrays("stochastic", "high, low, close", high, low, close)
    k, d = _stochastic_kernel(
        rolling_max(h, fastk_period),
        rolling_min(lo, fastk_period),
        c,
        fastk_period,
        slowk_period,
        slowd_period,
    )
    return StochasticOutput(k, d)


class Stochastic:
    """Streaming slow stochastic: amortised O(1) per update, equal to `stochastic`.

    ``update(high, low, close)`` returns a `StochasticOutput` of floats, both NaN until
    ``fastk_period + slowk_period + slowd_period - 2`` bars have been seen.
    """

    __slots__ = (
        "_count",
        "_highest",
        "_lowest",
        "_slow_d",
        "_slow_k",
        "fastk_period",
        "slowd_period",
        "slowk_period",
        "value",
    )

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3) -> None:
        _check_stochastic("Stochastic", fastk_period, slowk_period, slowd_period)
        self.fastk_period = fastk_period
        self.slowk_period = slowk_period
        self.slowd_period = slowd_period
        self._highest = RollingMax(fastk_period)
        self._lowest = RollingMin(fastk_period)
        self._slow_k = SMA(slowk_period)
        self._slow_d = SMA(slowd_period)
        self._count = 0
        self.value: StochasticOutput[float] = StochasticOutput(_NAN, _NAN)

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count > self.fastk_period + self.slowk_period + self.slowd_period - 3

    def update(self, high: float, low: float, close: float) -> StochasticOutput[float]:
        """Add one bar and return the slow %K and %D (NaN during warm-up)."""
        hh = self._highest.update(high)
        ll = self._lowest.update(low)
        self._count += 1
        if self._count < self.fastk_period:
            return self.value
        span = hh - ll
        if abs(span) <= _FLAT_RANGE * (abs(hh) + abs(ll)):
            fast_k = 0.0
        else:
            fast_k = 100.0 * ((close - ll) / span)
        slow_k = self._slow_k.update(fast_k)
        if not self._slow_k.ready:
            return self.value
        slow_d = self._slow_d.update(slow_k)
        if self._slow_d.ready:
            self.value = StochasticOutput(slow_k, slow_d)
        return self.value
