"""Portfolio risk: value at risk, expected shortfall, co-movement and position sizing.

Conventions
-----------
Returns
    Simple periodic returns as fractions (``0.01`` is +1 %). A returns matrix is
    ``T x N``: one row per period, one column per asset.
Sign
    VaR and CVaR are **losses**, reported as positive fractions of portfolio value:
    ``historical_var(r, 0.99) == 0.03`` means a 1-in-100 period loses at least 3 %.
    The loss is ``-return``. When even the tail of the distribution is a gain the
    figure is negative; it is not clipped at zero.
Confidence
    The probability of *not* exceeding the VaR, strictly between 0 and 1 (``0.99``).
    VaR is the ``confidence`` quantile of the loss distribution; CVaR (expected
    shortfall) is the mean loss at or beyond the VaR.
Horizon
    A whole number of periods. Multi-period returns are the **sum** of the periodic
    returns (exact for log returns, a close approximation for small simple returns).
    Historical figures use overlapping ``horizon``-period sums by default (keeps fat
    tails and autocorrelation; ``scaling="sqrt_time"`` scales the one-period figure by
    ``sqrt(horizon)`` instead). Parametric and Monte Carlo figures assume i.i.d.
    periods: mean ``x h``, covariance ``x h``.
Moments
    Standard deviations and covariances use ``ddof=1``; skewness and excess kurtosis are
    the biased sample moments (``scipy.stats.skew``, ``scipy.stats.kurtosis``).

References
----------
J.P. Morgan/Reuters (1996). *RiskMetrics - Technical Document*, 4th ed.

Zangari, P. (1996). A VaR methodology for portfolios that include options.
*RiskMetrics Monitor*, Q1, 4-12 (Cornish-Fisher VaR).

Kelly, J. L. (1956). A new interpretation of information rate. *Bell System Technical
Journal*, 35(4), 917-926.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from quantgrid.model import FloatArray
from quantgrid.risk._inputs import (
    _check_confidence,
    _check_positive_int,
    _returns_1d,
    _returns_2d,
    _weights,
)

ParametricMethod = Literal["normal", "cornish_fisher"]
HorizonScaling = Literal["overlapping", "sqrt_time"]


def _stats() -> Any:
    """Return ``scipy.stats``, imported on first use: scipy is heavy and rarely needed."""
    from scipy import stats  # type: ignore[import-untyped]  # noqa: PLC0415 - scipy ships no stubs

    return stats


class ReturnMoments(NamedTuple):
    """Per-period moments of a return distribution, for the parametric estimators.

    ``skewness`` and ``excess_kurtosis`` are used only by ``method="cornish_fisher"``.
    """

    mean: float
    std: float
    skewness: float = 0.0
    excess_kurtosis: float = 0.0


# --------------------------------------------------------------------------- validation


def _loss_quantile(losses: FloatArray, confidence: float) -> tuple[float, float]:
    """Return (VaR, CVaR) of a sample of losses: linear-interpolated quantile, tail mean."""
    var = float(np.quantile(losses, confidence))
    cvar = float(losses[losses >= var].mean())
    return var, cvar


def _historical(
    returns: npt.ArrayLike, confidence: float, horizon: int, scaling: HorizonScaling
) -> tuple[float, float]:
    c = _check_confidence(confidence)
    h = _check_positive_int("horizon", horizon)
    if scaling == "overlapping":
        r = _returns_1d(returns, min_length=h)
        cumulative = np.concatenate(([0.0], np.cumsum(r)))
        return _loss_quantile(-(cumulative[h:] - cumulative[:-h]), c)
    if scaling == "sqrt_time":
        var, cvar = _loss_quantile(-_returns_1d(returns), c)
        return var * math.sqrt(h), cvar * math.sqrt(h)
    msg = f"scaling must be 'overlapping' or 'sqrt_time', got {scaling!r}"
    raise ValueError(msg)


def historical_var(
    returns: npt.ArrayLike,
    confidence: float,
    horizon: int = 1,
    *,
    scaling: HorizonScaling = "overlapping",
) -> float:
    """Return the historical value at risk: the empirical quantile of losses.

    Parameters
    ----------
    returns
        Periodic portfolio returns (1-D, finite).
    confidence
        Probability of not exceeding the VaR, in (0, 1), e.g. ``0.99``.
    horizon
        Periods the loss is measured over.
    scaling
        ``"overlapping"`` (default) builds every overlapping ``horizon``-period sum of
        returns and takes their quantile; ``"sqrt_time"`` multiplies the one-period VaR
        by ``sqrt(horizon)``.

    Returns
    -------
    float
        VaR as a positive loss fraction of portfolio value.

    Notes
    -----
    The quantile is ``numpy.quantile(-returns, confidence)`` with linear interpolation.
    Overlapping windows are not independent, so a long horizon on a short history gives
    few effective observations.
    """
    return _historical(returns, confidence, horizon, scaling)[0]


def historical_cvar(
    returns: npt.ArrayLike,
    confidence: float,
    horizon: int = 1,
    *,
    scaling: HorizonScaling = "overlapping",
) -> float:
    """Return the historical conditional VaR (expected shortfall).

    Parameters are those of :func:`historical_var`.

    Returns
    -------
    float
        Mean of the losses at or beyond the historical VaR, a positive loss fraction.

    Notes
    -----
    ``historical_cvar >= historical_var`` always: the mean is taken over losses that are
    at least the VaR, and the largest loss always qualifies.
    """
    return _historical(returns, confidence, horizon, scaling)[1]


# ----------------------------------------------------------------------- parametric


def _moments(returns: npt.ArrayLike | ReturnMoments) -> ReturnMoments:
    if isinstance(returns, ReturnMoments):
        if not all(math.isfinite(x) for x in returns):
            msg = f"ReturnMoments must be finite, got {returns!r}"
            raise ValueError(msg)
        if returns.std < 0:
            msg = f"ReturnMoments.std must be >= 0, got {returns.std!r}"
            raise ValueError(msg)
        return returns
    r = _returns_1d(returns, min_length=3)
    std = float(np.std(r, ddof=1))
    if std == 0.0:
        # Higher moments are undefined without spread; the distribution is a point.
        return ReturnMoments(float(r.mean()), 0.0)
    return ReturnMoments(
        mean=float(r.mean()),
        std=std,
        skewness=float(_stats().skew(r)),
        excess_kurtosis=float(_stats().kurtosis(r)),
    )


def _cornish_fisher_coefficients(skew: float, kurt: float) -> tuple[float, float, float, float]:
    """Return (a0, a1, a2, a3) with ``z_cf = a0 + a1 z + a2 z^2 + a3 z^3``."""
    return (
        -skew / 6.0,
        1.0 - 3.0 * kurt / 24.0 + 5.0 * skew * skew / 36.0,
        skew / 6.0,
        kurt / 24.0 - 2.0 * skew * skew / 36.0,
    )


def _parametric(
    returns: npt.ArrayLike | ReturnMoments,
    confidence: float,
    horizon: int,
    method: ParametricMethod,
) -> tuple[float, float]:
    c = _check_confidence(confidence)
    h = _check_positive_int("horizon", horizon)
    if method not in ("normal", "cornish_fisher"):
        msg = f"method must be 'normal' or 'cornish_fisher', got {method!r}"
        raise ValueError(msg)
    m = _moments(returns)
    mean_h = m.mean * h
    std_h = m.std * math.sqrt(h)
    alpha = 1.0 - c
    q = float(_stats().norm.ppf(alpha))  # left-tail standard normal quantile (negative)
    phi = float(_stats().norm.pdf(q))
    if method == "normal":
        return -mean_h - std_h * q, -mean_h + std_h * phi / alpha
    # Moments of a sum of h i.i.d. periods: skewness / sqrt(h), excess kurtosis / h.
    a0, a1, a2, a3 = _cornish_fisher_coefficients(m.skewness / math.sqrt(h), m.excess_kurtosis / h)
    z_cf = a0 + a1 * q + a2 * q**2 + a3 * q**3
    # E[Z^k | Z < q] from the truncated normal moments M_k = -q^(k-1) phi + (k-1) M_(k-2).
    m0 = alpha
    m1 = -phi
    m2 = -q * phi + m0
    m3 = -q * q * phi + 2.0 * m1
    tail_z_cf = (a0 * m0 + a1 * m1 + a2 * m2 + a3 * m3) / alpha
    return -mean_h - std_h * z_cf, -mean_h - std_h * tail_z_cf


def parametric_var(
    returns: npt.ArrayLike | ReturnMoments,
    confidence: float,
    horizon: int = 1,
    *,
    method: ParametricMethod = "normal",
) -> float:
    """Return the parametric value at risk from the moments of the returns.

    Parameters
    ----------
    returns
        Periodic returns (1-D, at least 3, finite), whose sample moments are used, or a
        :class:`ReturnMoments` giving per-period mean, std (and, for Cornish-Fisher,
        skewness and excess kurtosis) directly. A plain tuple is read as returns.
    confidence
        Probability of not exceeding the VaR, in (0, 1), e.g. ``0.99``.
    horizon
        Periods the loss is measured over; mean scales by ``h``, std by ``sqrt(h)``.
    method
        ``"normal"``: ``VaR = -mu_h + sigma_h * Phi^-1(c)``. ``"cornish_fisher"``:
        the normal quantile ``z = Phi^-1(1 - c)`` is replaced by
        ``z + (z^2 - 1) S / 6 + (z^3 - 3 z) K / 24 - (2 z^3 - 5 z) S^2 / 36`` with skewness
        ``S`` and excess kurtosis ``K``, and ``VaR = -(mu_h + sigma_h * z_cf)``.

    Returns
    -------
    float
        VaR as a positive loss fraction of portfolio value.

    Notes
    -----
    Over ``h`` i.i.d. periods the skewness scales by ``1 / sqrt(h)`` and the excess
    kurtosis by ``1 / h`` before the Cornish-Fisher expansion. The expansion is only
    reliable for moderate skewness and kurtosis; it is not monotone far from normal.
    """
    return _parametric(returns, confidence, horizon, method)[0]


def parametric_cvar(
    returns: npt.ArrayLike | ReturnMoments,
    confidence: float,
    horizon: int = 1,
    *,
    method: ParametricMethod = "normal",
) -> float:
    """Return the parametric conditional VaR (expected shortfall).

    Parameters are those of :func:`parametric_var`.

    Returns
    -------
    float
        Expected loss beyond the VaR, a positive loss fraction. ``"normal"``:
        ``-mu_h + sigma_h * phi(Phi^-1(c)) / (1 - c)``. ``"cornish_fisher"``: the mean of
        the Cornish-Fisher quantile over the tail, ``(1 / (1 - c)) * integral over
        u in (0, 1 - c) of VaR_u``, in closed form from truncated normal moments.

    Notes
    -----
    The Cornish-Fisher CVaR averages the same quantile function the VaR uses, so the two
    are consistent; it differs from the Edgeworth-based "modified ES" of Boudt et al.
    """
    return _parametric(returns, confidence, horizon, method)[1]


# ---------------------------------------------------------------------- Monte Carlo


def portfolio_returns(returns_matrix: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """Return the periodic returns of a portfolio rebalanced to constant weights.

    Parameters
    ----------
    returns_matrix
        ``T x N`` asset returns.
    weights
        ``N`` portfolio weights as fractions of portfolio value (need not sum to 1;
        a shortfall is cash at zero return, negative weights are shorts).

    Returns
    -------
    FloatArray
        ``T`` portfolio returns, ``returns_matrix @ weights``.
    """
    m = _returns_2d(returns_matrix)
    return m @ _weights(weights, m.shape[1])


def _simulate_losses(
    returns_matrix: npt.ArrayLike,
    weights: npt.ArrayLike,
    horizon: int,
    n_paths: int,
    seed: int | None,
    bootstrap: bool,
) -> FloatArray:
    m = _returns_2d(returns_matrix, min_rows=2)
    w = _weights(weights, m.shape[1])
    h = _check_positive_int("horizon", horizon)
    n = _check_positive_int("n_paths", n_paths)
    rng = np.random.default_rng(seed)
    if bootstrap:
        rows = rng.integers(0, m.shape[0], size=(n, h))
        path_returns = (m @ w)[rows].sum(axis=1)
    else:
        mean = m.mean(axis=0)
        cov = np.atleast_2d(np.cov(m, rowvar=False, ddof=1))
        draws = rng.multivariate_normal(mean * h, cov * h, size=n, method="eigh")
        path_returns = draws @ w
    return np.asarray(-path_returns, dtype=np.float64)


def monte_carlo_var(
    returns_matrix: npt.ArrayLike,
    weights: npt.ArrayLike,
    confidence: float,
    horizon: int = 1,
    n_paths: int = 100_000,
    seed: int | None = None,
    *,
    bootstrap: bool = False,
) -> float:
    """Return the Monte Carlo value at risk of a constant-weight portfolio.

    Parameters
    ----------
    returns_matrix
        ``T x N`` historical asset returns (at least 2 rows).
    weights
        ``N`` portfolio weights as fractions of portfolio value.
    confidence
        Probability of not exceeding the VaR, in (0, 1), e.g. ``0.99``.
    horizon
        Periods per simulated path.
    n_paths
        Number of simulated ``horizon``-period portfolio returns.
    seed
        Seed for ``numpy.random.default_rng``; the same seed and inputs give the same
        figure. ``None`` draws fresh entropy.
    bootstrap
        ``False`` (default): draw each path's asset returns from a multivariate normal
        with the sample mean ``x h`` and sample covariance (``ddof=1``) ``x h``.
        ``True``: sum ``horizon`` historical rows drawn with replacement (i.i.d.
        bootstrap; keeps fat tails and cross-asset dependence, loses autocorrelation).

    Returns
    -------
    float
        VaR as a positive loss fraction: the empirical ``confidence`` quantile of the
        simulated losses, as in :func:`historical_var`.

    Notes
    -----
    :func:`monte_carlo_cvar` with the same arguments simulates the same paths. With
    ``bootstrap=False`` the figure converges to ``parametric_var`` of
    ``portfolio_returns(returns_matrix, weights)`` as ``n_paths`` grows.
    """
    c = _check_confidence(confidence)
    losses = _simulate_losses(returns_matrix, weights, horizon, n_paths, seed, bootstrap)
    return _loss_quantile(losses, c)[0]


def monte_carlo_cvar(
    returns_matrix: npt.ArrayLike,
    weights: npt.ArrayLike,
    confidence: float,
    horizon: int = 1,
    n_paths: int = 100_000,
    seed: int | None = None,
    *,
    bootstrap: bool = False,
) -> float:
    """Return the Monte Carlo conditional VaR (expected shortfall).

    Parameters are those of :func:`monte_carlo_var`.

    Returns
    -------
    float
        Mean simulated loss at or beyond the Monte Carlo VaR, a positive loss fraction.
    """
    c = _check_confidence(confidence)
    losses = _simulate_losses(returns_matrix, weights, horizon, n_paths, seed, bootstrap)
    return _loss_quantile(losses, c)[1]


# ----------------------------------------------------------------- co-movement
