"""Overfitting diagnostics: the deflated Sharpe ratio and the probability of backtest
overfitting.

Units
-----
Every Sharpe ratio here is **per period** (not annualised): the mean of the periodic
returns over their sample standard deviation (``ddof=1``), with no risk-free rate. On
daily returns it is the annualised Sharpe ratio divided by ``sqrt(periods_per_year)``.
The variance of Sharpe ratios across trials is in the same per-period units (squared).
:func:`deflated_sharpe_ratio` takes annualised inputs instead when given
``periods_per_year`` and converts them.

References
----------
Bailey, D. H., & López de Prado, M. (2014). The deflated Sharpe ratio: correcting for
selection bias, backtest overfitting and non-normality. *Journal of Portfolio
Management*, 40(5), 94-107.

Bailey, D. H., Borwein, J., López de Prado, M., & Zhu, Q. J. (2017). The probability of
backtest overfitting. *Journal of Computational Finance*, 20(4), 39-69.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from quantgrid.model import FloatArray

EULER_MASCHERONI = 0.5772156649015329


def _stats() -> Any:
    """Return ``scipy.stats``, imported on first use: scipy is heavy and rarely needed."""
    from scipy import stats  # type: ignore[import-untyped]  # noqa: PLC0415 - scipy ships no stubs

    return stats


def per_period_sharpe(returns: npt.ArrayLike) -> float:
    """Return ``mean / std(ddof=1)`` of periodic returns (NaN with fewer than 2 or no spread)."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2:
        return math.nan
    std = float(np.std(r, ddof=1))
    if std == 0.0 or r.max() == r.min():
        return math.nan
    return float(r.mean()) / std


