"""Parameter optimisation: grid and Optuna searches, walk-forward analysis, and the
overfitting diagnostics (deflated Sharpe ratio, probability of backtest overfitting).

Core package: no I/O; numpy, scipy and optuna only.
"""

from quantgrid.analytics import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from quantgrid.optimize._objective import OBJECTIVES
from quantgrid.optimize._result import OptimizationResult, Trial
from quantgrid.optimize._search import grid_search, optuna_search
from quantgrid.optimize._walk_forward import WalkForwardResult, WalkForwardWindow, walk_forward

__all__ = [
    "OBJECTIVES",
    "OptimizationResult",
    "Trial",
    "WalkForwardResult",
    "WalkForwardWindow",
    "deflated_sharpe_ratio",
    "expected_maximum_sharpe",
    "grid_search",
    "optuna_search",
    "per_period_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "walk_forward",
]
