"""Parameter searches: every combination of a grid, or Optuna's TPE sampler over a space.

Each combination runs on the event-driven engine (``run_backtest``). A search keeps, per
distinct combination, its statistics and its daily returns (one float per day), so
memory grows with days x combinations, never with bars.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna

from quantgrid.analytics import Statistics, daily_returns, overfitting_diagnostics
from quantgrid.backtest import BacktestConfig, run_backtest
from quantgrid.model import BarSeries, FloatArray
from quantgrid.optimize._objective import check_objective, objective_value
from quantgrid.optimize._result import OptimizationResult, Trial, empty_returns, rank
from quantgrid.strategy import Strategy, StrategyParameterError, load_strategy

Data = BarSeries | Sequence[BarSeries]
SpaceValue = tuple[int, int] | tuple[float, float] | list[Any]


def grid_search(
    strategy: type[Strategy] | str,
    data: Data,
    grid: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    objective: str = "sharpe",
    min_trades: int = 0,
    *,
    pbo_splits: int = 16,
) -> OptimizationResult:
    """Backtest every combination of ``grid`` and rank them by ``objective``.

    Parameters
    ----------
    strategy
        A strategy class, or a name ``load_strategy`` knows.
    data
        The bars: one series or several.
    grid
        Values per parameter; every combination (the Cartesian product) runs.
    fixed
        Parameters held constant; they may not also be in ``grid``.
    config
        The backtest settings (default ``BacktestConfig()``).
    objective
        A field of ``Statistics`` to maximise (see ``OBJECTIVES``).
    min_trades
        Combinations with fewer closed trades are infeasible and ranked after all
        feasible ones.
    pbo_splits
        Row groups of the probability of backtest overfitting.

    Returns
    -------
    OptimizationResult

    Raises
    ------
    ValueError
        On an unknown objective, an empty grid or value list, a negative ``min_trades``
        or a parameter both in ``grid`` and ``fixed``.
    """
    started = time.perf_counter()
    fixed_params = dict(fixed or {})
    _check_names(grid, fixed_params, "grid")
    for name, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            msg = f"grid[{name!r}] must be a non-empty list of values, got {values!r}"
            raise ValueError(msg)
    runner = _Runner(strategy, data, fixed_params, config, objective, min_trades)
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        runner.run(dict(zip(names, values, strict=True)))
    return runner.result("grid", started, pbo_splits)


def optuna_search(
    strategy: type[Strategy] | str,
    data: Data,
    space: Mapping[str, SpaceValue],
    n_trials: int,
    seed: int,
    objective: str = "sharpe",
    min_trades: int = 0,
    fixed: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    *,
    pbo_splits: int = 16,
) -> OptimizationResult:
    """Search ``space`` with Optuna's TPE sampler for ``n_trials`` trials.

    Parameters
    ----------
    space
        Per parameter: ``(low, high)`` (both included; integers when both ends are
        ``int``, else floats) or a list of choices.
    n_trials
        Trials to run, refused combinations included.
    seed
        Seed of the sampler: the same seed gives the same trials.
    strategy, data, objective, min_trades, fixed, config, pbo_splits
        As in :func:`grid_search`.

    Returns
    -------
    OptimizationResult
        Refused combinations are in ``skipped``; a combination the sampler proposes again
        is not rerun (its figures are reused) and counts once in the diagnostics.

    Notes
    -----
    Infeasible trials (fewer than ``min_trades`` trades) are reported to the sampler as
    constraint violations, so it learns to avoid them; refused ones are pruned. An
    undefined objective (NaN) is reported as ``-inf``. Optuna's logging is set to
    WARNING and its experimental-feature warnings are silenced.
    """
    started = time.perf_counter()
    fixed_params = dict(fixed or {})
    _check_names(space, fixed_params, "space")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        msg = f"n_trials must be a whole number >= 1, got {n_trials!r}"
        raise ValueError(msg)
    suggest = {name: _suggester(name, spec) for name, spec in space.items()}
    runner = _Runner(strategy, data, fixed_params, config, objective, min_trades)

    def evaluate(trial: optuna.Trial) -> float:
        params = {name: fn(trial) for name, fn in suggest.items()}
        outcome = runner.run(params)
        if outcome is None:
            raise optuna.TrialPruned
        # Feasible when <= 0: Optuna's constrained TPE then prefers feasible trials.
        trial.set_constraint("min_trades", float(min_trades - outcome.stats.n_trades))
        return outcome.value if not math.isnan(outcome.value) else -math.inf

    optuna.logging.set_verbosity(logging.WARNING)
    with warnings.catch_warnings():
        # Optuna flags features experimental from release to release (constrained TPE was);
        # the warning says nothing a user of this search can act on.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(evaluate, n_trials=n_trials)
    return runner.result("optuna", started, pbo_splits)


def _check_names(searched: Mapping[str, Any], fixed: Mapping[str, Any], what: str) -> None:
    if not searched:
        msg = f"the {what} is empty: give at least one parameter to search"
        raise ValueError(msg)
    clash = sorted(set(searched) & set(fixed))
    if clash:
        msg = f"{clash[0]!r} is both searched and fixed"
        raise ValueError(msg)


def _suggester(name: str, spec: Any) -> Any:
    if isinstance(spec, list):
        if not spec:
            msg = f"space[{name!r}]: a list of choices must not be empty"
            raise ValueError(msg)
        bad = [v for v in spec if not isinstance(v, str | int | float | bool | None)]
        if bad:
            msg = f"space[{name!r}]: choices must be numbers, strings or None, got {bad[0]!r}"
            raise ValueError(msg)
        choices = list(spec)
        return lambda trial: trial.suggest_categorical(name, choices)
    if not (isinstance(spec, tuple) and len(spec) == 2):
        msg = f"space[{name!r}] must be (low, high) or a list of choices, got {spec!r}"
        raise ValueError(msg)
    low, high = spec
    if not all(_is_number(v) for v in spec):
        msg = f"space[{name!r}]: low and high must be numbers, got {spec!r}"
        raise ValueError(msg)
    if high < low:
        msg = f"space[{name!r}]: high ({high}) is below low ({low})"
        raise ValueError(msg)
    if isinstance(low, int) and isinstance(high, int):
        return lambda trial: trial.suggest_int(name, low, high)
    lo, hi = float(low), float(high)
    return lambda trial: trial.suggest_float(name, lo, hi)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


class _Runner:
    """Runs combinations once each and keeps what the result needs."""

    def __init__(
        self,
        strategy: type[Strategy] | str,
        data: Data,
        fixed: dict[str, Any],
        config: BacktestConfig | None,
        objective: str,
        min_trades: int,
    ) -> None:
        self.objective = check_objective(objective)
        if isinstance(min_trades, bool) or not isinstance(min_trades, int) or min_trades < 0:
            msg = f"min_trades must be a whole number >= 0, got {min_trades!r}"
            raise ValueError(msg)
        self.strategy = load_strategy(strategy) if isinstance(strategy, str) else strategy
        self.data = data
        self.fixed = fixed
        self.config = config or BacktestConfig()
        self.min_trades = min_trades
        self.trials: list[Trial] = []
        self.skipped: list[dict[str, Any]] = []
        self._seen: dict[tuple[tuple[str, str], ...], Trial | None] = {}
        self._returns: list[FloatArray] = []
        self._columns: list[int] = []
        self._column_of: dict[int, int] = {}  # trial number -> its column of returns

    def run(self, params: dict[str, Any]) -> Trial | None:
        """Run one combination (or reuse its earlier run); ``None`` if refused."""
        key = tuple(sorted((k, repr(v)) for k, v in params.items()))
        number = len(self.trials) + len(self.skipped)
        if key in self._seen:
            earlier = self._seen[key]
            if earlier is None:
                self.skipped.append(params)
                return None
            trial = Trial(number, params, earlier.value, earlier.feasible, earlier.stats)
            self.trials.append(trial)
            self._column_of[number] = self._column_of[earlier.number]
            return trial
        try:
            result = run_backtest(self.strategy, self.data, {**self.fixed, **params}, self.config)
        except StrategyParameterError:
            self._seen[key] = None
            self.skipped.append(params)
            return None
        trial = self._trial(number, params, result.stats)
        self._seen[key] = trial
        self.trials.append(trial)
        self._column_of[number] = len(self._returns)
        self._returns.append(daily_returns(result.ts, result.equity)[1])
        self._columns.append(number)
        return trial

    def _trial(self, number: int, params: dict[str, Any], stats: Statistics) -> Trial:
        value = objective_value(stats, self.objective)
        return Trial(number, params, value, stats.n_trades >= self.min_trades, stats)

    def result(self, method: str, started: float, pbo_splits: int) -> OptimizationResult:
        """Rank the trials and compute the overfitting diagnostics."""
        ranked = rank(self.trials)
        matrix = _matrix(self._returns)
        best = ranked[0] if ranked and ranked[0].feasible else None
        column = None if best is None or not matrix.size else self._column_of[best.number]
        dsr, pbo = overfitting_diagnostics(matrix, column, pbo_splits)
        return OptimizationResult(
            strategy=self.strategy.name,
            method=method,
            objective=self.objective,
            min_trades=self.min_trades,
            trials=ranked,
            skipped=tuple(self.skipped),
            fixed=self.fixed,
            daily_returns=matrix,
            returns_trials=tuple(self._columns),
            deflated_sharpe=dsr,
            pbo=pbo,
            pbo_splits=pbo_splits,
            seconds=time.perf_counter() - started,
        )


def _matrix(columns: list[FloatArray]) -> FloatArray:
    if not columns:
        return empty_returns()
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        # Every run covers the same bars, so this cannot happen with one data set.
        msg = f"trials have daily returns of different lengths: {sorted(lengths)}"
        raise RuntimeError(msg)
    return np.column_stack(columns)
