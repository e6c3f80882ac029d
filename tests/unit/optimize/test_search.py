"""Grid and Optuna searches: ranking, feasibility, refused combinations, reproducibility."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from quantgrid.backtest import run_backtest
from quantgrid.data import load_bars
from quantgrid.model import BarSeries
from quantgrid.optimize import OBJECTIVES, grid_search, optuna_search
from quantgrid.strategy import SmaCross

GRID = {"fast": [5, 10, 20], "slow": [10, 30, 50]}


@pytest.fixture(scope="module")
def goog(goog_csv: Path) -> BarSeries:
    bars = load_bars(goog_csv)
    return bars.slice(0, 1000)


def test_grid_ranks_by_the_objective_and_skips_refused_combinations(goog: BarSeries) -> None:
    result = grid_search(SmaCross, goog, GRID)
    assert len(result.trials) == 7  # 9 combinations; fast >= slow is refused
    assert result.skipped == ({"fast": 10, "slow": 10}, {"fast": 20, "slow": 10})
    values = [t.value for t in result.trials]
    assert values == sorted(values, reverse=True)
    best = result.trials[0]
    assert result.best_params == best.params
    again = run_backtest(SmaCross, goog, best.params).stats.sharpe
    assert best.value == pytest.approx(again)


def test_min_trades_makes_combinations_infeasible_and_ranks_them_last(goog: BarSeries) -> None:
    plain = grid_search("sma_cross", goog, GRID)
    trades = sorted(t.stats.n_trades for t in plain.trials)
    cut = trades[len(trades) // 2]
    result = grid_search("sma_cross", goog, GRID, min_trades=cut)
    flags = [t.feasible for t in result.trials]
    assert flags == sorted(flags, reverse=True)  # every feasible trial first
    assert all(t.feasible == (t.stats.n_trades >= cut) for t in result.trials)
    feasible = [t.value for t in result.trials if t.feasible]
    assert feasible == sorted(feasible, reverse=True)
    assert result.best is not None and result.best.stats.n_trades >= cut
    none_feasible = grid_search("sma_cross", goog, GRID, min_trades=10_000)
    assert none_feasible.best is None
    assert math.isnan(none_feasible.deflated_sharpe)


@pytest.mark.parametrize("objective", ["return_pct", "calmar", "sortino", "max_drawdown_pct"])
def test_any_statistic_can_be_the_objective(goog: BarSeries, objective: str) -> None:
    result = grid_search("sma_cross", goog, GRID, objective=objective)
    values = [getattr(t.stats, objective) for t in result.trials]
    assert [t.value for t in result.trials] == values
    assert values == sorted(values, reverse=True)


def test_unknown_objectives_and_bad_grids_are_refused(goog: BarSeries) -> None:
    assert {"sharpe", "sortino", "return_pct", "calmar"} <= set(OBJECTIVES)
    with pytest.raises(ValueError, match="unknown objective 'profit'"):
        grid_search("sma_cross", goog, GRID, objective="profit")
    with pytest.raises(ValueError, match="non-empty list"):
        grid_search("sma_cross", goog, {"fast": []})
    with pytest.raises(ValueError, match="both searched and fixed"):
        grid_search("sma_cross", goog, GRID, fixed={"fast": 3})
    with pytest.raises(ValueError, match="min_trades"):
        grid_search("sma_cross", goog, GRID, min_trades=-1)


def test_the_result_carries_the_overfitting_diagnostics(goog: BarSeries) -> None:
    result = grid_search("sma_cross", goog, GRID)
    days = len(goog) - 1  # daily bars: one return per bar after the first
    assert result.daily_returns.shape == (days, 7)
    assert 0.0 <= result.deflated_sharpe <= 1.0
    assert 0.0 <= result.pbo <= 1.0
    as_dict = result.to_dict()
    assert as_dict["deflated_sharpe"] == result.deflated_sharpe
    assert as_dict["rows"][0]["value"] == result.trials[0].value


def test_optuna_is_reproducible_with_a_seed(goog: BarSeries) -> None:
    space = {"fast": (2, 20), "slow": (10, 60)}
    first = optuna_search("sma_cross", goog, space, n_trials=12, seed=11)
    second = optuna_search("sma_cross", goog, space, n_trials=12, seed=11)
    other = optuna_search("sma_cross", goog, space, n_trials=12, seed=12)
    runs = [(t.number, t.params, t.value) for t in first.trials]
    assert runs == [(t.number, t.params, t.value) for t in second.trials]
    assert runs != [(t.number, t.params, t.value) for t in other.trials]
    assert len(first.trials) + len(first.skipped) == 12
    assert all(isinstance(v, int) for t in first.trials for v in t.params.values())
    assert first.deflated_sharpe == second.deflated_sharpe


def test_optuna_reports_infeasible_trials_and_takes_floats_and_choices(goog: BarSeries) -> None:
    space = {"period": (5, 30), "lower": (10.0, 45.0), "allow_short": [True, False]}
    result = optuna_search("rsi_mean_reversion", goog, space, n_trials=10, seed=1, min_trades=12)
    assert any(not t.feasible for t in result.trials)
    assert all(t.feasible == (t.stats.n_trades >= 12) for t in result.trials)
    assert all(isinstance(t.params["lower"], float) for t in result.trials)
    assert all(isinstance(t.params["period"], int) for t in result.trials)
    # Diagnostics count each distinct combination once.
    distinct = {tuple(sorted(t.params.items())) for t in result.trials}
    assert result.daily_returns.shape[1] == len(distinct)
    assert np.isfinite(result.daily_returns).all()
    with pytest.raises(ValueError, match="high"):
        optuna_search("sma_cross", goog, {"fast": (9, 3)}, n_trials=2, seed=0)
