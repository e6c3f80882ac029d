"""The built-in features: scale-free transforms of the streaming indicators.

Every feature is a return, a ratio or an oscillator, so one model serves instruments at
any price level. Each builds on an indicator of `quantgrid.indicators`, whose function
and class agree bit for bit; the arithmetic on top (a division, a subtraction) is done
in the same order on both sides, and IEEE arithmetic rounds a float64 array operation
exactly as it rounds the same operation on Python floats, so each feature's vector and
stream agree bit for bit too. Logarithms are taken by `math.log` in both forms (compiled
by numba in the vector one).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numba import njit

from quantgrid.indicators import (
    ADX,
    ATR,
    EMA,
    MACD,
    RSI,
    BollingerBands,
    ChoppinessIndex,
    RealizedVolatility,
    ZScore,
    adx,
    atr,
    bollinger_bands,
    choppiness_index,
    ema,
    macd,
    realized_volatility,
    rsi,
    zscore,
)
from quantgrid.indicators._checks import check_period
from quantgrid.ml._features import Feature, FeatureSet, FeatureState
from quantgrid.model import Bar, BarSeries, FloatArray

_NAN = math.nan


def _check_longer(feature: str, short: tuple[str, int], long: tuple[str, int]) -> None:
    if long[1] <= short[1]:
        msg = (
            f"{feature}: {long[0]} must be greater than {short[0]}, "
            f"got {short[0]}={short[1]}, {long[0]}={long[1]}"
        )
        raise ValueError(msg)


def _divide(numerator: FloatArray, denominator: FloatArray, at_zero: float) -> FloatArray:
    """Return ``numerator / denominator``, and ``at_zero`` where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(denominator == 0.0, at_zero, ratio)


def _ratio(numerator: float, denominator: float, at_zero: float) -> float:
    return at_zero if denominator == 0.0 else numerator / denominator


# -- returns and volatility ---------------------------------------------------------------
@njit(cache=True)
def _log_return_kernel(close: FloatArray, lag: int) -> FloatArray:  # pragma: no cover - numba
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(lag, n):
        out[i] = math.log(close[i] / close[i - lag])
    return out


class _LogReturnState:
    __slots__ = ("_closes", "_window")

    def __init__(self, lag: int) -> None:
        self._window = lag + 1
        self._closes: deque[float] = deque(maxlen=self._window)

    def update(self, bar: Bar) -> float:
        closes = self._closes
        closes.append(bar.close)
        if len(closes) < self._window:
            return _NAN
        return math.log(closes[-1] / closes[0])


@dataclass(frozen=True)
class LogReturn(Feature):
    """Log return of the close over the last ``bars`` bars: ``log(c[i] / c[i - bars])``."""

    kind = "log_return"
    bars: int = 1

    def __post_init__(self) -> None:
        check_period("LogReturn", self.bars, name="bars", minimum=1)

    @property
    def warmup(self) -> int:
        """Return ``bars``: the first return needs ``bars + 1`` closes."""
        return self.bars

    def _compute(self, bars: BarSeries) -> FloatArray:
        return _log_return_kernel(bars.close, self.bars)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _LogReturnState(self.bars)


class _RealizedVolState:
    __slots__ = ("_vol",)

    def __init__(self, period: int) -> None:
        self._vol = RealizedVolatility(period)

    def update(self, bar: Bar) -> float:
        return self._vol.update(bar.close)


@dataclass(frozen=True)
class RealizedVol(Feature):
    """Standard deviation of the last ``period`` one-bar log returns (per bar, ddof 1)."""

    kind = "realized_vol"
    period: int = 20

    def __post_init__(self) -> None:
        check_period("RealizedVol", self.period, name="period", minimum=2)

    @property
    def warmup(self) -> int:
        """Return ``period``: ``period`` returns need ``period + 1`` closes."""
        return self.period

    def _compute(self, bars: BarSeries) -> FloatArray:
        return realized_volatility(bars.close, self.period)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _RealizedVolState(self.period)


