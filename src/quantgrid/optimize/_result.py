"""What a parameter search returns: its trials, ranked, and its overfitting diagnostics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quantgrid.analytics import Statistics
from quantgrid.model import FloatArray


@dataclass(frozen=True, slots=True)
class Trial:
    """One parameter combination that ran.

    Attributes
    ----------
    number
        Order in which the search ran it (0 first).
    params
        The combination searched, without the fixed parameters.
    value
        The objective (NaN when undefined).
    feasible
        ``stats.n_trades >= min_trades``.
    stats
        The run's statistics.
    """

    number: int
    params: dict[str, Any]
    value: float
    feasible: bool
    stats: Statistics

    def to_dict(self) -> dict[str, Any]:
        """Return the trial as a JSON-ready dict: parameters, flags and figures."""
        figures = self.stats.to_dict()
        return {
            **self.params,
            "value": _finite(self.value),
            "feasible": self.feasible,
            **{k: figures[k] for k in _FIGURES},
        }


_FIGURES = ("return_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct", "n_trades")


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True, slots=True, eq=False)
class OptimizationResult:
    """The trials of one search, best first, and how much the best one can be trusted.

    Attributes
    ----------
    strategy, method, objective, min_trades
        What was searched, how (``"grid"`` or ``"optuna"``) and by what.
    trials
        Feasible trials by objective (NaN last), then the infeasible ones the same way.
    skipped
        Combinations the strategy refused (``StrategyParameterError``).
    fixed
        Parameters held constant.
    daily_returns
        ``days x distinct trials``: each distinct combination's daily returns, the
        columns in order of first run (``returns_trials`` gives their trial numbers).
    returns_trials
        The trial number of each column of ``daily_returns``.
    deflated_sharpe
        :func:`~quantgrid.optimize.deflated_sharpe_ratio` of the best feasible trial,
        with ``n_trials`` the distinct combinations run and the variance of their
        per-day Sharpe ratios; NaN without a feasible trial.
    pbo
        :func:`~quantgrid.optimize.probability_of_backtest_overfitting` of
        ``daily_returns`` (``pbo_splits`` groups); NaN with fewer than 2 combinations
        or too few days.
    seconds
        Wall time of the search.
    """

    strategy: str
    method: str
    objective: str
    min_trades: int
    trials: tuple[Trial, ...]
    skipped: tuple[dict[str, Any], ...]
    fixed: dict[str, Any]
    daily_returns: FloatArray = field(repr=False)
    returns_trials: tuple[int, ...]
    deflated_sharpe: float
    pbo: float
    pbo_splits: int
    seconds: float

    @property
    def best(self) -> Trial | None:
        """Return the best feasible trial, or ``None`` when no trial is feasible."""
        return self.trials[0] if self.trials and self.trials[0].feasible else None

    @property
    def best_params(self) -> dict[str, Any] | None:
        """Return the best feasible trial's parameters merged with the fixed ones."""
        best = self.best
        return None if best is None else {**self.fixed, **best.params}

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (no NaN: ``None`` instead)."""
        return {
            "strategy": self.strategy,
            "method": self.method,
            "objective": self.objective,
            "min_trades": self.min_trades,
            "fixed": self.fixed,
            "trials": len(self.trials),
            "feasible": sum(t.feasible for t in self.trials),
            "distinct": int(self.daily_returns.shape[1]),
            "skipped": len(self.skipped),
            "best": None if self.best is None else self.best.to_dict(),
            "deflated_sharpe": _finite(self.deflated_sharpe),
            "pbo": _finite(self.pbo),
            "pbo_splits": self.pbo_splits,
            "seconds": self.seconds,
            "rows": [t.to_dict() for t in self.trials],
        }


def rank(trials: list[Trial]) -> tuple[Trial, ...]:
    """Order feasible trials first, each group by objective descending, NaN last."""

    def key(trial: Trial) -> tuple[int, float, int]:
        value = trial.value if not math.isnan(trial.value) else -math.inf
        return (0 if trial.feasible else 1, -value, trial.number)

    return tuple(sorted(trials, key=key))


def empty_returns() -> FloatArray:
    """Return a ``0 x 0`` returns matrix."""
    return np.zeros((0, 0), dtype=np.float64)
