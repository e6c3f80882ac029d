"""Moving averages (SMA, EMA, WMA) and RSI, each vectorised and streaming with identical output.

The arithmetic follows TA-Lib step by step (running sums, SMA-seeded EMA, TA-Lib's
weighted running sums, Wilder's RSI) so results equal TA-Lib's, and the streaming and
vectorised forms perform the same float operations in the same order, so they agree
exactly, not just closely. Warm-up values are NaN.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantgrid.indicators._checks import as_series, check_period
from quantgrid.model import FloatArray

_NAN = math.nan
_WMA_REBUILD_EVERY = 8  # bars per period between rebuilds of the WMA's running sums


# -- vectorised kernels ---------------------------------------------------------------
@njit(cache=True)
def _sma_kernel(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    n = x.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    for i in range(n):
        total = total + x[i]
        if i >= period - 1:
            out[i] = total / period
            total = total - x[i - period + 1]
    return out


@njit(cache=True)
def _ema_kernel(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    n = x.shape[0]
    if period == 1:
        # No smoothing. (x - prev) * 1 + prev need not round back to x, so copy, as
        # TA-Lib does.
        return x.copy()
    out = np.full(n, np.nan)
    k = 2.0 / (period + 1)
    total = 0.0
    prev = 0.0
    for i in range(n):
        if i < period:
            total = total + x[i]
            if i == period - 1:
                prev = total / period
                out[i] = prev
        else:
            prev = ((x[i] - prev) * k) + prev
            out[i] = prev
    return out


@njit(cache=True)
def _rsi_kernel(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    n = x.shape[0]
    out = np.full(n, np.nan)
    gain = 0.0
    loss = 0.0
    for i in range(1, n):
        change = x[i] - x[i - 1]
        if i <= period:
            if change < 0:
                loss = loss - change
            else:
                gain = gain + change
            if i == period:
                loss = loss / period
                gain = gain / period
            else:
                continue
        else:
            loss = loss * (period - 1)
            gain = gain * (period - 1)
            if change < 0:
                loss = loss - change
            else:
                gain = gain + change
            loss = loss / period
            gain = gain / period
        both = gain + loss
        # An exact zero test, as TA-Lib's (a fixed band would zero the RSI of any
        # instrument quoted small enough to move less than the band).
        out[i] = 100.0 * (gain / both) if both > 0.0 else 0.0
    return out


@njit(cache=True)
def _wma_kernel(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    n = x.shape[0]
    if period == 1:
        return x.copy()
    out = np.full(n, np.nan)
    divider = period * (period + 1) / 2.0
    # TA-Lib's running sums: period_sum holds sum(k * x), period_sub the plain sum that
    # turns every weight k into k - 1 when the window moves on. Both are rebuilt from
    # the window every 8 * period bars so rounding cannot pile up (TA-Lib #255).
    period_sum = 0.0
    period_sub = 0.0
    trailing = 0.0
    bars_to_rebuild = _WMA_REBUILD_EVERY * period
    for i in range(n):
        value = x[i]
        if i < period - 1:
            period_sub = period_sub + value
            period_sum = period_sum + value * (i + 1)
            continue
        period_sub = period_sub + value
        period_sub = period_sub - trailing
        period_sum = period_sum + value * period
        bars_to_rebuild -= 1
        if bars_to_rebuild <= 0:
            bars_to_rebuild = _WMA_REBUILD_EVERY * period
            period_sub = 0.0
            period_sum = 0.0
            for k in range(period):
                old = x[i - period + 1 + k]
                period_sub = period_sub + old
                period_sum = period_sum + old * (k + 1)
        trailing = x[i - period + 1]
        out[i] = period_sum / divider
        period_sum = period_sum - period_sub
    return out


def sma(values: FloatArray, period: int) -> FloatArray:
    """Return the simple moving average of ``values``.

    Parameters
    ----------
    values
        Input series, e.g. closes.
    period
        Window length, at least 1.

    Returns
    -------
    FloatArray
        ``mean(values[i - period + 1 : i + 1])`` at bar ``i``; NaN for the first
        ``period - 1`` bars.
    """
    check_period("sma", period)
    return _sma_kernel(as_series("sma", values), period)


def ema(values: FloatArray, period: int) -> FloatArray:
    """Return the exponential moving average of ``values``.

    Parameters
    ----------
    values
        Input series, e.g. closes.
    period
        Span, at least 1; the smoothing factor is ``k = 2 / (period + 1)``, and a
        period of 1 returns ``values`` unchanged.

    Returns
    -------
    FloatArray
        Seeded at bar ``period - 1`` with the SMA of the first ``period`` values, then
        ``ema[i] = (values[i] - ema[i - 1]) * k + ema[i - 1]``; NaN for the first
        ``period - 1`` bars.
    """
    check_period("ema", period)
    return _ema_kernel(as_series("ema", values), period)


def wma(values: FloatArray, period: int) -> FloatArray:
    """Return the linearly weighted moving average of ``values``.

    Parameters
    ----------
    values
        Input series, e.g. closes.
    period
        Window length, at least 1.

    Returns
    -------
    FloatArray
        ``sum(k * values[i - period + k]) / (period * (period + 1) / 2)`` over
        ``k = 1 .. period`` at bar ``i`` (the newest value weighs ``period``); NaN for
        the first ``period - 1`` bars.

    Notes
    -----
    Equals ``talib.WMA`` bit for bit: the weighted and plain sums are carried from bar
    to bar and rebuilt from the window every ``8 * period`` bars, as TA-Lib does, so
    rounding cannot pile up over long series (amortised O(1) per bar).
    """
    check_period("wma", period)
    return _wma_kernel(as_series("wma", values), period)


def rsi(values: FloatArray, period: int = 14) -> FloatArray:
    """Return Wilder's relative strength index of ``values``, in [0, 100].

    Parameters
    ----------
    values
        Input series, e.g. closes.
    period
        Smoothing length, at least 1.

    Returns
    -------
    FloatArray
        ``100 * avg_gain / (avg_gain + avg_loss)``, the averages seeded with the mean
        of the first ``period`` changes and then smoothed as
        ``avg = (avg * (period - 1) + today) / period``; 0 while nothing has moved.
        NaN for the first ``period`` bars.
    """
    check_period("rsi", period)
    return _rsi_kernel(as_series("rsi", values), period)


# -- streaming forms --------------------------------------------------------------------
class SMA:
    """Streaming simple moving average: O(1) per update.

    Notes
    -----
    ``update`` returns NaN until ``period`` values have been seen; afterwards the value
    equals ``sma(all_values, period)[-1]`` exactly.
    """

    __slots__ = ("_buffer", "_count", "_head", "_total", "period", "value")

    def __init__(self, period: int) -> None:
        check_period("SMA", period)
        self.period = period
        self._buffer = [0.0] * period
        self._head = 0
        self._count = 0
        self._total = 0.0
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count >= self.period

    def update(self, x: float) -> float:
        """Add one value and return the average (NaN during warm-up)."""
        period = self.period
        self._total = self._total + x
        buffer = self._buffer
        head = self._head
        buffer[head] = x
        head += 1
        self._head = 0 if head == period else head
        self._count += 1
        if self._count >= period:
            self.value = self._total / period
            # The oldest value in the window leaves the running total now, as TA-Lib does.
            self._total = self._total - buffer[self._head]
        return self.value


class EMA:
    """Streaming exponential moving average (SMA-seeded, ``k = 2 / (period + 1)``)."""

    __slots__ = ("_count", "_k", "_total", "period", "value")

    def __init__(self, period: int) -> None:
        check_period("EMA", period)
        self.period = period
        self._k = 2.0 / (period + 1)
        self._count = 0
        self._total = 0.0
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count >= self.period

    def update(self, x: float) -> float:
        """Add one value and return the average (NaN during warm-up)."""
        count = self._count
        if self.period == 1:
            self._count = count + 1
            self.value = x
            return x
        if count >= self.period:
            prev = self.value
            self.value = ((x - prev) * self._k) + prev
        else:
            self._total = self._total + x
            if count == self.period - 1:
                self.value = self._total / self.period
        self._count = count + 1
        return self.value


class RSI:
    """Streaming Wilder RSI."""

    __slots__ = ("_count", "_gain", "_loss", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        check_period("RSI", period)
        self.period = period
        self._count = 0
        self._gain = 0.0
        self._loss = 0.0
        self._prev = 0.0
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count > self.period

    def update(self, x: float) -> float:
        """Add one value and return the RSI (NaN during warm-up)."""
        i = self._count
        self._count = i + 1
        if i == 0:
            self._prev = x
            return self.value
        change = x - self._prev
        self._prev = x
        period = self.period
        gain, loss = self._gain, self._loss
        if i <= period:
            if change < 0:
                loss = loss - change
            else:
                gain = gain + change
            if i < period:
                self._gain, self._loss = gain, loss
                return self.value
            loss = loss / period
            gain = gain / period
        else:
            loss = loss * (period - 1)
            gain = gain * (period - 1)
            if change < 0:
                loss = loss - change
            else:
                gain = gain + change
            loss = loss / period
            gain = gain / period
        self._gain, self._loss = gain, loss
        both = gain + loss
        self.value = 100.0 * (gain / both) if both > 0.0 else 0.0
        return self.value


class WMA:
    """Streaming linearly weighted moving average: amortised O(1) per update.

    Notes
    -----
    ``update`` returns NaN until ``period`` values have been seen; afterwards the value
    equals ``wma(all_values, period)[-1]`` exactly.
    """

    __slots__ = (
        "_bars_to_rebuild",
        "_buffer",
        "_count",
        "_divider",
        "_head",
        "_period_sub",
        "_period_sum",
        "_trailing",
        "period",
        "value",
    )

    def __init__(self, period: int) -> None:
        check_period("WMA", period)
        self.period = period
        self._divider = period * (period + 1) / 2.0
        self._buffer = [0.0] * period
        self._head = 0
        self._count = 0
        self._period_sum = 0.0
        self._period_sub = 0.0
        self._trailing = 0.0
        self._bars_to_rebuild = _WMA_REBUILD_EVERY * period
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count >= self.period

    def update(self, x: float) -> float:
        """Add one value and return the average (NaN during warm-up)."""
        period = self.period
        i = self._count
        self._count = i + 1
        if period == 1:
            self.value = x
            return x
        buffer = self._buffer
        head = self._head
        buffer[head] = x
        head += 1
        head = 0 if head == period else head
        self._head = head
        if i < period - 1:
            self._period_sub = self._period_sub + x
            self._period_sum = self._period_sum + x * (i + 1)
            return self.value
        period_sub = self._period_sub + x
        period_sub = period_sub - self._trailing
        period_sum = self._period_sum + x * period
        self._bars_to_rebuild -= 1
        if self._bars_to_rebuild <= 0:
            self._bars_to_rebuild = _WMA_REBUILD_EVERY * period
            period_sub = 0.0
            period_sum = 0.0
            # The ring is full and ``head`` points at the oldest value of the window.
            for k in range(period):
                old = buffer[(head + k) % period]
                period_sub = period_sub + old
                period_sum = period_sum + old * (k + 1)
        # The oldest value of this window leaves the plain sum on the next bar.
        self._trailing = buffer[head]
        self.value = period_sum / self._divider
        self._period_sum = period_sum - period_sub
        self._period_sub = period_sub
        return self.value
