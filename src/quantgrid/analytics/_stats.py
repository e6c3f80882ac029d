"""Backtest statistics (capability BT-2): one frozen record computed from a run's arrays.

Conventions
-----------
Daily returns
    Equity is resampled to the last value of each UTC calendar day that has rows (for
    daily bars: one value per bar), then turned into simple returns; the first day only
    anchors the series and has no return. Days without rows are skipped.
Periods per year
    When not given: 52, 12 or 1 if the median spacing of the days with data is a week,
    28-31 days or a year; otherwise 365 if more than 2/7 * 0.6 of those days fall on a
    Saturday or Sunday (UTC), else 252. This is backtesting.py's rule, applied to the
    distinct days rather than to the bars (the same on daily bars).
Risk-free rate
    ``risk_free_rate`` is annual and becomes ``risk_free_rate / periods_per_year`` per
    period (empyrical's convention). It enters the Sharpe ratio (subtracted from each
    return) and the Sortino ratio (as the required return); no other statistic uses it.
Return-based statistics, all on the daily returns, equal to empyrical's
    ``sharpe`` = ``sharpe_ratio``; ``sortino`` = ``sortino_ratio``;
    ``volatility_ann_pct`` = 100 * ``annual_volatility``;
    ``return_ann_pct`` = 100 * ``annual_return``, the compound growth rate
    ``prod(1 + r) ** (periods_per_year / len(r)) - 1``;
    ``cagr_pct`` = 100 * ``quantstats.stats.cagr``, which in quantstats 0.0.86 is that
    same formula (years counted as returns / periods), so it equals ``return_ann_pct``;
    ``calmar`` = ``calmar_ratio``, the annual return over the maximum drawdown **of the
    daily returns** (NaN when that drawdown is 0). Fewer than two daily returns make
    the ratios and the volatility NaN; no returns also make the annual return NaN.
Drawdowns, on the equity curve itself (every row, row 0 included)
    ``drawdown`` = ``equity / running_max(equity) - 1`` (a fraction <= 0).
    ``max_drawdown_pct`` = 100 * its minimum (negative). On daily bars this equals
    empyrical's ``max_drawdown`` of the daily returns; on intraday bars it is the
    deeper bar-level drawdown, so there ``calmar`` (daily) is not
    ``return_ann_pct / -max_drawdown_pct``.
    An episode is a maximal run of rows below the running peak; it spans from the
    peak row before it to the first row back at the peak, or to the last row if
    equity never recovers. ``avg_drawdown_pct`` = 100 * mean of the episodes' troughs
    (backtesting.py's "Avg. Drawdown"); ``max_drawdown_duration_days`` = the longest
    episode span in calendar days. Both are 0 when equity never falls below a peak.
Exposure and buy and hold
    ``exposure_pct`` = 100 * share of rows with ``gross_exposure > 0``.
    ``buy_hold_return_pct`` = equal-weight mean over instruments of
    ``100 * (last close / first close - 1)``; NaN without instruments.
Trades, from the closed-trade ledger with backtesting.py's definitions
    ``win_rate_pct``: share of trades with ``pnl > 0``. ``best_trade_pct``,
    ``worst_trade_pct``, ``expectancy_pct``: max, min and mean of ``100 * return_pct``.
    ``avg_trade_pct``: 100 * geometric mean of ``return_pct`` (0 if a trade lost 100%).
    ``profit_factor``: sum of positive ``return_pct`` over the absolute sum of negative
    ones (NaN without losing trades). ``sqn``: ``sqrt(n) * mean(pnl) / std(pnl,
    ddof=1)``. ``kelly``: ``win_rate - (1 - win_rate) / (mean winning pnl / mean
    losing |pnl|)`` (NaN unless there are both wins and losses). Without trades every
    trade statistic is NaN and ``n_trades`` is 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from quantgrid.analytics._drawdown import drawdown, drawdown_episodes
from quantgrid.analytics._returns import (
    annual_return,
    annual_volatility,
    daily_returns,
    infer_periods_per_year,
    sharpe_ratio,
    sortino_ratio,
)
from quantgrid.analytics._trades import trade_stats
from quantgrid.core._time import NANOS_PER_DAY, ns_to_iso
from quantgrid.model import ClosedTrade, FloatArray


@dataclass(frozen=True, slots=True)
class Statistics:
    """The statistics of one backtest run.

    Percentages are in percent (``12.3`` is 12.3%), drawdowns are negative, ratios are
    plain numbers. Undefined values are NaN (``None`` in :meth:`to_dict`).

    Notes
    -----
    The module docstring of ``quantgrid.analytics._stats`` defines every field; the
    return-based ones equal empyrical's on :func:`daily_returns`.
    """

    start: int
    end: int
    bars: int
    exposure_pct: float
    equity_final: float
    equity_peak: float
    return_pct: float
    buy_hold_return_pct: float
    return_ann_pct: float
    volatility_ann_pct: float
    cagr_pct: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown_pct: float
    avg_drawdown_pct: float
    max_drawdown_duration_days: float
    n_trades: int
    win_rate_pct: float
    best_trade_pct: float
    worst_trade_pct: float
    avg_trade_pct: float
    profit_factor: float
    expectancy_pct: float
    sqn: float
    kelly: float
    commissions: float
    engine_seconds: float
    periods_per_year: int
    risk_free_rate: float

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as a JSON-ready dict, keys in :data:`STAT_KEYS` order.

        ``start`` and ``end`` become ISO-8601 UTC strings, NaN and infinities ``None``.
        """
        out: dict[str, Any] = {}
        for key, value in zip(STAT_KEYS, astuple(self), strict=True):
            if key in _TIME_KEYS:
                out[key] = ns_to_iso(value)
            elif isinstance(value, int):
                out[key] = value
            else:
                out[key] = float(value) if math.isfinite(value) else None
        return out


