"""Volume indicators: on-balance volume and VWAP, vectorised and streaming.

OBV follows TA-Lib (``talib.OBV``) step by step. Each streaming class performs the same
float operations as its kernel, so the two forms agree bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantgrid.indicators._checks import as_float_arrays, check_period
from quantgrid.indicators._windows import REBUILD_EVERY, STALE_RATIO
from quantgrid.model import FloatArray

_NAN = math.nan


# -- OBV ----------------------------------------------------------------------------------
@njit(cache=True)
def _obv_kernel(close: FloatArray, volume: FloatArray) -> FloatArray:  # pragma: no cover
    n = close.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    total = volume[0]
    prev = close[0]
    for i in range(n):
        price = close[i]
        if price > prev:
            total = total + volume[i]
        elif price < prev:
            total = total - volume[i]
        out[i] = total
        prev = price
    return out


def obv(close: FloatArray, volume: FloatArray) -> FloatArray:
    """Return on-balance volume: volume added on up closes and taken away on down closes.

    Parameters
    ----------
    close, volume
        Closing prices and bar volumes, the same length.

    Returns
    -------
    FloatArray
        ``obv[0] = volume[0]``; then ``obv[i] = obv[i - 1] + volume[i]`` if the close
        rose, ``- volume[i]`` if it fell and unchanged if it did not move. No warm-up:
        every bar has a value.

    Notes
    -----
    Equals ``talib.OBV``, including its start at the first bar's volume rather than 0.
    """
    c, v = as_float_arrays("obv", "close, volume", close, volume)
    return _obv_kernel(c, v)


class OBV:
    """Streaming on-balance volume: O(1) per update, equal to `obv` bit for bit."""

    __slots__ = ("_count", "_prev", "value")

    def __init__(self) -> None:
        self._count = 0
        self._prev = 0.0
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether a value exists (from the first bar on)."""
        return self._count > 0

    def update(self, close: float, volume: float) -> float:
        """Add one bar and return the on-balance volume."""
        if self._count == 0:
            self.value = volume
        elif close > self._prev:
            self.value = self.value + volume
        elif close < self._prev:
            self.value = self.value - volume
        self._count += 1
        self._prev = close
        return self.value


# -- VWAP ---------------------------------------------------------------------------------
@njit(cache=True)
def _vwap_kernel(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    period: int,
    rebuild_every: int,
    stale_ratio: float,
) -> FloatArray:  # pragma: no cover - numba
    # period 0 means cumulative from the first bar.
    n = close.shape[0]
    out = np.full(n, np.nan)
    price_volume = np.empty(n)
    pv_total = 0.0
    v_total = 0.0
    traded = 0  # bars with volume in the window: an exact test for an empty window
    to_rebuild = 1
    for i in range(n):
        pv = (high[i] + low[i] + close[i]) / 3.0 * volume[i]
        price_volume[i] = pv
        pv_total = pv_total + pv
        v_total = v_total + volume[i]
        if volume[i] != 0.0:
            traded += 1
        if period > 0:
            gone = 0.0
            if i >= period:
                gone = volume[i - period]
                pv_total = pv_total - price_volume[i - period]
                v_total = v_total - gone
                if gone != 0.0:
                    traded -= 1
            if i < period - 1:
                continue
            to_rebuild -= 1
            if traded == 0:
                # No volume in the window: the sums are exactly zero, not residue.
                pv_total = 0.0
                v_total = 0.0
            elif to_rebuild <= 0 or not v_total > 0.0 or gone > stale_ratio * v_total:
                to_rebuild = rebuild_every * period
                pv_total = 0.0
                v_total = 0.0
                for j in range(i - period + 1, i + 1):
                    pv_total = pv_total + price_volume[j]
                    v_total = v_total + volume[j]
        if traded > 0 and v_total > 0.0:
            out[i] = pv_total / v_total
    return out