class _VolRatioState:
    __slots__ = ("_long", "_short")

    def __init__(self, short: int, long: int) -> None:
        self._short = RealizedVolatility(short)
        self._long = RealizedVolatility(long)

    def update(self, bar: Bar) -> float:
        short = self._short.update(bar.close)
        return _ratio(short, self._long.update(bar.close), 1.0)


@dataclass(frozen=True)
class VolatilityRatio(Feature):
    """Short over long realized volatility: above 1 when volatility is picking up.

    A long window of identical returns (volatility 0) gives 1.
    """

    kind = "vol_ratio"
    short_period: int = 10
    long_period: int = 50

    def __post_init__(self) -> None:
        check_period("VolatilityRatio", self.short_period, name="short_period", minimum=2)
        check_period("VolatilityRatio", self.long_period, name="long_period", minimum=2)
        _check_longer(
            "VolatilityRatio",
            ("short_period", self.short_period),
            ("long_period", self.long_period),
        )

    @property
    def warmup(self) -> int:
        """Return ``long_period``."""
        return self.long_period

    def _compute(self, bars: BarSeries) -> FloatArray:
        short = realized_volatility(bars.close, self.short_period)
        return _divide(short, realized_volatility(bars.close, self.long_period), 1.0)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _VolRatioState(self.short_period, self.long_period)


class _NormalizedATRState:
    __slots__ = ("_atr",)

    def __init__(self, period: int) -> None:
        self._atr = ATR(period)

    def update(self, bar: Bar) -> float:
        return self._atr.update(bar.high, bar.low, bar.close) / bar.close


@dataclass(frozen=True)
class NormalizedATR(Feature):
    """Wilder's average true range over the close: the typical bar's range as a fraction."""

    kind = "natr"
    period: int = 14

    def __post_init__(self) -> None:
        check_period("NormalizedATR", self.period, name="period", minimum=1)

    @property
    def warmup(self) -> int:
        """Return ``period``."""
        return self.period

    def _compute(self, bars: BarSeries) -> FloatArray:
        return atr(bars.high, bars.low, bars.close, self.period) / bars.close

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _NormalizedATRState(self.period)


# -- oscillators --------------------------------------------------------------------------
class _RSIState:
    __slots__ = ("_rsi",)

    def __init__(self, period: int) -> None:
        self._rsi = RSI(period)

    def update(self, bar: Bar) -> float:
        return self._rsi.update(bar.close)


@dataclass(frozen=True)
class RelativeStrengthIndex(Feature):
    """Wilder's RSI of the close, in [0, 100]."""

    kind = "rsi"
    period: int = 14

    def __post_init__(self) -> None:
        check_period("RelativeStrengthIndex", self.period, name="period", minimum=1)

    @property
    def warmup(self) -> int:
        """Return ``period``."""
        return self.period

    def _compute(self, bars: BarSeries) -> FloatArray:
        return rsi(bars.close, self.period)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _RSIState(self.period)


class _CloseZScoreState:
    __slots__ = ("_z",)

    def __init__(self, period: int) -> None:
        self._z = ZScore(period)

    def update(self, bar: Bar) -> float:
        return self._z.update(bar.close)


@dataclass(frozen=True)
class CloseZScore(Feature):
    """How many standard deviations the close is from its ``period``-bar mean."""

    kind = "close_zscore"
    period: int = 20

    def __post_init__(self) -> None:
        check_period("CloseZScore", self.period, name="period", minimum=2)

    @property
    def warmup(self) -> int:
        """Return ``period - 1``."""
        return self.period - 1

    def _compute(self, bars: BarSeries) -> FloatArray:
        return zscore(bars.close, self.period)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _CloseZScoreState(self.period)


class _VolumeZScoreState:
    __slots__ = ("_z",)

    def __init__(self, period: int) -> None:
        self._z = ZScore(period)

    def update(self, bar: Bar) -> float:
        return self._z.update(bar.volume)


