"""Statistics of the closed-trade ledger, with backtesting.py's definitions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from quantgrid.model import ClosedTrade, FloatArray


class TradeStats(NamedTuple):
    """Trade statistics; every field but ``n_trades`` is NaN when there are no trades."""

    n_trades: int
    win_rate_pct: float
    best_trade_pct: float
    worst_trade_pct: float
    avg_trade_pct: float
    profit_factor: float
    expectancy_pct: float
    sqn: float
    kelly: float


def trade_stats(trades: Sequence[ClosedTrade]) -> TradeStats:
    """Compute the trade statistics of a closed-trade ledger."""
    n = len(trades)
    if n == 0:
        nan = math.nan
        return TradeStats(0, nan, nan, nan, nan, nan, nan, nan, nan)
    pnl = np.fromiter((t.pnl for t in trades), dtype=np.float64, count=n)
    ret = np.fromiter((t.return_pct for t in trades), dtype=np.float64, count=n)
    win_rate = float(np.mean(pnl > 0))
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    # Kelly needs both an average win and an average loss; pandas' empty mean is NaN.
    payoff = float(wins.mean() / -losses.mean()) if len(wins) and len(losses) else math.nan
    pnl_std = float(np.std(pnl, ddof=1)) if n > 1 else math.nan
    return TradeStats(
        n_trades=n,
        win_rate_pct=win_rate * 100.0,
        best_trade_pct=float(ret.max()) * 100.0,
        worst_trade_pct=float(ret.min()) * 100.0,
        avg_trade_pct=_geometric_mean(ret) * 100.0,
        profit_factor=float(ret[ret > 0].sum()) / (abs(float(ret[ret < 0].sum())) or math.nan),
        expectancy_pct=float(ret.mean()) * 100.0,
        sqn=math.sqrt(n) * float(pnl.mean()) / (pnl_std or math.nan),
        kelly=win_rate - (1.0 - win_rate) / payoff,
    )


def _geometric_mean(returns: FloatArray) -> float:
    growth = returns + 1.0
    if bool(np.any(growth <= 0)):
        # backtesting.py: a trade that loses everything makes the geometric mean 0.
        return 0.0
    return float(np.exp(np.log(growth).mean()) - 1.0)
