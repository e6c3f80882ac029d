"""Co-movement of returns: rolling correlation and RiskMetrics EWMA covariance."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from quantgrid.model import FloatArray
from quantgrid.risk._inputs import (
    _check_positive_float,
    _check_positive_int,
    _returns_2d,
)

RISKMETRICS_DAILY_LAMBDA = 0.94


def _covariance_to_correlation(cov: FloatArray) -> FloatArray:
    std = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / (std[..., :, None] * std[..., None, :])
    # Zero-variance assets have no correlation: NaN, as numpy.corrcoef gives.
    corr[~np.isfinite(corr)] = np.nan
    return np.asarray(np.clip(corr, -1.0, 1.0), dtype=np.float64)


def rolling_correlation(returns_matrix: npt.ArrayLike, window: int) -> FloatArray:
    """Return the rolling Pearson correlation matrix of each window of periods.

    Parameters
    ----------
    returns_matrix
        ``T x N`` asset returns.
    window
        Periods per window (at least 2). The window for row ``t`` is rows
        ``t - window + 1`` to ``t`` inclusive.

    Returns
    -------
    FloatArray
        ``T x N x N``. Rows ``0`` to ``window - 2`` (the warm-up) are NaN; a pair with
        a constant asset in the window is NaN.

    Notes
    -----
    Equals ``numpy.corrcoef(returns_matrix[t - window + 1 : t + 1], rowvar=False)`` for
    each complete window. Memory is ``O(T * N * window)``.
    """
    m = _returns_2d(returns_matrix)
    w = _check_positive_int("window", window)
    if w < 2:
        msg = f"window must be a whole number >= 2, got {window!r}"
        raise ValueError(msg)
    t, n = m.shape
    out = np.full((t, n, n), np.nan)
    if t < w:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(m, w, axis=0)  # (T-w+1, N, w)
    centered = windows - windows.mean(axis=2, keepdims=True)
    cov = np.einsum("kiw,kjw->kij", centered, centered) / (w - 1)
    out[w - 1 :] = _covariance_to_correlation(cov)
    return out


def _ewma_lambda(halflife: float | None, lam: float | None) -> float:
    if halflife is not None and lam is not None:
        msg = "give halflife or lam, not both"
        raise ValueError(msg)
    if halflife is not None:
        return math.pow(0.5, 1.0 / _check_positive_float("halflife", halflife))
    if lam is None:
        return RISKMETRICS_DAILY_LAMBDA
    if isinstance(lam, bool) or not (isinstance(lam, int | float) and 0.0 < lam < 1.0):
        msg = f"lam must be a number strictly between 0 and 1, got {lam!r}"
        raise ValueError(msg)
    return float(lam)


def ewma_covariance(
    returns_matrix: npt.ArrayLike,
    *,
    halflife: float | None = None,
    lam: float | None = None,
    seed_window: int = 20,
) -> FloatArray:
    """Return the RiskMetrics exponentially weighted covariance matrix at every period.

    Parameters
    ----------
    returns_matrix
        ``T x N`` asset returns.
    halflife
        Periods for a return's weight to halve; ``lam = 0.5 ** (1 / halflife)``.
    lam
        Decay factor in (0, 1). Give ``halflife`` or ``lam``, not both; with neither,
        ``lam = 0.94`` (RiskMetrics daily).
    seed_window
        Rows ``0`` to ``seed_window - 1`` seed the recursion with their sample
        covariance (``ddof=1``); at least 2 and at most ``T``.

    Returns
    -------
    FloatArray
        ``T x N x N``: row ``t`` is the estimate using returns up to and including
        ``t`` (the forecast for ``t + 1``). Rows before ``seed_window - 1`` are NaN.

    Notes
    -----
    ``S[seed_window - 1] = cov(r[:seed_window])`` and for later ``t``,
    ``S[t] = lam * S[t - 1] + (1 - lam) * outer(r[t], r[t])``: RiskMetrics assumes a
    zero mean in the update, so returns are not demeaned.
    """
    m = _returns_2d(returns_matrix)
    decay = _ewma_lambda(halflife, lam)
    s = _check_positive_int("seed_window", seed_window)
    t, n = m.shape
    if not 2 <= s <= t:
        msg = f"seed_window must be between 2 and the number of rows ({t}), got {seed_window}"
        raise ValueError(msg)
    out = np.full((t, n, n), np.nan)
    current = np.atleast_2d(np.cov(m[:s], rowvar=False, ddof=1))
    out[s - 1] = current
    for i in range(s, t):
        current = decay * current + (1.0 - decay) * np.outer(m[i], m[i])
        out[i] = current
    return out


def ewma_correlation(
    returns_matrix: npt.ArrayLike,
    *,
    halflife: float | None = None,
    lam: float | None = None,
    seed_window: int = 20,
) -> FloatArray:
    """Return the correlation matrices of :func:`ewma_covariance` (same arguments).

    Returns
    -------
    FloatArray
        ``T x N x N``, NaN before ``seed_window - 1`` and for zero-variance assets.
    """
    cov = ewma_covariance(returns_matrix, halflife=halflife, lam=lam, seed_window=seed_window)
    return _covariance_to_correlation(cov)


# ---------------------------------------------------------------- position sizing
