"""Trend strength: Wilder's ADX with +DI and -DI, and the Choppiness Index.

ADX and the directional indicators follow TA-Lib's arithmetic, seeding and lookbacks
step by step (``talib.ADX``, ``talib.PLUS_DI``, ``talib.MINUS_DI``), so they equal
TA-Lib. Each streaming class performs the same float operations as its kernel, so the
two forms agree bit for bit.
"""

from __future__ import annotations

import math
from typing import Generic, NamedTuple, TypeVar

import numpy as np
from numba import njit

from quantgrid.indicators._checks import as_float_arrays, check_period
from quantgrid.indicators._volatility import true_range, true_ranges
from quantgrid.indicators._windows import (
    REBUILD_EVERY,
    STALE_RATIO,
    RollingMax,
    RollingMin,
    rolling_max,
    rolling_min,
)
from quantgrid.model import FloatArray

_NAN = math.nan
_T = TypeVar("_T", FloatArray, float)

# TA-Lib's zero band for the sum of the two DIs (TA_IS_ZERO). The DIs are percentages,
# so a fixed band is scale-free here.
_DI_ZERO = 1e-14


class ADXOutput(NamedTuple, Generic[_T]):
    """ADX, +DI and -DI: arrays from `adx`, floats from `ADX`."""

    adx: _T
    plus_di: _T
    minus_di: _T


