"""Performance analytics: daily returns, drawdowns, a backtest's statistics and execution quality.

Core package: numpy only, no I/O. ``quantgrid.analytics._stats`` documents every
statistic's convention and the reference library it matches.
"""

from quantgrid.analytics._drawdown import drawdown
from quantgrid.analytics._execution import (
    ExecutionReport,
    ExecutionSummary,
    ParentExecution,
    execution_report,
    summarize_executions,
)
from quantgrid.analytics._overfitting import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    overfitting_diagnostics,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from quantgrid.analytics._returns import daily_returns
from quantgrid.analytics._stats import STAT_KEYS, Statistics, compute_statistics

__all__ = [
    "STAT_KEYS",
    "ExecutionReport",
    "ExecutionSummary",
    "ParentExecution",
    "Statistics",
    "compute_statistics",
    "daily_returns",
    "deflated_sharpe_ratio",
    "drawdown",
    "execution_report",
    "expected_maximum_sharpe",
    "overfitting_diagnostics",
    "per_period_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "summarize_executions",
]