STAT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Statistics))
_TIME_KEYS = frozenset({"start", "end"})


def compute_statistics(
    ts: npt.ArrayLike,
    equity: npt.ArrayLike,
    gross_exposure: npt.ArrayLike,
    trades: Sequence[ClosedTrade],
    *,
    closes: Mapping[str, npt.ArrayLike],
    commissions: float,
    engine_seconds: float,
    periods_per_year: int | None = None,
    risk_free_rate: float = 0.0,
) -> Statistics:
    """Compute the statistics of a backtest run.

    Parameters
    ----------
    ts
        Row timestamps, int64 UTC nanoseconds, ascending.
    equity
        Marked equity per row; row 0 is the initial equity and must be positive.
    gross_exposure
        Gross value of open positions per row (> 0 where a position is held).
    trades
        The closed-trade ledger.
    closes
        Close prices per instrument, for the buy-and-hold return.
    commissions
        Total commissions paid.
    engine_seconds
        Wall time of the run, recorded as is.
    periods_per_year
        Daily-return periods per year for annualising; inferred from the calendar when
        ``None`` (see the module notes).
    risk_free_rate
        Annual risk-free rate as a fraction, used by the Sharpe and Sortino ratios.

    Returns
    -------
    Statistics

    Raises
    ------
    ValueError
        If there are fewer than two rows, the arrays differ in length, ``ts`` is not
        ascending, equity is not finite or starts at or below zero, a close series is
        empty, or ``periods_per_year`` is not positive.

    Notes
    -----
    Vectorised: one pass of numpy per statistic, so a million rows take milliseconds.
    """
    ts_arr = np.asarray(ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    exposure = np.asarray(gross_exposure, dtype=np.float64)
    n = len(eq)
    if n < 2:
        msg = f"statistics need an equity curve of at least 2 rows, got {n}"
        raise ValueError(msg)
    if len(ts_arr) != n or len(exposure) != n:
        msg = f"ts, equity and gross_exposure differ in length: {len(ts_arr)}, {n}, {len(exposure)}"
        raise ValueError(msg)
    if not bool(np.isfinite(eq).all()):
        msg = "equity contains NaN or infinite values"
        raise ValueError(msg)
    if not eq[0] > 0:
        msg = f"initial equity (row 0) must be positive, got {eq[0]}"
        raise ValueError(msg)
    if periods_per_year is None:
        periods = infer_periods_per_year(ts_arr)
    elif periods_per_year > 0:
        periods = int(periods_per_year)
    else:
        msg = f"periods_per_year must be positive, got {periods_per_year}"
        raise ValueError(msg)

    _, rets = daily_returns(ts_arr, eq)
    rf_period = risk_free_rate / periods
    ann_return = annual_return(rets, periods)
    # calmar_ratio measures the drawdown on the daily returns, anchored at the first
    # day's close, not on the bars.
    daily_max_dd = _max_drawdown_of_returns(rets)
    calmar = ann_return / -daily_max_dd if daily_max_dd < 0 else math.nan

    dd = drawdown(eq)
    episodes = drawdown_episodes(dd)
    spans_days = (ts_arr[episodes.end] - ts_arr[episodes.peak]) / NANOS_PER_DAY
    trade = trade_stats(trades)

    return Statistics(
        start=int(ts_arr[0]),
        end=int(ts_arr[-1]),
        bars=n,
        exposure_pct=float(np.mean(exposure > 0)) * 100.0,
        equity_final=float(eq[-1]),
        equity_peak=float(eq.max()),
        return_pct=float((eq[-1] - eq[0]) / eq[0]) * 100.0,
        buy_hold_return_pct=_buy_hold_return_pct(closes),
        return_ann_pct=ann_return * 100.0,
        volatility_ann_pct=annual_volatility(rets, periods) * 100.0,
        cagr_pct=ann_return * 100.0,
        sharpe=sharpe_ratio(rets, rf_period, periods),
        sortino=sortino_ratio(rets, rf_period, periods),
        calmar=calmar if math.isfinite(calmar) else math.nan,
        # + 0.0 turns -0.0 into 0.0.
        max_drawdown_pct=float(dd.min()) * 100.0 + 0.0,
        avg_drawdown_pct=float(episodes.trough.mean()) * 100.0 if len(episodes.trough) else 0.0,
        max_drawdown_duration_days=float(spans_days.max()) if len(spans_days) else 0.0,
        n_trades=trade.n_trades,
        win_rate_pct=trade.win_rate_pct,
        best_trade_pct=trade.best_trade_pct,
        worst_trade_pct=trade.worst_trade_pct,
        avg_trade_pct=trade.avg_trade_pct,
        profit_factor=trade.profit_factor,
        expectancy_pct=trade.expectancy_pct,
        sqn=trade.sqn,
        kelly=trade.kelly,
        commissions=float(commissions),
        engine_seconds=float(engine_seconds),
        periods_per_year=periods,
        risk_free_rate=float(risk_free_rate),
    )


def _max_drawdown_of_returns(returns: FloatArray) -> float:
    if len(returns) == 0:
        return math.nan
    # empyrical's exact arithmetic (wealth from 100, (w - peak) / peak), so that ratios of
    # near-zero drawdowns and returns agree too.
    wealth = np.empty(len(returns) + 1, dtype=np.float64)
    wealth[0] = 100.0
    np.multiply(np.cumprod(1.0 + returns), 100.0, out=wealth[1:])
    peak = np.fmax.accumulate(wealth)
    return float(np.min((wealth - peak) / peak))


def _buy_hold_return_pct(closes: Mapping[str, npt.ArrayLike]) -> float:
    if not closes:
        return math.nan
    returns = []
    for instrument_id, close in closes.items():
        prices = np.asarray(close, dtype=np.float64)
        if len(prices) == 0:
            msg = f"{instrument_id}: no close prices for the buy-and-hold return"
            raise ValueError(msg)
        returns.append(float(prices[-1] / prices[0] - 1.0) * 100.0)
    return float(np.mean(returns))