# -- ADX, +DI, -DI ------------------------------------------------------------------------
@njit(cache=True)
def _adx_kernel(
    high: FloatArray, low: FloatArray, ranges: FloatArray, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:  # pragma: no cover - numba
    n = high.shape[0]
    adx_out = np.full(n, np.nan)
    plus_out = np.full(n, np.nan)
    minus_out = np.full(n, np.nan)
    if n == 0:
        return adx_out, plus_out, minus_out
    prev_high = high[0]
    prev_low = low[0]
    plus_dm = 0.0
    minus_dm = 0.0
    tr = 0.0
    sum_dx = 0.0
    adx = 0.0
    for i in range(1, n):
        diff_p = high[i] - prev_high
        prev_high = high[i]
        diff_m = prev_low - low[i]
        prev_low = low[i]
        bar_tr = ranges[i]
        if i < period:
            # Wilder sums the first period - 1 one-bar movements before smoothing.
            if diff_m > 0 and diff_p < diff_m:
                minus_dm = minus_dm + diff_m
            elif diff_p > 0 and diff_p > diff_m:
                plus_dm = plus_dm + diff_p
            tr = tr + bar_tr
            continue
        minus_dm = minus_dm - minus_dm / period
        plus_dm = plus_dm - plus_dm / period
        if diff_m > 0 and diff_p < diff_m:
            minus_dm = minus_dm + diff_m
        elif diff_p > 0 and diff_p > diff_m:
            plus_dm = plus_dm + diff_p
        tr = tr - tr / period + bar_tr
        if tr > 0.0:
            minus_di = 100.0 * (minus_dm / tr)
            plus_di = 100.0 * (plus_dm / tr)
            plus_out[i] = plus_di
            minus_out[i] = minus_di
            both = minus_di + plus_di
            if both >= _DI_ZERO or both <= -_DI_ZERO:
                dx = 100.0 * (abs(minus_di - plus_di) / both)
                if i < 2 * period:
                    sum_dx = sum_dx + dx
                else:
                    adx = (adx * (period - 1) + dx) / period
        else:
            plus_out[i] = 0.0
            minus_out[i] = 0.0
        if i == 2 * period - 1:
            adx = sum_dx / period
        if i >= 2 * period - 1:
            adx_out[i] = adx
    return adx_out, plus_out, minus_out


def adx(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14
) -> ADXOutput[FloatArray]:
    """Return Wilder's average directional index with the +DI and -DI lines.

    Parameters
    ----------
    high, low, close
        Bar prices, one value per bar, all the same length.
    period
        Smoothing length, at least 2.

    Returns
    -------
    ADXOutput[FloatArray]
        ``+DM`` is the rise of the high over the previous high when positive and larger
        than the fall of the low (else 0), ``-DM`` the reverse. ``+DM``, ``-DM`` and
        the true range are summed over bars ``1 .. period - 1`` and then Wilder-smoothed
        (``s = s - s / period + today``); ``+DI = 100 * +DM / TR`` and
        ``-DI = 100 * -DM / TR`` (0 while the true-range sum is 0).
        ``DX = 100 * |+DI - -DI| / (+DI + -DI)``; the ADX is the mean of the first
        ``period`` DX, then ``adx = (adx * (period - 1) + dx) / period``. The DI lines
        are NaN for the first ``period`` bars, the ADX for the first ``2 * period - 1``.

    Notes
    -----
    Equals ``talib.ADX``, ``talib.PLUS_DI`` and ``talib.MINUS_DI`` bit for bit, warm-ups
    included. As in TA-Lib, a bar whose DI sum is zero (within 1e-14) has no DX: it adds
    0 to the sum behind the first ADX and leaves later ADX values unchanged.
    """
    check_period("adx", period, minimum=2)
    h, lo, c = as_float_arrays("adx", "high, low, close", high, low, close)
    adx_line, plus_di, minus_di = _adx_kernel(h, lo, true_ranges(h, lo, c), period)
    return ADXOutput(adx_line, plus_di, minus_di)


class ADX:
    """Streaming ADX with +DI and -DI: O(1) per update, equal to `adx` bit for bit.

    ``update(high, low, close)`` returns an `ADXOutput` of floats: the DIs are NaN until
    ``period + 1`` bars have been seen, the ADX until ``2 * period``.
    """

    __slots__ = (
        "_adx",
        "_count",
        "_minus_dm",
        "_plus_dm",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_sum_dx",
        "_tr",
        "period",
        "value",
    )

    def __init__(self, period: int = 14) -> None:
        check_period("ADX", period, minimum=2)
        self.period = period
        self._count = 0
        self._prev_high = 0.0
        self._prev_low = 0.0
        self._prev_close = 0.0
        self._plus_dm = 0.0
        self._minus_dm = 0.0
        self._tr = 0.0
        self._sum_dx = 0.0
        self._adx = 0.0
        self.value: ADXOutput[float] = ADXOutput(_NAN, _NAN, _NAN)

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over (the ADX, not just the DIs, has a value)."""
        return self._count >= 2 * self.period

    def update(self, high: float, low: float, close: float) -> ADXOutput[float]:
        """Add one bar and return the ADX, +DI and -DI (NaN during their warm-ups)."""
        i = self._count
        self._count = i + 1
        if i == 0:
            self._prev_high, self._prev_low, self._prev_close = high, low, close
            return self.value
        period = self.period
        diff_p = high - self._prev_high
        diff_m = self._prev_low - low
        bar_tr = true_range(high, low, self._prev_close)
        self._prev_high, self._prev_low, self._prev_close = high, low, close
        minus_dm, plus_dm = self._minus_dm, self._plus_dm
        if i < period:
            if diff_m > 0 and diff_p < diff_m:
                self._minus_dm = minus_dm + diff_m
            elif diff_p > 0 and diff_p > diff_m:
                self._plus_dm = plus_dm + diff_p
            self._tr = self._tr + bar_tr
            return self.value
        minus_dm = minus_dm - minus_dm / period
        plus_dm = plus_dm - plus_dm / period
        if diff_m > 0 and diff_p < diff_m:
            minus_dm = minus_dm + diff_m
        elif diff_p > 0 and diff_p > diff_m:
            plus_dm = plus_dm + diff_p
        self._minus_dm, self._plus_dm = minus_dm, plus_dm
        tr = self._tr
        tr = tr - tr / period + bar_tr
        self._tr = tr
        adx = self._adx
        if tr > 0.0:
            minus_di = 100.0 * (minus_dm / tr)
            plus_di = 100.0 * (plus_dm / tr)
            both = minus_di + plus_di
            if both >= _DI_ZERO or both <= -_DI_ZERO:
                dx = 100.0 * (abs(minus_di - plus_di) / both)
                if i < 2 * period:
                    self._sum_dx = self._sum_dx + dx
                else:
                    adx = (adx * (period - 1) + dx) / period
        else:
            minus_di = 0.0
            plus_di = 0.0
        if i == 2 * period - 1:
            adx = self._sum_dx / period
        self._adx = adx
        self.value = ADXOutput(adx if i >= 2 * period - 1 else _NAN, plus_di, minus_di)
        return self.value


# -- Choppiness Index ---------------------------------------------------------------------
@njit(cache=True)
def _choppiness_kernel(
    ranges: FloatArray,
    highest: FloatArray,
    lowest: FloatArray,
    period: int,
    log_period: float,
    rebuild_every: int,
    stale_ratio: float,
) -> FloatArray:  # pragma: no cover - numba
    n = ranges.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    to_rebuild = 1
    for i in range(1, n):
        total = total + ranges[i]
        gone = 0.0
        if i > period:
            gone = ranges[i - period]
            total = total - gone
        if i < period:
            continue
        to_rebuild -= 1
        if to_rebuild <= 0 or gone > stale_ratio * total:
            to_rebuild = rebuild_every * period
            total = 0.0
            for j in range(i - period + 1, i + 1):
                total = total + ranges[j]
        ratio = total / (highest[i] - lowest[i]) if highest[i] > lowest[i] else 0.0
        if ratio > 0.0:
            out[i] = 100.0 * np.log10(ratio) / log_period
    return out


def choppiness_index(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14
) -> FloatArray:
    """Return the Choppiness Index: near 100 in a sideways market, low in a trend.

    Parameters
    ----------
    high, low, close
        Bar prices, one value per bar, all the same length.
    period
        Window length ``n``, at least 2.

    Returns
    -------
    FloatArray
        ``100 * log10(sum(TR) / (max(high) - min(low))) / log10(n)`` over the ``n`` bars
        ``i - n + 1 .. i``, where ``TR`` is each bar's true range (the ATR of length 1).
        The first value is at bar ``n``: every true range in the sum needs the previous
        bar's close, so bar 0, which has none, never enters a window. NaN for the first
        ``n`` bars, and NaN for a window whose highest high equals its lowest low (the
        index is 0 / 0 there).

    Notes
    -----
    Not in TA-Lib. From bar ``n`` on this equals the usual definition that takes the
    first bar's true range as ``high - low``; that definition's extra value at bar
    ``n - 1`` is left out rather than built on a range with no previous close.

    The true ranges are summed from bar to bar, and the sum is rebuilt from the window
    every ``8 * n`` bars and whenever a range leaving it outweighs the rest a millionfold,
    so it equals a fresh sum to rounding at amortised O(1) per bar.
    """
    check_period("choppiness_index", period, minimum=2)
    h, lo, c = as_float_arrays("choppiness_index", "high, low, close", high, low, close)
    return _choppiness_kernel(
        true_ranges(h, lo, c),
        rolling_max(h, period),
        rolling_min(lo, period),
        period,
        math.log10(period),
        REBUILD_EVERY,
        STALE_RATIO,
    )


class ChoppinessIndex:
    """Streaming Choppiness Index: amortised O(1) per update, equal to `choppiness_index`."""

    __slots__ = (
        "_count",
        "_head",
        "_highest",
        "_log_period",
        "_lowest",
        "_prev_close",
        "_ranges",
        "_to_rebuild",
        "_total",
        "period",
        "value",
    )

    def __init__(self, period: int = 14) -> None:
        check_period("ChoppinessIndex", period, minimum=2)
        self.period = period
        self._log_period = math.log10(period)
        self._highest = RollingMax(period)
        self._lowest = RollingMin(period)
        self._ranges = [0.0] * period
        self._head = 0
        self._count = 0
        self._prev_close = 0.0
        self._total = 0.0
        self._to_rebuild = 1
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count > self.period

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the index (NaN during warm-up or over a flat window)."""
        i = self._count
        self._count = i + 1
        highest = self._highest.update(high)
        lowest = self._lowest.update(low)
        prev_close = self._prev_close
        self._prev_close = close
        if i == 0:
            return self.value
        bar_tr = true_range(high, low, prev_close)
        period = self.period
        ranges = self._ranges
        head = self._head
        total = self._total + bar_tr
        gone = 0.0
        if i > period:
            gone = ranges[head]  # the slot about to be reused holds the oldest range
            total = total - gone
        ranges[head] = bar_tr
        head += 1
        head = 0 if head == period else head
        self._head = head
        if i < period:
            self._total = total
            return self.value
        self._to_rebuild -= 1
        if self._to_rebuild <= 0 or gone > STALE_RATIO * total:
            self._to_rebuild = REBUILD_EVERY * period
            total = 0.0
            # ``head`` points at the oldest true range of the window.
            for k in range(period):
                total = total + ranges[(head + k) % period]
        self._total = total
        ratio = total / (highest - lowest) if highest > lowest else 0.0
        self.value = 100.0 * math.log10(ratio) / self._log_period if ratio > 0.0 else _NAN
        return self.value
