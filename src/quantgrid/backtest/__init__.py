"""Backtests: the engine that drives the core with historical bars, and its result."""

from quantgrid.backtest._engine import (
    BacktestConfig,
    BacktestEngine,
    ProgressCallback,
    run_backtest,
)
from quantgrid.backtest._lookahead import LookaheadFinding, LookaheadReport, check_lookahead
from quantgrid.backtest._result import BacktestResult
from quantgrid.backtest._sweep import METRICS, OBJECTIVES, SweepResult, sweep_crosses
from quantgrid.backtest._vectorised import cross_signals, run_vectorised

__all__ = [
    "METRICS",
    "OBJECTIVES",
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "LookaheadFinding",
    "LookaheadReport",
    "ProgressCallback",
    "SweepResult",
    "check_lookahead",
    "cross_signals",
    "run_backtest",
    "run_vectorised",
    "sweep_crosses",
]