@dataclass(frozen=True)
class VolumeZScore(Feature):
    """How many standard deviations the volume is from its ``period``-bar mean."""

    kind = "volume_zscore"
    period: int = 20

    def __post_init__(self) -> None:
        check_period("VolumeZScore", self.period, name="period", minimum=2)

    @property
    def warmup(self) -> int:
        """Return ``period - 1``."""
        return self.period - 1

    def _compute(self, bars: BarSeries) -> FloatArray:
        return zscore(bars.volume, self.period)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _VolumeZScoreState(self.period)


class _MACDHistogramState:
    __slots__ = ("_macd",)

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        self._macd = MACD(fast, slow, signal)

    def update(self, bar: Bar) -> float:
        return self._macd.update(bar.close).histogram / bar.close


@dataclass(frozen=True)
class MACDHistogram(Feature):
    """The MACD histogram (MACD line minus its signal) over the close."""

    kind = "macd_hist"
    fast_period: int = 12
    slow_period: int = 26
    signal_period: int = 9

    def __post_init__(self) -> None:
        check_period("MACDHistogram", self.fast_period, name="fast_period", minimum=2)
        check_period("MACDHistogram", self.slow_period, name="slow_period", minimum=2)
        check_period("MACDHistogram", self.signal_period, name="signal_period", minimum=1)
        _check_longer(
            "MACDHistogram", ("fast_period", self.fast_period), ("slow_period", self.slow_period)
        )

    @property
    def warmup(self) -> int:
        """Return ``slow_period + signal_period - 2``."""
        return self.slow_period + self.signal_period - 2

    def _compute(self, bars: BarSeries) -> FloatArray:
        out = macd(bars.close, self.fast_period, self.slow_period, self.signal_period)
        return out.histogram / bars.close

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _MACDHistogramState(self.fast_period, self.slow_period, self.signal_period)


class _PercentBState:
    __slots__ = ("_bands",)

    def __init__(self, period: int, nbdev: float) -> None:
        self._bands = BollingerBands(period, nbdev, nbdev)

    def update(self, bar: Bar) -> float:
        _, upper, lower = self._bands.update(bar.close)
        return _ratio(bar.close - lower, upper - lower, 0.5)


@dataclass(frozen=True)
class BollingerPercentB(Feature):
    """Where the close sits in its Bollinger Bands: 0 at the lower band, 1 at the upper.

    A window of identical closes (bands of width 0) gives 0.5.
    """

    kind = "bollinger_pct_b"
    period: int = 20
    nbdev: float = 2.0

    def __post_init__(self) -> None:
        check_period("BollingerPercentB", self.period, name="period", minimum=2)
        if (
            isinstance(self.nbdev, bool)
            or not isinstance(self.nbdev, int | float)
            or not (math.isfinite(self.nbdev) and self.nbdev > 0)
        ):
            msg = f"BollingerPercentB: nbdev must be a finite number > 0, got {self.nbdev!r}"
            raise ValueError(msg)
        # 2 and 2.0 are one definition: keep one spelling, so one fingerprint.
        object.__setattr__(self, "nbdev", float(self.nbdev))

    @property
    def warmup(self) -> int:
        """Return ``period - 1``."""
        return self.period - 1

    def _compute(self, bars: BarSeries) -> FloatArray:
        _, upper, lower = bollinger_bands(bars.close, self.period, self.nbdev, self.nbdev)
        return _divide(bars.close - lower, upper - lower, 0.5)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _PercentBState(self.period, self.nbdev)


class _EMADistanceState:
    __slots__ = ("_ema", "_vol")

    def __init__(self, period: int, vol_period: int) -> None:
        self._ema = EMA(period)
        self._vol = RealizedVolatility(vol_period)

    def update(self, bar: Bar) -> float:
        average = self._ema.update(bar.close)
        vol = self._vol.update(bar.close)
        return _ratio(bar.close / average - 1.0, vol, 0.0)


