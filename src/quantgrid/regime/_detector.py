"""`RegimeDetector`: label each instrument's bars TRENDING, RANGING, CHOPPY or CRISIS."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from numba import njit

from quantgrid.indicators import ADX, ATR, ChoppinessIndex, adx, atr, choppiness_index
from quantgrid.model import Bar, BarSeries, FloatArray, IntArray
from quantgrid.regime._defaults import DEFAULT_MODEL
from quantgrid.regime._features import (
    F_ADX,
    F_AUTOCORR,
    F_CHOP,
    F_CORRELATION,
    F_EFFICIENCY,
    F_NATR,
    F_VOL_RATIO,
    F_VOLATILITY,
    N_FEATURES,
    market_features,
    market_step,
    new_state,
)
from quantgrid.regime._model import (
    UNKNOWN_REGIME,
    FeatureSettings,
    RegimeModel,
    classify_market,
    fit_model,
)

RegimeArray = npt.NDArray[np.int8]


class LabelledMarket(Protocol):
    """Bars of several instruments with the true regime of every bar (a `SyntheticMarket`)."""

    @property
    def bars(self) -> Mapping[str, BarSeries]:
        """Bar series by instrument id, all on the same timestamps."""
        ...

    @property
    def regimes(self) -> Mapping[str, RegimeArray]:
        """The true `Regime` value of every bar, by instrument id."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class RegimeFrame:
    """The regime of every bar of one instrument, with the features behind it.

    Attributes
    ----------
    instrument_id, ts
        The instrument and the bars' close times (UTC nanoseconds).
    regime
        `Regime` value per bar (int8), `UNKNOWN_REGIME` (-1) during the warm-up and
        wherever a feature is NaN.
    confidence
        Posterior probability of the regime given, in [0, 1]; 0 where it is unknown.
    natr
        ATR divided by the close.
    adx, choppiness
        Wilder's ADX and the Choppiness Index.
    efficiency
        ``|EWMA(r)| / EWMA(|r|)`` of log returns: near 1 in a clean trend.
    autocorrelation
        EWMA lag-1 autocorrelation of log returns: strongly negative in a chop.
    volatility, volatility_ratio
        Short EWMA volatility of log returns per bar, and its ratio to the long one.
    correlation
        Mean EWMA correlation of returns with each other instrument; NaN for a single
        instrument.
    """

    instrument_id: str
    ts: IntArray
    regime: RegimeArray
    confidence: FloatArray
    natr: FloatArray
    adx: FloatArray
    choppiness: FloatArray
    efficiency: FloatArray
    autocorrelation: FloatArray
    volatility: FloatArray
    volatility_ratio: FloatArray
    correlation: FloatArray

    def __len__(self) -> int:
        return len(self.ts)


class RegimeReading(NamedTuple):
    """The regime of one instrument at one timestamp; fields as in `RegimeFrame`."""

    instrument_id: str
    ts_event: int
    regime: int
    confidence: float
    natr: float
    adx: float
    choppiness: float
    efficiency: float
    autocorrelation: float
    volatility: float
    volatility_ratio: float
    correlation: float


@njit(cache=True)
def _classify_all(
    features: FloatArray,
    warmup: int,
    means: FloatArray,
    inv_full: FloatArray,
    logdet_full: FloatArray,
    inv_marginal: FloatArray,
    logdet_marginal: FloatArray,
    log_priors: FloatArray,
    gates: FloatArray,
) -> tuple[npt.NDArray[np.int8], FloatArray]:  # pragma: no cover - numba
    n, k, _ = features.shape
    regime = np.full((n, k), np.int8(UNKNOWN_REGIME))
    confidence = np.zeros((n, k))
    for t in range(warmup, n):
        classify_market(
            features[t], regime[t], confidence[t], means, inv_full, logdet_full,
            inv_marginal, logdet_marginal, log_priors, gates,
        )  # fmt: skip
    return regime, confidence


