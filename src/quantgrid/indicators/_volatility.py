"""Volatility and dispersion: ATR, Bollinger Bands, rolling z-score, realized volatility.

ATR and the middle Bollinger band follow TA-Lib's arithmetic step by step. Every
standard deviation here comes from `rolling_moments` (running sums of deviations from
a shift near the window's mean, re-anchored on a schedule and whenever they would lose
precision), which stays accurate where the textbook ``E[x²] - mean²`` cancels.
TA-Lib's own Bollinger deviation is cancellation-free too but rounds differently, so
the bands equal ``talib.BBANDS`` to rounding rather than bit for bit. Each streaming
class performs the same float operations as its kernel, so the two forms agree bit
for bit.
"""

from __future__ import annotations

import math
from typing import Generic, NamedTuple, TypeVar

import numpy as np
from numba import njit

from quantgrid.indicators._checks import as_float_arrays, as_series, check_multiplier, check_period
from quantgrid.indicators._moving import SMA, _sma_kernel
from quantgrid.indicators._windows import RollingMoments, rolling_moments
from quantgrid.model import FloatArray

_NAN = math.nan
_T = TypeVar("_T", FloatArray, float)


class BollingerOutput(NamedTuple, Generic[_T]):
    """Middle, upper and lower band: arrays from `bollinger_bands`, floats from the class."""

    middle: _T
    upper: _T
    lower: _T


# -- ATR ----------------------------------------------------------------------------------
def true_range(high: float, low: float, prev_close: float) -> float:
    """Return the true range of a bar: its high-low range stretched to the previous close.

    TA-Lib's order: start from ``high - low``, then take each previous-close distance
    that is larger. The kernels call the compiled copy, `true_range_jit`.
    """
    # Compare-and-replace rather than max(), which numba and Python treat alike only
    # for numbers: this keeps NaN handling identical in both forms.
    greatest = high - low
    to_high = abs(prev_close - high)
    if to_high > greatest:  # noqa: PLR1730
        greatest = to_high
    to_low = abs(prev_close - low)
    if to_low > greatest:  # noqa: PLR1730
        greatest = to_low
    return greatest


true_range_jit = njit(cache=True)(true_range)


@njit(cache=True)
def true_ranges(
    high: FloatArray, low: FloatArray, close: FloatArray
) -> FloatArray:  # pragma: no cover - numba
    """Return the true range of every bar; NaN at bar 0, which has no previous close."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(1, n):
        out[i] = true_range_jit(high[i], low[i], close[i - 1])
    return out


@njit(cache=True)
def _atr_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> FloatArray:  # pragma: no cover - numba
    n = close.shape[0]
    out = np.full(n, np.nan)
    # TA-Lib's Wilder step: beta first, then alpha = 1 - beta, so alpha + beta == 1.
    w_beta = (period - 1) / period
    w_alpha = 1.0 - w_beta
    total = 0.0
    prev = 0.0
    for i in range(1, n):
        tr = true_range_jit(high[i], low[i], close[i - 1])
        if i < period:
            total = total + tr
            continue
        prev = (total + tr) / period if i == period else w_alpha * tr + w_beta * prev
        out[i] = prev
    return out


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Return Wilder's average true range.

    Parameters
    ----------
    high, low, close
        Bar prices, one value per bar, all the same length.
    period
        Smoothing length, at least 1.

    Returns
    -------
    FloatArray
        The true range of bar ``i >= 1`` is ``max(high - low, |close[i-1] - high|,
        |close[i-1] - low|)``. The ATR is seeded at bar ``period`` with the mean of the
        first ``period`` true ranges, then ``atr = alpha * tr + beta * atr[i - 1]`` with
        ``beta = (period - 1) / period`` and ``alpha = 1 - beta``. NaN for the first
        ``period`` bars.

    Notes
    -----
    Equals ``talib.ATR`` to ~1e-15 relative: TA-Lib fuses the Wilder step into one
    multiply-add on FMA hardware, which rounds once where this rounds twice.
    """
    check_period("atr", period)
    h, lo, c = as_float_arrays("atr", "high, low, close", high, low, close)
    return _atr_kernel(h, lo, c, period)