def expected_maximum_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` skill-less trials.

    ``E[max SR] ≈ sqrt(V) * ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))`` with ``γ`` the
    Euler–Mascheroni constant, ``V`` the variance of the trials' Sharpe ratios and
    ``N`` the number of independent trials (Bailey and López de Prado, 2014, eq. 2).
    One trial has nothing to select from: the result is 0.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        msg = f"n_trials must be a whole number >= 1, got {n_trials!r}"
        raise ValueError(msg)
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0):
        msg = f"sharpe_variance must be a finite number >= 0, got {sharpe_variance!r}"
        raise ValueError(msg)
    if n_trials == 1:
        return 0.0
    g = EULER_MASCHERONI
    n = float(n_trials)
    z = (1 - g) * _stats().norm.ppf(1 - 1 / n) + g * _stats().norm.ppf(1 - 1 / (n * math.e))
    return math.sqrt(sharpe_variance) * float(z)


def probabilistic_sharpe_ratio(
    observed_sharpe: float, benchmark_sharpe: float, returns: npt.ArrayLike
) -> float:
    """Return the probability that the true Sharpe ratio exceeds ``benchmark_sharpe``.

    ``PSR = Φ((SR - SR*) sqrt(T - 1) / sqrt(1 - γ₃ SR + (γ₄ - 1) / 4 SR²))`` with ``T``,
    the skewness ``γ₃`` and the (non-excess) kurtosis ``γ₄`` of ``returns`` (biased
    sample moments). Both Sharpe ratios are per period (see the module notes).

    Returns NaN when fewer than 3 returns are given or they do not vary.
    """
    r = np.asarray(returns, dtype=np.float64)
    t = len(r)
    if t < 3 or r.max() == r.min() or not math.isfinite(observed_sharpe):
        return math.nan
    skew = float(_stats().skew(r))
    kurt = float(_stats().kurtosis(r, fisher=False))
    sr = float(observed_sharpe)
    denominator = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if denominator <= 0:
        return math.nan
    z = (sr - benchmark_sharpe) * math.sqrt(t - 1) / math.sqrt(denominator)
    return float(_stats().norm.cdf(z))


def deflated_sharpe_ratio(
    observed_sharpe: float,
    n_trials: int,
    returns: npt.ArrayLike,
    sharpe_variance_across_trials: float,
    *,
    periods_per_year: int | None = None,
) -> float:
    """Return the deflated Sharpe ratio: the PSR against the best of ``n_trials`` by luck.

    Parameters
    ----------
    observed_sharpe
        The selected (best) trial's Sharpe ratio, per period unless ``periods_per_year``.
    n_trials
        How many trials the selection was made from.
    returns
        The selected trial's periodic returns: their length, skewness and kurtosis.
    sharpe_variance_across_trials
        Variance of the trials' Sharpe ratios, per period (squared) unless
        ``periods_per_year``.
    periods_per_year
        When given, ``observed_sharpe`` is annualised (``× sqrt(periods_per_year)``) and
        the variance too (``× periods_per_year``); both are converted to per period.

    Returns
    -------
    float
        ``PSR(SR₀)`` with ``SR₀`` = :func:`expected_maximum_sharpe`, a probability in
        [0, 1]; NaN when the PSR is undefined.

    Notes
    -----
    The deflated Sharpe ratio is below the PSR against 0 whenever ``n_trials > 1`` and
    the variance is positive, and falls as ``n_trials`` grows.
    """
    sharpe = float(observed_sharpe)
    variance = float(sharpe_variance_across_trials)
    if periods_per_year is not None:
        if periods_per_year < 1:
            msg = f"periods_per_year must be >= 1, got {periods_per_year}"
            raise ValueError(msg)
        sharpe /= math.sqrt(periods_per_year)
        variance /= periods_per_year
    benchmark = expected_maximum_sharpe(n_trials, variance)
    return probabilistic_sharpe_ratio(sharpe, benchmark, returns)


def probability_of_backtest_overfitting(returns_matrix: npt.ArrayLike, n_splits: int = 16) -> float:
    """Return the probability of backtest overfitting by combinatorially symmetric CV.

    Parameters
    ----------
    returns_matrix
        ``T x N``: the periodic returns of ``N`` trials over the same ``T`` periods.
    n_splits
        ``S``, an even number of contiguous row groups (``numpy.array_split``: sizes
        differ by at most one row).

    Returns
    -------
    float
        The share of the ``C(S, S/2)`` in-sample/out-of-sample splits whose logit is
        ``<= 0``.

    Notes
    -----
    For each choice of ``S/2`` groups as in-sample (the rest out of sample), the trial
    with the best in-sample Sharpe ratio is taken; its out-of-sample Sharpe ratio gets
    the rank ``r`` among the ``N`` trials (1 worst, ``N`` best; ties averaged),
    ``ω = r / (N + 1)`` and the logit ``λ = ln(ω / (1 - ω))``. ``λ <= 0`` means the
    in-sample winner did no better than the median out of sample (Bailey et al., 2017).
    Sharpe ratios are per period from group sums, so a split costs ``O(S N)``. A trial
    whose returns do not vary has Sharpe 0 when they are 0 and ±inf otherwise; a NaN
    return makes the trial's Sharpe NaN, which ranks below every number.
    """
    m = np.asarray(returns_matrix, dtype=np.float64)
    if m.ndim != 2:
        msg = f"returns_matrix must be 2-D (periods x trials), got shape {m.shape}"
        raise ValueError(msg)
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 2:
        msg = f"n_splits must be an even whole number >= 2, got {n_splits!r}"
        raise ValueError(msg)
    if n_splits % 2:
        msg = f"n_splits must be even (half the groups are in sample), got {n_splits}"
        raise ValueError(msg)
    t, n = m.shape
    if n < 2:
        msg = f"PBO needs at least 2 trials to choose from, got {n}"
        raise ValueError(msg)
    if t < 2 * n_splits:
        msg = f"PBO with {n_splits} splits needs at least {2 * n_splits} periods, got {t}"
        raise ValueError(msg)
    groups = np.array_split(np.arange(t), n_splits)
    counts = np.array([len(g) for g in groups], dtype=np.float64)
    sums = np.stack([m[g].sum(axis=0) for g in groups])  # S x N
    squares = np.stack([(m[g] ** 2).sum(axis=0) for g in groups])
    combos = list(itertools.combinations(range(n_splits), n_splits // 2))
    in_sample = np.zeros((len(combos), n_splits), dtype=np.float64)
    for k, combo in enumerate(combos):
        in_sample[k, list(combo)] = 1.0
    out_sample = 1.0 - in_sample
    is_sharpe = _sharpe_from_sums(in_sample @ counts, in_sample @ sums, in_sample @ squares)
    oos_sharpe = _sharpe_from_sums(out_sample @ counts, out_sample @ sums, out_sample @ squares)
    # NaN ranks last: argmax would pick it, so it becomes -inf for choosing and ranking.
    is_sharpe = np.where(np.isnan(is_sharpe), -np.inf, is_sharpe)
    oos_sharpe = np.where(np.isnan(oos_sharpe), -np.inf, oos_sharpe)
    best = np.argmax(is_sharpe, axis=1)
    ranks = _stats().rankdata(oos_sharpe, axis=1)  # 1 = worst, ties averaged
    omega = ranks[np.arange(len(combos)), best] / (n + 1)
    logits = np.log(omega / (1.0 - omega))
    return float(np.mean(logits <= 0.0))


def _sharpe_from_sums(count: FloatArray, total: FloatArray, squares: FloatArray) -> FloatArray:
    """Per-period Sharpe ratios (``ddof=1``) of each row's trials from their sums."""
    n = count[:, None]
    mean = total / n
    variance = np.maximum((squares - n * mean * mean) / (n - 1.0), 0.0)
    std = np.sqrt(variance)
    # A relative floor: sums of squares leave rounding residue where returns are constant.
    flat = std <= 1e-12 * np.maximum(np.abs(mean), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(flat, np.sign(mean) * np.inf, mean / std)
    return np.where(flat & (mean == 0.0), 0.0, sharpe)


def overfitting_diagnostics(
    daily_returns: FloatArray, best_column: int | None, pbo_splits: int = 16
) -> tuple[float, float]:
    """Return the deflated Sharpe ratio of the best trial and the PBO of all trials.

    Parameters
    ----------
    daily_returns
        ``days x trials``: each trial's daily returns over the same days.
    best_column
        The column of the trial that was chosen (None: no trial qualified; DSR is NaN).
    pbo_splits
        Row groups for the combinatorially symmetric cross-validation.

    Notes
    -----
    The DSR takes the number of trials as the number of columns and the variance of
    their per-day Sharpe ratios; PBO is NaN with fewer than two trials or fewer than
    ``2 * pbo_splits`` days.
    """
    matrix = np.asarray(daily_returns, dtype=np.float64)
    dsr = math.nan
    if best_column is not None and matrix.size:
        sharpes = np.array([per_period_sharpe(matrix[:, j]) for j in range(matrix.shape[1])])
        finite = sharpes[np.isfinite(sharpes)]
        variance = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
        best = matrix[:, best_column]
        dsr = deflated_sharpe_ratio(per_period_sharpe(best), matrix.shape[1], best, variance)
    pbo = math.nan
    if matrix.ndim == 2 and matrix.shape[1] >= 2 and matrix.shape[0] >= 2 * pbo_splits:
        pbo = probability_of_backtest_overfitting(matrix, pbo_splits)
    return dsr, pbo