class _Stream:
    """Streaming state of one market: the indicators of each instrument and the EWMAs."""

    __slots__ = ("adx", "atr", "chop", "count", "cov", "ids", "last_ts", "shared", "state")

    def __init__(self, ids: tuple[str, ...], settings: FeatureSettings) -> None:
        self.ids = ids
        self.adx = [ADX(settings.adx_period) for _ in ids]
        self.atr = [ATR(settings.atr_period) for _ in ids]
        self.chop = [ChoppinessIndex(settings.choppiness_period) for _ in ids]
        self.state, self.shared, self.cov = new_state(len(ids))
        self.count = 0
        self.last_ts: int | None = None


class RegimeDetector:
    """Classify each instrument at each bar as TRENDING, RANGING, CHOPPY or CRISIS.

    Parameters
    ----------
    model
        A fitted `RegimeModel`; omitted, the shipped one (`DEFAULT_MODEL`), fitted on
        synthetic markets of the default `SyntheticConfig` (seeds 0-7).

    Notes
    -----
    Features per instrument and bar, each from that bar and earlier ones only: ATR/close,
    ADX, Choppiness Index, efficiency ratio, lag-1 autocorrelation, short volatility,
    short/long volatility ratio and the mean correlation with the other instruments.
    A Gaussian per regime (quadratic discriminant analysis) turns them into posterior
    probabilities; the most probable regime is given with its probability as confidence.
    CRISIS can only be called when the correlation and the volatility ratio both clear
    the gates fitted from training crises, so it always rests on a correlation spike
    together with a volatility jump; a single instrument is never in CRISIS.

    `detect` (whole arrays) and `update` (one timestamp at a time) give bit-identical
    results on the same bars. All instruments must share timestamps: the correlation
    needs every instrument's return at each one. The first ``settings.warmup_bars``
    bars are `UNKNOWN_REGIME` (-1) with confidence 0, as is any bar with a NaN feature.
    The shipped model knows the scale of the synthetic market (1-minute bars, its
    volatilities); fit one on labelled bars of the market you trade before relying on
    the labels elsewhere.
    """

    def __init__(self, model: RegimeModel | None = None) -> None:
        if model is None:
            model = DEFAULT_MODEL
        if not isinstance(model, RegimeModel):
            msg = f"RegimeDetector: model must be a RegimeModel, got {type(model).__name__}"
            raise TypeError(msg)
        self.model = model
        self._stream: _Stream | None = None

    @property
    def settings(self) -> FeatureSettings:
        """Return the feature look-backs of the model."""
        return self.model.settings

    # -- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(
        cls, markets: Sequence[LabelledMarket], settings: FeatureSettings | None = None
    ) -> RegimeDetector:
        """Fit a detector on markets whose regimes are known.

        Parameters
        ----------
        markets
            Labelled markets (e.g. `quantgrid.data.generate_market` on training seeds),
            each with at least two instruments.
        settings
            Feature look-backs; the defaults if omitted.

        Returns
        -------
        RegimeDetector
            A new detector with the fitted model.

        Raises
        ------
        ValueError
            If there are no markets, a market has one instrument or labels that do not
            match its bars, or a regime has too few bars to fit.
        """
        settings = FeatureSettings() if settings is None else settings
        if not markets:
            raise ValueError("RegimeDetector.fit: need at least one market")
        rows: list[FloatArray] = []
        labels: list[RegimeArray] = []
        for number, market in enumerate(markets):
            if len(market.bars) < 2:
                msg = f"RegimeDetector.fit: market {number} has fewer than two instruments"
                raise ValueError(msg)
            ids = sorted(market.bars)
            if sorted(market.regimes) != ids:
                msg = f"RegimeDetector.fit: market {number} has regimes for other instruments"
                raise ValueError(msg)
            features = _features(market.bars, ids, settings)[settings.warmup_bars :]
            truth = np.stack([np.asarray(market.regimes[i]) for i in ids], axis=1)
            if truth.shape[0] != features.shape[0] + settings.warmup_bars:
                msg = f"RegimeDetector.fit: market {number} has a label count unlike its bars"
                raise ValueError(msg)
            rows.append(features.reshape(-1, N_FEATURES))
            labels.append(truth[settings.warmup_bars :].reshape(-1).astype(np.int8))
        model = fit_model(np.concatenate(rows), np.concatenate(labels), settings)
        return cls(model)

    # -- vectorised ----------------------------------------------------------------------
    def detect(self, bars: Mapping[str, BarSeries]) -> dict[str, RegimeFrame]:
        """Classify every bar of every instrument.

        Parameters
        ----------
        bars
            Bar series by instrument id, all on the same strictly increasing timestamps.

        Returns
        -------
        dict of str to RegimeFrame
            One frame per instrument, in the order of ``bars``.

        Raises
        ------
        ValueError
            If ``bars`` is empty, the series' timestamps differ or do not increase, or a
            price is not a positive finite number.
        """
        ids = sorted(_check_series(bars))
        settings = self.settings
        features = _features(bars, ids, settings)
        regime, confidence = _classify_all(features, settings.warmup_bars, *self.model.compiled)
        ts = bars[ids[0]].ts
        frames: dict[str, RegimeFrame] = {}
        for iid in bars:
            i = ids.index(iid)
            row = features[:, i, :]
            frames[iid] = RegimeFrame(
                instrument_id=iid,
                ts=ts.copy(),
                regime=np.ascontiguousarray(regime[:, i]),
                confidence=np.ascontiguousarray(confidence[:, i]),
                natr=np.ascontiguousarray(row[:, F_NATR]),
                adx=np.ascontiguousarray(row[:, F_ADX]),
                choppiness=np.ascontiguousarray(row[:, F_CHOP]),
                efficiency=np.ascontiguousarray(row[:, F_EFFICIENCY]),
                autocorrelation=np.ascontiguousarray(row[:, F_AUTOCORR]),
                volatility=np.ascontiguousarray(row[:, F_VOLATILITY]),
                volatility_ratio=np.ascontiguousarray(row[:, F_VOL_RATIO]),
                correlation=np.ascontiguousarray(row[:, F_CORRELATION]),
            )
        return frames

    # -- streaming -----------------------------------------------------------------------
    def update(self, bars: Mapping[str, Bar]) -> dict[str, RegimeReading]:
        """Add the bars of one timestamp, one per instrument, and classify them.

        The first call fixes the instruments; every later call must bring one bar for
        each of them, all stamped with the same time, later than the previous call's.
        Gives exactly what `detect` gives for the same bars.

        Raises
        ------
        ValueError
            If an instrument is missing or new, the bars' times differ or do not move
            forward, a key is not its bar's instrument id, or a price is invalid. The
            detector's state is unchanged when it raises.
        """
        if not bars:
            raise ValueError("RegimeDetector.update: no bars given")
        stream = self._stream
        ids = tuple(sorted(bars))
        if stream is not None and ids != stream.ids:
            msg = (
                f"RegimeDetector.update: expected bars of {list(stream.ids)}, got {list(ids)}"
                " (call reset() to start over with other instruments)"
            )
            raise ValueError(msg)
        ts = _check_bars(bars, None if stream is None else stream.last_ts)
        if stream is None:
            stream = self._stream = _Stream(ids, self.settings)
        stream.last_ts = ts
        k = len(ids)
        close = np.empty(k)
        natr = np.empty(k)
        adx_now = np.empty(k)
        chop = np.empty(k)
        for i, iid in enumerate(ids):
            bar = bars[iid]
            close[i] = bar.close
            natr[i] = stream.atr[i].update(bar.high, bar.low, bar.close) / bar.close
            adx_now[i] = stream.adx[i].update(bar.high, bar.low, bar.close).adx
            chop[i] = stream.chop[i].update(bar.high, bar.low, bar.close)
        features = np.empty((k, N_FEATURES))
        market_step(
            close, natr, adx_now, chop, stream.state, stream.shared, stream.cov,
            self.settings.alphas(), features,
        )  # fmt: skip
        regime = np.full(k, np.int8(UNKNOWN_REGIME))
        confidence = np.zeros(k)
        if stream.count >= self.settings.warmup_bars:
            classify_market(features, regime, confidence, *self.model.compiled)
        stream.count += 1
        readings: dict[str, RegimeReading] = {}
        for iid in bars:
            i = ids.index(iid)
            row = features[i]
            readings[iid] = RegimeReading(
                iid, ts, int(regime[i]), float(confidence[i]),
                float(row[F_NATR]), float(row[F_ADX]), float(row[F_CHOP]),
                float(row[F_EFFICIENCY]), float(row[F_AUTOCORR]), float(row[F_VOLATILITY]),
                float(row[F_VOL_RATIO]), float(row[F_CORRELATION]),
            )  # fmt: skip
        return readings

    def reset(self) -> None:
        """Forget the streaming state: the next `update` starts a new warm-up."""
        self._stream = None