@dataclass(frozen=True)
class EMADistance(Feature):
    """Distance of the close from its EMA, in units of realized volatility.

    ``(close / ema - 1) / realized_vol``: how many typical one-bar moves the close is
    above (positive) or below its average. 0 while the volatility is 0.
    """

    kind = "ema_distance"
    period: int = 20
    vol_period: int = 20

    def __post_init__(self) -> None:
        check_period("EMADistance", self.period, name="period", minimum=1)
        check_period("EMADistance", self.vol_period, name="vol_period", minimum=2)

    @property
    def warmup(self) -> int:
        """Return ``max(period - 1, vol_period)``."""
        return max(self.period - 1, self.vol_period)

    def _compute(self, bars: BarSeries) -> FloatArray:
        average = ema(bars.close, self.period)
        vol = realized_volatility(bars.close, self.vol_period)
        return _divide(bars.close / average - 1.0, vol, 0.0)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _EMADistanceState(self.period, self.vol_period)


# -- trend --------------------------------------------------------------------------------
class _ADXState:
    __slots__ = ("_adx",)

    def __init__(self, period: int) -> None:
        self._adx = ADX(period)

    def update(self, bar: Bar) -> float:
        return self._adx.update(bar.high, bar.low, bar.close).adx


@dataclass(frozen=True)
class AverageDirectionalIndex(Feature):
    """Wilder's ADX, in [0, 100]: how strongly the market trends, whichever way."""

    kind = "adx"
    period: int = 14

    def __post_init__(self) -> None:
        check_period("AverageDirectionalIndex", self.period, name="period", minimum=2)

    @property
    def warmup(self) -> int:
        """Return ``2 * period - 1``."""
        return 2 * self.period - 1

    def _compute(self, bars: BarSeries) -> FloatArray:
        return adx(bars.high, bars.low, bars.close, self.period).adx

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _ADXState(self.period)


class _ChoppinessState:
    __slots__ = ("_chop",)

    def __init__(self, period: int) -> None:
        self._chop = ChoppinessIndex(period)

    def update(self, bar: Bar) -> float:
        return self._chop.update(bar.high, bar.low, bar.close)


@dataclass(frozen=True)
class Choppiness(Feature):
    """The Choppiness Index, near 100 sideways and low in a trend.

    NaN also after the warm-up over a window whose highest high equals its lowest low.
    """

    kind = "choppiness"
    period: int = 14

    def __post_init__(self) -> None:
        check_period("Choppiness", self.period, name="period", minimum=2)

    @property
    def warmup(self) -> int:
        """Return ``period``."""
        return self.period

    def _compute(self, bars: BarSeries) -> FloatArray:
        return choppiness_index(bars.high, bars.low, bars.close, self.period)

    def stream(self) -> FeatureState:
        """Return a fresh streaming state."""
        return _ChoppinessState(self.period)


def default_feature_set() -> FeatureSet:
    """Return the built-in feature set ``"default"``: momentum, volatility and trend.

    Returns
    -------
    FeatureSet
        Log returns over 1, 5 and 20 bars; RSI 14; realized volatility 20 and the 10/50
        volatility ratio; z-scores of the close and of the volume over 20 bars; ADX 14;
        Choppiness 14; the MACD(12, 26, 9) histogram and ATR 14, both over the close;
        Bollinger %b (20, 2); the distance of the close from its 50-bar EMA in units
        of 20-bar volatility. The longest warm-up is 50 bars.
    """
    return FeatureSet(
        "default",
        (
            LogReturn(1),
            LogReturn(5),
            LogReturn(20),
            RelativeStrengthIndex(14),
            RealizedVol(20),
            VolatilityRatio(10, 50),
            CloseZScore(20),
            VolumeZScore(20),
            AverageDirectionalIndex(14),
            Choppiness(14),
            MACDHistogram(12, 26, 9),
            NormalizedATR(14),
            BollingerPercentB(20, 2.0),
            EMADistance(50, 20),
        ),
    )