def vwap(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    period: int | None = None,
) -> FloatArray:
    """Return the volume-weighted average price, cumulative or over a rolling window.

    Parameters
    ----------
    high, low, close, volume
        Bar prices and volumes, all the same length; volumes must not be negative.
    period
        ``None`` (the default) for a VWAP cumulative from the first bar; otherwise the
        rolling window length, at least 1.

    Returns
    -------
    FloatArray
        ``sum(typical * volume) / sum(volume)`` with the typical price ``(high + low +
        close) / 3``, summed over every bar so far or over the last ``period`` bars.
        The rolling form is NaN for the first ``period - 1`` bars; either form is NaN
        while its window holds no volume.

    Notes
    -----
    Not in TA-Lib. The rolling sums are carried from bar to bar (add the newest bar,
    take away the one leaving) and rebuilt from the window every ``8 * period`` bars
    and whenever a volume leaving outweighs the rest a millionfold, so they equal a
    fresh sum to rounding at amortised O(1) per bar; they are exactly zero whenever the
    window holds no volume at all. There is no session reset: slice the input per
    session for a daily VWAP.
    """
    if period is not None:
        check_period("vwap", period)
    h, lo, c, v = as_float_arrays("vwap", "high, low, close, volume", high, low, close, volume)
    return _vwap_kernel(h, lo, c, v, period or 0, REBUILD_EVERY, STALE_RATIO)


class VWAP:
    """Streaming VWAP, cumulative or rolling: amortised O(1) per update, equal to `vwap`."""

    __slots__ = (
        "_count",
        "_head",
        "_pv_total",
        "_ring",
        "_to_rebuild",
        "_traded",
        "_v_total",
        "period",
        "value",
    )

    def __init__(self, period: int | None = None) -> None:
        if period is not None:
            check_period("VWAP", period)
        self.period = period
        # The rolling form keeps (price * volume, volume) of the bars in the window.
        self._ring: list[tuple[float, float]] = [(0.0, 0.0)] * (period or 0)
        self._head = 0
        self._count = 0
        self._traded = 0
        self._to_rebuild = 1
        self._pv_total = 0.0
        self._v_total = 0.0
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over (a window without volume still has no value)."""
        return self._count >= (self.period or 1)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        """Add one bar and return the VWAP (NaN during warm-up or without volume)."""
        i = self._count
        self._count = i + 1
        pv = (high + low + close) / 3.0 * volume
        pv_total = self._pv_total + pv
        v_total = self._v_total + volume
        if volume != 0.0:
            self._traded += 1
        period = self.period
        if period is not None:
            pv_total, v_total = self._roll(i, period, pv, volume, pv_total, v_total)
            if i < period - 1:
                return self.value
        else:
            self._pv_total = pv_total
            self._v_total = v_total
        self.value = pv_total / v_total if self._traded > 0 and v_total > 0.0 else _NAN
        return self.value

    def _roll(
        self, i: int, period: int, pv: float, volume: float, pv_total: float, v_total: float
    ) -> tuple[float, float]:
        """Retire the bar leaving the window; rebuild the sums when due."""
        ring = self._ring
        head = self._head
        gone = 0.0
        if i >= period:
            old_pv, gone = ring[head]
            pv_total = pv_total - old_pv
            v_total = v_total - gone
            if gone != 0.0:
                self._traded -= 1
        ring[head] = (pv, volume)
        head += 1
        head = 0 if head == period else head
        self._head = head
        if i >= period - 1:
            self._to_rebuild -= 1
            if self._traded == 0:
                pv_total = 0.0
                v_total = 0.0
            elif self._to_rebuild <= 0 or not v_total > 0.0 or gone > STALE_RATIO * v_total:
                self._to_rebuild = REBUILD_EVERY * period
                pv_total = 0.0
                v_total = 0.0
                # The ring is full and ``head`` points at the oldest bar of the window.
                for k in range(period):
                    slot_pv, slot_volume = ring[(head + k) % period]
                    pv_total = pv_total + slot_pv
                    v_total = v_total + slot_volume
        self._pv_total = pv_total
        self._v_total = v_total
        return pv_total, v_total