def _features(
    bars: Mapping[str, BarSeries], ids: Sequence[str], settings: FeatureSettings
) -> FloatArray:
    series = [bars[i] for i in ids]
    close = np.stack([s.close for s in series], axis=1)
    natr = np.stack(
        [atr(s.high, s.low, s.close, settings.atr_period) / s.close for s in series], axis=1
    )
    adx_line = np.stack(
        [adx(s.high, s.low, s.close, settings.adx_period).adx for s in series], axis=1
    )
    chop = np.stack(
        [choppiness_index(s.high, s.low, s.close, settings.choppiness_period) for s in series],
        axis=1,
    )
    return market_features(
        np.ascontiguousarray(close),
        np.ascontiguousarray(natr),
        np.ascontiguousarray(adx_line),
        np.ascontiguousarray(chop),
        settings.alphas(),
    )


def _check_series(bars: Mapping[str, BarSeries]) -> list[str]:
    if not isinstance(bars, Mapping) or not bars:
        raise ValueError("RegimeDetector.detect: need a non-empty mapping of id to BarSeries")
    ids = list(bars)
    first = None
    for iid in ids:
        series = bars[iid]
        if not isinstance(series, BarSeries):
            msg = f"RegimeDetector.detect: {iid!r} maps to {type(series).__name__}, not BarSeries"
            raise TypeError(msg)
        if first is None:
            first = series
            if len(series.ts) > 1 and not np.all(np.diff(series.ts) > 0):
                msg = f"RegimeDetector.detect: timestamps of {iid!r} must strictly increase"
                raise ValueError(msg)
        elif not np.array_equal(series.ts, first.ts):
            msg = (
                f"RegimeDetector.detect: {iid!r} and {ids[0]!r} have different timestamps; "
                "every instrument needs a bar at every timestamp"
            )
            raise ValueError(msg)
        for name in ("high", "low", "close"):
            column = getattr(series, name)
            if not np.all(np.isfinite(column) & (column > 0.0)):
                msg = f"RegimeDetector.detect: {iid!r} has a {name} that is not positive finite"
                raise ValueError(msg)
        if not np.all(series.high >= series.low):
            msg = f"RegimeDetector.detect: {iid!r} has a bar whose high is below its low"
            raise ValueError(msg)
    return ids


