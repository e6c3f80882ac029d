"""Backtests: the engine that drives the core with historical bars, and its result."""

from quantgrid.backtest._engine import (
    BacktestConfig,
    BacktestEngine,
    ProgressCallback,
    run_backtest,
)
from quantgrid.backtest._result import BacktestResult

__all__ = [
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "ProgressCallback",
    "run_backtest",
]