class ATR:
    """Streaming average true range: O(1) per update, equal to `atr` bit for bit."""

    __slots__ = ("_count", "_prev_close", "_total", "_w_alpha", "_w_beta", "period", "value")

    def __init__(self, period: int = 14) -> None:
        check_period("ATR", period)
        self.period = period
        self._w_beta = (period - 1) / period
        self._w_alpha = 1.0 - self._w_beta
        self._count = 0
        self._prev_close = 0.0
        self._total = 0.0
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._count > self.period

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the ATR (NaN during warm-up)."""
        i = self._count
        self._count = i + 1
        prev_close = self._prev_close
        self._prev_close = close
        if i == 0:
            return self.value
        greatest = true_range(high, low, prev_close)
        period = self.period
        if i < period:
            self._total = self._total + greatest
        elif i == period:
            self.value = (self._total + greatest) / period
        else:
            self.value = self._w_alpha * greatest + self._w_beta * self.value
        return self.value


# -- Bollinger Bands ----------------------------------------------------------------------
@njit(cache=True)
def _bands_kernel(
    middle: FloatArray, m2: FloatArray, period: int, up: float, down: float
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - numba
    n = middle.shape[0]
    upper = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    for i in range(period - 1, n):
        sd = np.sqrt(m2[i] / period)
        upper[i] = middle[i] + sd * up
        lower[i] = middle[i] - sd * down
    return upper, lower


def _check_bands(indicator: str, period: int, nbdev_up: float, nbdev_down: float) -> None:
    check_period(indicator, period, minimum=2)
    check_multiplier(indicator, "nbdev_up", nbdev_up)
    check_multiplier(indicator, "nbdev_down", nbdev_down)


def bollinger_bands(
    values: FloatArray, period: int = 20, nbdev_up: float = 2.0, nbdev_down: float = 2.0
) -> BollingerOutput[FloatArray]:
    """Return Bollinger Bands: an SMA with bands a multiple of the standard deviation away.

    Parameters
    ----------
    values
        Input series, e.g. closes.
    period
        Window length, at least 2.
    nbdev_up, nbdev_down
        Standard deviations from the middle band to the upper and the lower band;
        finite and non-negative.

    Returns
    -------
    BollingerOutput[FloatArray]
        ``middle = SMA(values, period)``, ``upper = middle + nbdev_up * sd`` and
        ``lower = middle - nbdev_down * sd``, where ``sd`` is the population standard
        deviation (divisor ``period``, ddof 0) of the same window. NaN for the first
        ``period - 1`` bars.

    Notes
    -----
    Equals ``talib.BBANDS`` with its default SMA middle band. A window of identical
    values has a deviation of exactly 0.
    """
    _check_bands("bollinger_bands", period, nbdev_up, nbdev_down)
    x = as_series("bollinger_bands", values)
    middle = _sma_kernel(x, period)
    _, m2 = rolling_moments(x, period)
    upper, lower = _bands_kernel(middle, m2, period, float(nbdev_up), float(nbdev_down))
    return BollingerOutput(middle, upper, lower)


class BollingerBands:
    """Streaming Bollinger Bands: amortised O(1) per update, equal to `bollinger_bands`."""

    __slots__ = ("_moments", "_sma", "nbdev_down", "nbdev_up", "period", "value")

    def __init__(self, period: int = 20, nbdev_up: float = 2.0, nbdev_down: float = 2.0) -> None:
        _check_bands("BollingerBands", period, nbdev_up, nbdev_down)
        self.period = period
        self.nbdev_up = float(nbdev_up)
        self.nbdev_down = float(nbdev_down)
        self._sma = SMA(period)
        self._moments = RollingMoments(period)
        self.value: BollingerOutput[float] = BollingerOutput(_NAN, _NAN, _NAN)

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._sma.ready

    def update(self, x: float) -> BollingerOutput[float]:
        """Add one value and return the middle, upper and lower band (NaN during warm-up)."""
        middle = self._sma.update(x)
        moments = self._moments
        moments.update(x)
        if moments.ready:
            sd = math.sqrt(moments.m2 / self.period)
            self.value = BollingerOutput(
                middle, middle + sd * self.nbdev_up, middle - sd * self.nbdev_down
            )
        return self.value


# -- rolling z-score ----------------------------------------------------------------------
@njit(cache=True)
def _zscore_kernel(
    deviation: FloatArray, m2: FloatArray, period: int
) -> FloatArray:  # pragma: no cover - numba
    n = deviation.shape[0]
    out = np.full(n, np.nan)
    for i in range(period - 1, n):
        sd = np.sqrt(m2[i] / period)
        out[i] = 0.0 if sd == 0.0 else deviation[i] / sd
    return out


def zscore(values: FloatArray, period: int = 20) -> FloatArray:
    """Return the rolling z-score: how many standard deviations a value is from its mean.

    Parameters
    ----------
    values
        Input series, e.g. closes.
    period
        Window length, at least 2; the window includes the current value.

    Returns
    -------
    FloatArray
        ``(values[i] - mean) / sd`` over ``values[i - period + 1 : i + 1]``, with the
        population standard deviation (divisor ``period``, ddof 0, as Bollinger Bands
        use). A window whose deviation is 0 (identical values) scores 0. NaN for the first
        ``period - 1`` bars.
    """
    check_period("zscore", period, minimum=2)
    x = as_series("zscore", values)
    deviation, m2 = rolling_moments(x, period)
    return _zscore_kernel(deviation, m2, period)


class ZScore:
    """Streaming rolling z-score: amortised O(1) per update, equal to `zscore` bit for bit."""

    __slots__ = ("_moments", "period", "value")

    def __init__(self, period: int = 20) -> None:
        check_period("ZScore", period, minimum=2)
        self.period = period
        self._moments = RollingMoments(period)
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._moments.ready

    def update(self, x: float) -> float:
        """Add one value and return its z-score (NaN during warm-up)."""
        moments = self._moments
        moments.update(x)
        if moments.ready:
            sd = math.sqrt(moments.m2 / self.period)
            self.value = 0.0 if sd == 0.0 else moments.deviation / sd
        return self.value


# -- realized volatility ------------------------------------------------------------------
@njit(cache=True)
def _log_returns(close: FloatArray) -> FloatArray:  # pragma: no cover - numba
    n = close.shape[0]
    out = np.empty(max(n - 1, 0))
    for i in range(1, n):
        ratio = close[i] / close[i - 1]
        if 0.0 < ratio < math.inf:
            out[i - 1] = math.log(ratio)
        else:  # the ratio under- or overflowed
            out[i - 1] = math.log(close[i]) - math.log(close[i - 1])
    return out


@njit(cache=True)
def _volatility_kernel(
    m2: FloatArray, period: int, scale: float
) -> FloatArray:  # pragma: no cover - numba
    # m2[j] covers the returns ending at bar j + 1.
    n = m2.shape[0] + 1
    out = np.full(n, np.nan)
    for i in range(period, n):
        out[i] = np.sqrt(m2[i - 1] / (period - 1)) * scale
    return out


def _annualisation(indicator: str, periods_per_year: float | None) -> float:
    if periods_per_year is None:
        return 1.0
    if (
        isinstance(periods_per_year, bool)
        or not isinstance(periods_per_year, int | float)
        or not math.isfinite(periods_per_year)
        or periods_per_year <= 0
    ):
        msg = f"{indicator}: periods_per_year must be a finite number > 0, got {periods_per_year!r}"
        raise ValueError(msg)
    return math.sqrt(periods_per_year)


def _refuse_price(indicator: str) -> None:
    msg = f"{indicator}: prices must be positive finite numbers to take log returns"
    raise ValueError(msg)


def realized_volatility(
    close: FloatArray, period: int = 20, periods_per_year: float | None = None
) -> FloatArray:
    """Return the rolling standard deviation of log returns, optionally annualised.

    Parameters
    ----------
    close
        Closing prices, all positive and finite.
    period
        Number of returns in the window, at least 2.
    periods_per_year
        Bars per year (252 for daily equity bars, 525_600 for round-the-clock minutes);
        when given the result is multiplied by ``sqrt(periods_per_year)``.

    Returns
    -------
    FloatArray
        ``std(r[i - period + 1 : i + 1], ddof=1)`` with ``r[i] = log(close[i] /
        close[i - 1])``: the sample standard deviation (divisor ``period - 1``), the
        usual estimator of volatility from a sample of returns. A window of identical
        returns gives exactly 0. NaN for the first ``period`` bars, as ``period``
        returns need ``period + 1`` closes.

    Raises
    ------
    ValueError
        If a parameter is invalid or a price is not a positive finite number.
    """
    check_period("realized_volatility", period, minimum=2)
    scale = _annualisation("realized_volatility", periods_per_year)
    c = as_series("realized_volatility", close)
    if not np.all(np.isfinite(c) & (c > 0.0)):
        _refuse_price("realized_volatility")
    if c.shape[0] == 0:
        return np.full(0, np.nan)
    _, m2 = rolling_moments(_log_returns(c), period)
    return _volatility_kernel(m2, period, scale)


class RealizedVolatility:
    """Streaming realized volatility: amortised O(1) per update, equal to the function."""

    __slots__ = ("_count", "_moments", "_prev", "_scale", "period", "periods_per_year", "value")

    def __init__(self, period: int = 20, periods_per_year: float | None = None) -> None:
        check_period("RealizedVolatility", period, minimum=2)
        self._scale = _annualisation("RealizedVolatility", periods_per_year)
        self.period = period
        self.periods_per_year = periods_per_year
        self._moments = RollingMoments(period)
        self._count = 0
        self._prev = 0.0
        self.value = _NAN

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up is over."""
        return self._moments.ready

    def update(self, close: float) -> float:
        """Add one close and return the volatility (NaN during warm-up)."""
        if not (close > 0.0 and math.isfinite(close)):
            _refuse_price("RealizedVolatility")
        self._count += 1
        prev = self._prev
        self._prev = close
        if self._count == 1:
            return self.value
        moments = self._moments
        ratio = close / prev
        if 0.0 < ratio < math.inf:
            moments.update(math.log(ratio))
        else:
            moments.update(math.log(close) - math.log(prev))
        if moments.ready:
            self.value = math.sqrt(moments.m2 / (self.period - 1)) * self._scale
        return self.value