def _check_bars(bars: Mapping[str, Bar], last_ts: int | None) -> int:
    ts: int | None = None
    for iid, bar in bars.items():
        if not isinstance(bar, Bar):
            msg = f"RegimeDetector.update: {iid!r} maps to {type(bar).__name__}, not Bar"
            raise TypeError(msg)
        if bar.instrument_id != iid:
            msg = f"RegimeDetector.update: key {iid!r} holds a bar of {bar.instrument_id!r}"
            raise ValueError(msg)
        if ts is None:
            ts = bar.ts_event
        elif bar.ts_event != ts:
            msg = f"RegimeDetector.update: bars of one call must share ts_event ({ts})"
            raise ValueError(msg)
        for name in ("high", "low", "close"):
            value = getattr(bar, name)
            if not (math.isfinite(value) and value > 0.0):
                msg = f"RegimeDetector.update: {iid!r} {name} {value!r} is not positive finite"
                raise ValueError(msg)
        if bar.high < bar.low:
            msg = f"RegimeDetector.update: {iid!r} has high {bar.high} below low {bar.low}"
            raise ValueError(msg)
    assert ts is not None
    if last_ts is not None and ts <= last_ts:
        msg = f"RegimeDetector.update: ts_event {ts} is not after the previous {last_ts}"
        raise ValueError(msg)
    return ts
