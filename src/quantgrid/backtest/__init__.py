"""Backtests: the engines that drive the core with historical bars or ticks, and results."""

from quantgrid.backtest._engine import (
    BacktestConfig,
    BacktestEngine,
    ProgressCallback,
    run_backtest,
)
from quantgrid.backtest._lookahead import LookaheadFinding, LookaheadReport, check_lookahead
from quantgrid.backtest._replay import (
    REPLAY_VENUE,
    MarketData,
    ReplayConfig,
    ReplayEngine,
    ReplayResult,
    run_replay,
)
from quantgrid.backtest._result import BacktestResult
from quantgrid.backtest._sweep import METRICS, OBJECTIVES, SweepResult, sweep_crosses
from quantgrid.backtest._vectorised import cross_signals, run_vectorised

__all__ = [
    "METRICS",
    "OBJECTIVES",
    "REPLAY_VENUE",
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "LookaheadFinding",
    "LookaheadReport",
    "MarketData",
    "ProgressCallback",
    "ReplayConfig",
    "ReplayEngine",
    "ReplayResult",
    "SweepResult",
    "check_lookahead",
    "cross_signals",
    "run_backtest",
    "run_replay",
    "run_vectorised",
    "sweep_crosses",
]
