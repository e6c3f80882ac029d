"""``quantgrid optimize`` and ``quantgrid walk-forward``: figures, tables, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantgrid.cli import app
from quantgrid.cli._optimize import parse_space
from quantgrid.data import load_bars
from quantgrid.optimize import grid_search

runner = CliRunner()


def test_grid_json_equals_the_api(goog_csv: Path) -> None:
    args = ["optimize", "sma_cross", "--data", str(goog_csv), "--grid", "fast=5,10"]
    result = runner.invoke(app, [*args, "--grid", "slow=20,30", "--min-trades", "60", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    api = grid_search("sma_cross", load_bars(goog_csv), {"fast": [5, 10], "slow": [20, 30]})
    assert data["method"] == "grid" and data["trials"] == 4
    assert data["deflated_sharpe"] == pytest.approx(api.deflated_sharpe)
    assert data["pbo"] == pytest.approx(api.pbo)
    feasible = [r for r in data["rows"] if r["feasible"]]
    assert all(r["n_trades"] >= 60 for r in feasible)
    assert [r["feasible"] for r in data["rows"]] == sorted(
        (r["feasible"] for r in data["rows"]), reverse=True
    )


def test_optuna_table_and_same_seed_same_json(goog_csv: Path) -> None:
    args = ["optimize", "sma_cross", "--data", str(goog_csv), "--space", "fast=3:15"]
    args += ["--space", "slow=20:60", "--trials", "6", "--seed", "5"]
    first = runner.invoke(app, [*args, "--json"])
    second = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["rows"] == json.loads(second.stdout)["rows"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "deflated Sharpe ratio" in table.output
    assert "probability of backtest overfitting" in table.output


def test_walk_forward_json_and_table(goog_csv: Path) -> None:
    args = ["walk-forward", "sma_cross", "--data", str(goog_csv), "--grid", "fast=5,10"]
    args += ["--grid", "slow=20,40", "--train-bars", "600", "--test-bars", "400"]
    result = runner.invoke(app, [*args, "--json", "--anchored"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["anchored"] is True
    assert len(data["windows"]) == 4  # 1,548 test bars: 3 x 400 and 348
    assert all(w["train_bars"] == 600 + 400 * w["index"] for w in data["windows"])
    assert {"in_sample_mean", "out_of_sample_mean", "degradation", "efficiency"} <= set(data)
    assert data["out_of_sample"]["n_trades"] == sum(w["n_trades"] for w in data["windows"])
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "degradation" in table.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "fast=5,10", "--objective", "alpha"], "--objective must be one of"),
        (["--grid", "fast=5", "--space", "slow=2:9"], "not both"),
        (["--method", "optuna", "--grid", "fast=5"], "--method optuna needs --space"),
        (["--method", "random", "--grid", "fast=5"], "--method must be grid or optuna"),
        (["--space", "fast=9:3"], "HIGH (3) is below LOW (9)"),
        (["--space", "fast=a:3"], "'a' is not a number"),
        (["--grid", "fast=5", "--param", "fast=3"], "both searched and a --param"),
        (["--grid", "fast=5", "--min-trades", "-1"], "--min-trades must be >= 0"),
    ],
)
def test_bad_optimize_input_names_the_rule(goog_csv: Path, extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["optimize", "sma_cross", "--data", str(goog_csv), *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--train-bars", "2000", "--test-bars", "500"], "longer than the data (2,148 bars)"),
        (["--train-bars", "1", "--test-bars", "5"], "train_bars must be a whole number >= 2"),
        (["--train-bars", "500", "--test-bars", "100", "--objective", "x"], "--objective"),
    ],
)
def test_bad_walk_forward_input_names_the_rule(
    goog_csv: Path, extra: list[str], message: str
) -> None:
    args = ["walk-forward", "sma_cross", "--data", str(goog_csv), "--grid", "fast=5,10"]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_space_specs() -> None:
    assert parse_space(["fast=2:9", "level=0.5:1.5", "short=0,1"]) == {
        "fast": (2, 9),
        "level": (0.5, 1.5),
        "short": [0, 1],
    }
    with pytest.raises(typer.Exit):
        parse_space(["fast=1:2:3"])
