"""Daily returns from an equity curve and the return-based ratios computed on them.

The ratio functions follow empyrical's formulas (``sharpe_ratio``, ``sortino_ratio``,
``annual_volatility``, ``annual_return``) on plain float arrays; ``_stats`` documents
the conventions.
"""

from __future__ import annotations

import math

import numpy as np

from quantgrid.core._time import NANOS_PER_DAY
from quantgrid.model import FloatArray, IntArray

# 1970-01-01 (day 0) was a Thursday: weekday = (day + 3) % 7 with Monday = 0.
_EPOCH_WEEKDAY = 3
_SATURDAY = 5
# backtesting.py: a calendar trades on weekends if more than 60% of the 2/7 share of
# weekend days a 7-day calendar would have carry data.
_WEEKEND_SHARE = 2 / 7 * 0.6


def daily_returns(ts: IntArray, equity: FloatArray) -> tuple[IntArray, FloatArray]:
    """Resample equity to the last value of each UTC day and return its daily returns.

    Parameters
    ----------
    ts
        Row timestamps, int64 UTC nanoseconds, non-decreasing.
    equity
        Marked equity per row.

    Returns
    -------
    day_ts, returns
        ``day_ts`` is the UTC midnight (nanoseconds) of each day after the first that has
        data; ``returns`` is the simple return of that day's last equity over the
        previous day's (with data). Both have one element fewer than there are days.

    Raises
    ------
    ValueError
        If the arrays differ in length or ``ts`` is not sorted.

    Notes
    -----
    Days without rows are skipped, as ``resample("D").last().dropna()`` does in pandas;
    on daily bars there is one return per bar after the first.
    """
    ts = np.asarray(ts, dtype=np.int64)
    equity = np.asarray(equity, dtype=np.float64)
    _check_aligned(ts, equity)
    days, last_rows = _day_last_rows(ts)
    day_equity = equity[last_rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = day_equity[1:] / day_equity[:-1] - 1.0
    return days[1:] * NANOS_PER_DAY, returns


def infer_periods_per_year(ts: IntArray) -> int:
    """Return the number of return periods per year the data's calendar implies.

    Weekly, monthly and yearly spacing of the days with data give 52, 12 and 1; other
    data gives 365 if weekends carry data (backtesting.py's rule) and 252 otherwise.
    """
    days, _ = _day_last_rows(np.asarray(ts, dtype=np.int64))
    if len(days) > 1:
        gap = float(np.median(np.diff(days)))
        if gap == 7:
            return 52
        if 28 <= gap <= 31:
            return 12
        if 365 <= gap <= 366:
            return 1
    weekend = (days + _EPOCH_WEEKDAY) % 7 >= _SATURDAY
    return 365 if float(weekend.mean()) > _WEEKEND_SHARE else 252


def annual_return(returns: FloatArray, periods_per_year: int) -> float:
    """Return the compound annual growth rate of periodic returns (empyrical's formula)."""
    if len(returns) < 1:
        return math.nan
    wealth = float(np.prod(1.0 + returns))
    if wealth < 0:
        # A negative terminal wealth has no real growth rate.
        return math.nan
    years = len(returns) / periods_per_year
    return float(wealth ** (1.0 / years) - 1.0)


def annual_volatility(returns: FloatArray, periods_per_year: int) -> float:
    """Return the sample standard deviation of returns scaled by ``sqrt(periods)``."""
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns, ddof=1) * math.sqrt(periods_per_year))


def sharpe_ratio(returns: FloatArray, risk_free: float, periods_per_year: int) -> float:
    """Return the annualised Sharpe ratio; ``risk_free`` is the per-period rate."""
    if len(returns) < 2:
        return math.nan
    excess = returns - risk_free
    std = float(np.std(excess, ddof=1))
    if excess.max() == excess.min():
        # Identical returns have zero dispersion; the mean's rounding residue is not one.
        std = 0.0
    return _divide(float(excess.mean()), std) * math.sqrt(periods_per_year)


def sortino_ratio(returns: FloatArray, required_return: float, periods_per_year: int) -> float:
    """Return the annualised Sortino ratio against a per-period required return."""
    if len(returns) < 2:
        return math.nan
    excess = returns - required_return
    downside = np.minimum(excess, 0.0)
    downside_risk = math.sqrt(float(np.mean(downside * downside))) * math.sqrt(periods_per_year)
    return _divide(float(excess.mean()) * periods_per_year, downside_risk)


def _divide(numerator: float, denominator: float) -> float:
    # IEEE semantics (x/0 = ±inf, 0/0 = nan) as numpy gives, without the warnings.
    if denominator != 0.0:
        return numerator / denominator
    if numerator == 0.0 or math.isnan(numerator):
        return math.nan
    return math.copysign(math.inf, numerator)


def _day_last_rows(ts: IntArray) -> tuple[IntArray, IntArray]:
    # Rows are sorted, so each day's last row is where the day number changes.
    day = ts // NANOS_PER_DAY
    last = np.flatnonzero(day[1:] != day[:-1])
    last_rows = np.append(last, len(ts) - 1) if len(ts) else last
    return day[last_rows], last_rows


def _check_aligned(ts: IntArray, values: FloatArray) -> None:
    if len(ts) != len(values):
        msg = f"ts has {len(ts)} rows but equity has {len(values)}"
        raise ValueError(msg)
    if len(ts) > 1 and bool(np.any(ts[1:] < ts[:-1])):
        msg = "ts must be sorted in ascending order"
        raise ValueError(msg)
