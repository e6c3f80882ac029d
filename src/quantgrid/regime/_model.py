"""The regime classifier: a Gaussian class model (QDA) with a crisis gate, and its fit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt
from numba import njit

from quantgrid.model import FloatArray, Regime
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
)

UNKNOWN_REGIME = -1
"""The regime of a bar that cannot be classified yet (warm-up) or at all (NaN feature)."""

N_REGIMES = len(Regime)
_CRISIS = int(Regime.CRISIS)
# Floor of the logged positive features: a window with no price move has zero volatility.
_LOG_FLOOR = 1e-12
# Model space order: the cross-asset correlation comes last, so dropping the last row
# and column of a class's Gaussian gives its marginal for a single instrument.
_MODEL_ORDER = (F_NATR, F_ADX, F_CHOP, F_EFFICIENCY, F_AUTOCORR, F_VOL_RATIO, F_VOLATILITY)
_LOGGED = (F_NATR, F_VOL_RATIO, F_VOLATILITY)
N_MODEL = N_FEATURES


@dataclass(frozen=True, slots=True)
class FeatureSettings:
    """Look-backs of the features behind a regime, in bars.

    Attributes
    ----------
    adx_period, choppiness_period, atr_period
        Periods of Wilder's ADX, the Choppiness Index and the ATR (normalised by close).
    efficiency_span
        EWMA span of the efficiency ratio ``|EWMA(r)| / EWMA(|r|)`` of log returns.
    autocorrelation_span
        EWMA span of the lag-1 autocorrelation of log returns.
    short_vol_span, long_vol_span
        EWMA spans of the short and long volatility; their ratio measures a jump.
    correlation_span
        EWMA span of the pairwise return correlations.
    warmup_bars
        Bars classified `UNKNOWN_REGIME` (confidence 0) at the start, while the
        features settle.
    """

    adx_period: int = 14
    choppiness_period: int = 14
    atr_period: int = 14
    efficiency_span: int = 20
    autocorrelation_span: int = 50
    short_vol_span: int = 20
    long_vol_span: int = 1000
    correlation_span: int = 30
    warmup_bars: int = 100

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                msg = f"FeatureSettings.{item.name} must be a whole number >= 2, got {value!r}"
                raise ValueError(msg)
        if self.short_vol_span >= self.long_vol_span:
            msg = (
                f"FeatureSettings.short_vol_span ({self.short_vol_span}) must be smaller "
                f"than long_vol_span ({self.long_vol_span})"
            )
            raise ValueError(msg)
        # ADX is NaN for its first 2 * period - 1 bars: warm-up must cover it.
        first = max(2 * self.adx_period, self.choppiness_period + 1, self.atr_period + 1)
        if self.warmup_bars < first:
            msg = f"FeatureSettings.warmup_bars must be at least {first}, got {self.warmup_bars}"
            raise ValueError(msg)

    def alphas(self) -> FloatArray:
        """Return the EWMA weights in the order `market_step` reads them."""
        spans = (
            self.efficiency_span,
            self.autocorrelation_span,
            self.short_vol_span,
            self.long_vol_span,
            self.correlation_span,
        )
        return np.array([2.0 / (span + 1.0) for span in spans])


@dataclass(frozen=True, slots=True, eq=False)
class RegimeModel:
    """A fitted Gaussian class model over the regime features.

    Attributes
    ----------
    settings
        The feature look-backs the model was fitted with.
    means, covariances
        Per `Regime` (rows in `Regime` order), the mean and covariance of the feature
        vector ``(log natr, adx, choppiness, efficiency, autocorrelation,
        log volatility_ratio, log volatility, correlation)``.
    priors
        Share of each regime in the training bars.
    correlation_gate, vol_ratio_gate
        CRISIS needs the correlation and the volatility ratio at or above these.
    """

    settings: FeatureSettings
    means: FloatArray
    covariances: FloatArray
    priors: FloatArray
    correlation_gate: float
    vol_ratio_gate: float
    _compiled: tuple[FloatArray, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        means = np.ascontiguousarray(self.means, dtype=np.float64)
        covs = np.ascontiguousarray(self.covariances, dtype=np.float64)
        priors = np.ascontiguousarray(self.priors, dtype=np.float64)
        if means.shape != (N_REGIMES, N_MODEL) or covs.shape != (N_REGIMES, N_MODEL, N_MODEL):
            msg = (
                f"RegimeModel: means must be {N_REGIMES}x{N_MODEL} and covariances "
                f"{N_REGIMES}x{N_MODEL}x{N_MODEL}, got {means.shape} and {covs.shape}"
            )
            raise ValueError(msg)
        if priors.shape != (N_REGIMES,) or not np.all(priors > 0):
            msg = f"RegimeModel: priors must be {N_REGIMES} positive numbers, got {priors}"
            raise ValueError(msg)
        if not (np.all(np.isfinite(means)) and np.all(np.isfinite(covs))):
            raise ValueError("RegimeModel: means and covariances must be finite")
        m = N_MODEL - 1
        inv_full = np.empty_like(covs)
        inv_marginal = np.empty((N_REGIMES, m, m))
        logdet_full = np.empty(N_REGIMES)
        logdet_marginal = np.empty(N_REGIMES)
        for c in range(N_REGIMES):
            for cov, inv, logdet in (
                (covs[c], inv_full, logdet_full),
                (covs[c, :m, :m], inv_marginal, logdet_marginal),
            ):
                sign, value = np.linalg.slogdet(cov)
                if sign <= 0:
                    msg = f"RegimeModel: covariance of {Regime(c).name} is not positive definite"
                    raise ValueError(msg)
                inv[c] = np.linalg.inv(cov)
                logdet[c] = value
        gates = np.array([self.correlation_gate, self.vol_ratio_gate], dtype=np.float64)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "covariances", covs)
        object.__setattr__(self, "priors", priors)
        compiled = (
            means,
            inv_full,
            logdet_full,
            inv_marginal,
            logdet_marginal,
            np.log(priors / priors.sum()),
            gates,
        )
        object.__setattr__(self, "_compiled", compiled)

    @property
    def compiled(self) -> tuple[FloatArray, ...]:
        """Return the arrays `classify_market` takes, after the model's own arguments."""
        return self._compiled


