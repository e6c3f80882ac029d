"""Backtests: the engine that drives the core with historical bars, and its result."""

from quantgrid.backtest._engine import (
    BacktestConfig,
    BacktestEngine,
    ProgressCallback,
    run_backtest,
)
from quantgrid.backtest._result import BacktestResult
from quantgrid.backtest._vectorised import cross_signals, run_vectorised

__all__ = [
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "ProgressCallback",
    "cross_signals",
    "run_backtest",
    "run_vectorised",
]
