"""Moving averages (SMA, EMA) and RSI, each vectorised and streaming with identical output.

The arithmetic follows TA-Lib step by step (running sums, SMA-seeded EMA, Wilder's RSI)
so results equal TA-Lib's, and the streaming and vectorised forms perform the same float
operations in the same order, so they agree exactly, not just closely. Warm-up values
are NaN.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantgrid.model import FloatArray

_NAN = math.nan


def _check_period(name: str, period: int) -> None:
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        msg = f"{name}: period must be a whole number >= 1, got {period!r}"
        raise ValueError(msg)


def _as_float_array(values: FloatArray) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


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
        out[i] = 100.0 * (gain / both) if (both > 1e-8 or both < -1e-8) else 0.0
    return out


def sma(values: FloatArray, period: int) -> FloatArray:
    """Return the simple moving average of ``values`` (NaN for the first ``period - 1``)."""
    _check_period("sma", period)
    return _sma_kernel(_as_float_array(values), period)


def ema(values: FloatArray, period: int) -> FloatArray:
    """Return the exponential moving average, seeded with the SMA of the first ``period``."""
    _check_period("ema", period)
    return _ema_kernel(_as_float_array(values), period)


def rsi(values: FloatArray, period: int = 14) -> FloatArray:
    """Return Wilder's relative strength index in [0, 100] (NaN for the first ``period``)."""
    _check_period("rsi", period)
    return _rsi_kernel(_as_float_array(values), period)


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
        _check_period("SMA", period)
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
        _check_period("EMA", period)
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
        _check_period("RSI", period)
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
        self.value = 100.0 * (gain / both) if (both > 1e-8 or both < -1e-8) else 0.0
        return self.value