def model_vectors(features: FloatArray) -> FloatArray:
    """Map feature rows (``(..., N_FEATURES)``) into the model space, as in `classify`."""
    out = np.empty((*features.shape[:-1], N_MODEL))
    for position, column in enumerate(_MODEL_ORDER):
        value = features[..., column]
        out[..., position] = np.log(np.maximum(value, _LOG_FLOOR)) if column in _LOGGED else value
    out[..., N_MODEL - 1] = features[..., F_CORRELATION]
    return out


def fit_model(
    features: FloatArray, labels: npt.NDArray[np.int8], settings: FeatureSettings
) -> RegimeModel:
    """Fit the class Gaussians and the crisis gate to labelled feature rows.

    ``features`` is ``(rows, N_FEATURES)`` (warm-up rows already removed); rows with a
    NaN feature are skipped.
    """
    x = model_vectors(features)
    usable = np.all(np.isfinite(x), axis=1)
    x, y = x[usable], labels[usable]
    means = np.empty((N_REGIMES, N_MODEL))
    covs = np.empty((N_REGIMES, N_MODEL, N_MODEL))
    priors = np.empty(N_REGIMES)
    for regime in Regime:
        rows = x[y == regime]
        if rows.shape[0] < 2 * N_MODEL:
            msg = (
                f"RegimeDetector.fit: {rows.shape[0]} usable bars of {regime.name}; "
                f"need at least {2 * N_MODEL} to fit its Gaussian"
            )
            raise ValueError(msg)
        means[regime] = rows.mean(axis=0)
        cov = np.cov(rows, rowvar=False)
        # A whisker of ridge keeps a degenerate feature (e.g. constant) invertible.
        cov += np.eye(N_MODEL) * (1e-9 * float(np.trace(cov)) / N_MODEL + 1e-12)
        covs[regime] = cov
        priors[regime] = rows.shape[0] / x.shape[0]
    crisis = x[y == _CRISIS]
    # The gates keep 98 % of the training crisis bars: a CRISIS call must see both a
    # correlation spike and a volatility jump of the size a crisis typically brings.
    correlation_gate = float(np.quantile(crisis[:, N_MODEL - 1], 0.02))
    vol_ratio_gate = float(np.exp(np.quantile(crisis[:, 5], 0.02)))
    return RegimeModel(settings, means, covs, priors, correlation_gate, vol_ratio_gate)


@njit(cache=True)
def classify_market(
    features: FloatArray,
    regime_out: npt.NDArray[np.int8],
    confidence_out: FloatArray,
    means: FloatArray,
    inv_full: FloatArray,
    logdet_full: FloatArray,
    inv_marginal: FloatArray,
    logdet_marginal: FloatArray,
    log_priors: FloatArray,
    gates: FloatArray,
) -> None:  # pragma: no cover - numba
    """Classify each instrument's feature row (``(instruments, N_FEATURES)``).

    The confidence is the posterior probability of the regime chosen. Without a
    correlation (one instrument) the marginal Gaussians without it are used and CRISIS
    is ruled out; a row with any other NaN feature is `UNKNOWN_REGIME`.
    """
    k = features.shape[0]
    x = np.empty(N_MODEL)
    scores = np.empty(N_REGIMES)
    for i in range(k):
        row = features[i]
        usable = True
        for f in range(N_MODEL - 1):
            if math.isnan(row[_MODEL_ORDER[f]]):
                usable = False
        if not usable:
            regime_out[i] = UNKNOWN_REGIME
            confidence_out[i] = 0.0
            continue
        x[0] = math.log(max(row[F_NATR], _LOG_FLOOR))
        x[1] = row[F_ADX]
        x[2] = row[F_CHOP]
        x[3] = row[F_EFFICIENCY]
        x[4] = row[F_AUTOCORR]
        x[5] = math.log(max(row[F_VOL_RATIO], _LOG_FLOOR))
        x[6] = math.log(max(row[F_VOLATILITY], _LOG_FLOOR))
        x[7] = row[F_CORRELATION]
        has_correlation = not math.isnan(x[7])
        m = N_MODEL if has_correlation else N_MODEL - 1
        crisis_allowed = has_correlation and x[7] >= gates[0] and row[F_VOL_RATIO] >= gates[1]
        best = -np.inf
        for c in range(N_REGIMES):
            if c == _CRISIS and not crisis_allowed:
                scores[c] = -np.inf
                continue
            quad = 0.0
            for a in range(m):
                da = x[a] - means[c, a]
                inner = 0.0
                for b in range(m):
                    inv = inv_full[c, a, b] if has_correlation else inv_marginal[c, a, b]
                    inner += inv * (x[b] - means[c, b])
                quad += da * inner
            logdet = logdet_full[c] if has_correlation else logdet_marginal[c]
            score = log_priors[c] - 0.5 * (quad + logdet)
            scores[c] = score
            best = max(best, score)
        total = 0.0
        chosen = -1
        for c in range(N_REGIMES):
            total += math.exp(scores[c] - best)
            if chosen < 0 and scores[c] == best:
                chosen = c
        regime_out[i] = chosen
        confidence_out[i] = 1.0 / total
