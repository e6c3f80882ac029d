"""Position sizing: Kelly fractions and volatility targeting."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from quantgrid.risk._inputs import (
    _check_positive_float,
    _check_positive_int,
    _returns_1d,
)


def _apply_cap(fraction: float, cap: float | None) -> float:
    if cap is None:
        return fraction
    c = _check_positive_float("cap", cap)
    return min(max(fraction, -c), c)


def kelly_fraction(win_rate: float, win_loss_ratio: float, *, cap: float | None = None) -> float:
    """Return the Kelly fraction of equity to stake on a repeated binary bet.

    Parameters
    ----------
    win_rate
        Probability ``p`` of a win, in [0, 1].
    win_loss_ratio
        Payoff ``b``: the amount won per unit lost, > 0.
    cap
        When given, clip the fraction to ``[-cap, cap]`` (e.g. ``0.25``).

    Returns
    -------
    float
        ``f = p - (1 - p) / b``. A negative figure means the bet has a negative edge
        and should not be taken.

    Notes
    -----
    Full Kelly maximises long-run log growth but is volatile; many traders stake a
    fraction (half Kelly is ``0.5 * kelly_fraction(...)``).
    """
    if isinstance(win_rate, bool) or not (
        isinstance(win_rate, int | float) and 0.0 <= win_rate <= 1.0
    ):
        msg = f"win_rate must be a probability in [0, 1], got {win_rate!r}"
        raise ValueError(msg)
    b = _check_positive_float("win_loss_ratio", win_loss_ratio)
    p = float(win_rate)
    return _apply_cap(p - (1.0 - p) / b, cap)


def kelly_fraction_from_returns(returns: npt.ArrayLike, *, cap: float | None = None) -> float:
    """Return the continuous Kelly leverage ``mean / variance`` of periodic returns.

    Parameters
    ----------
    returns
        Periodic excess returns (1-D, at least 2, finite, not all equal).
    cap
        When given, clip the leverage to ``[-cap, cap]``.

    Returns
    -------
    float
        ``mean(returns) / var(returns, ddof=1)``: the fraction of equity (leverage) that
        maximises expected log growth for small, roughly normal returns. Negative means
        short.
    """
    r = _returns_1d(returns, min_length=2)
    variance = float(np.var(r, ddof=1))
    if variance == 0.0:
        msg = "returns must vary: the Kelly fraction is undefined with zero variance"
        raise ValueError(msg)
    return _apply_cap(float(r.mean()) / variance, cap)


def volatility_target_size(
    target_annual_vol: float,
    *,
    price: float,
    equity: float,
    asset_returns: npt.ArrayLike | None = None,
    asset_vol: float | None = None,
    periods_per_year: int = 252,
) -> int:
    """Return the whole number of units whose position hits a target annual volatility.

    Parameters
    ----------
    target_annual_vol
        Target annualised volatility of the position's P&L as a fraction of equity.
    price
        Price per unit, > 0.
    equity
        Account equity in the price's currency, > 0.
    asset_returns
        Periodic asset returns (at least 2); annual vol is
        ``std(ddof=1) * sqrt(periods_per_year)``. Give this or ``asset_vol``.
    asset_vol
        The asset's annualised volatility, > 0.
    periods_per_year
        Periods per year of ``asset_returns`` (252 trading days).

    Returns
    -------
    int
        ``floor(target_annual_vol * equity / (asset_vol * price))``, >= 0. Rounding
        down never overshoots the target.
    """
    target = _check_positive_float("target_annual_vol", target_annual_vol)
    p = _check_positive_float("price", price)
    e = _check_positive_float("equity", equity)
    if (asset_returns is None) == (asset_vol is None):
        msg = "give exactly one of asset_returns or asset_vol"
        raise ValueError(msg)
    if asset_vol is not None:
        vol = _check_positive_float("asset_vol", asset_vol)
    else:
        ppy = _check_positive_int("periods_per_year", periods_per_year)
        r = _returns_1d(np.asarray(asset_returns), min_length=2)
        vol = float(np.std(r, ddof=1)) * math.sqrt(ppy)
        if vol == 0.0:
            msg = "asset_returns must vary: volatility targeting needs a volatility > 0"
            raise ValueError(msg)
    return math.floor(target * e / (vol * p))
