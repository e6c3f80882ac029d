"""Performance analytics: daily returns, drawdowns and a backtest's statistics.

Core package: numpy only, no I/O. ``quantgrid.analytics._stats`` documents every
statistic's convention and the reference library it matches.
"""

from quantgrid.analytics._drawdown import drawdown
from quantgrid.analytics._returns import daily_returns
from quantgrid.analytics._stats import STAT_KEYS, Statistics, compute_statistics

__all__ = [
    "STAT_KEYS",
    "Statistics",
    "compute_statistics",
    "daily_returns",
    "drawdown",
]
