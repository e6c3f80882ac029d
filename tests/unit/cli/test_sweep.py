"""``quantgrid sweep``: grids, the compiled and the generic paths, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantgrid.backtest import sweep_crosses
from quantgrid.cli import app
from quantgrid.cli._sweep import parse_grid
from quantgrid.data import load_bars

runner = CliRunner()


def test_ranges_include_both_ends_and_lists_are_kept() -> None:
    grid = parse_grid(["fast=5:9", "slow=10:20:5", "level=0.5,1.5"])
    assert grid == {"fast": [5, 6, 7, 8, 9], "slow": [10, 15, 20], "level": [0.5, 1.5]}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fast", "expected NAME=START:STOP"),
        ("fast=9:5", "STOP (5) is below START (9)"),
        ("fast=1:5:0", "STEP must be positive"),
        ("fast=a:5", "'a' is not a number"),
        ("fast=1:2:3:4", "a range is START:STOP"),
    ],
)
def test_bad_grids_name_the_rule(spec: str, message: str) -> None:
    with pytest.raises(typer.Exit):
        parse_grid([spec])
    result = runner.invoke(app, ["sweep", "ema_cross", "--data", "x.csv", "--grid", spec])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_compiled_sweep_json_equals_the_api(goog_csv: Path) -> None:
    args = ["sweep", "ema_cross", "--data", str(goog_csv), "--grid", "fast=5:10"]
    result = runner.invoke(app, [*args, "--grid", "slow=8:12", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    api = sweep_crosses(load_bars(goog_csv), list(range(5, 11)), list(range(8, 13)))
    assert data["combinations"] == len(api.rows) == 24  # 6 x 5 pairs, 6 with fast >= slow
    assert data["skipped"] == 6
    assert [(r["fast"], r["slow"], r["n_trades"]) for r in data["rows"]] == [
        (r["fast"], r["slow"], r["n_trades"]) for r in api.rows
    ]


def test_generic_sweep_runs_any_strategy_and_writes_a_report(
    goog_csv: Path, tmp_path: Path
) -> None:
    args = ["sweep", "rsi_mean_reversion", "--data", str(goog_csv), "--grid", "period=10,14"]
    args += ["--grid", "lower=20,45", "--param", "upper=70", "--jobs", "2"]
    result = runner.invoke(app, [*args, "--output", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # 45 < exit 50 < upper 70 is valid, so all four combinations run.
    assert data["combinations"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "sweep.json"]
    report = (tmp_path / "report.html").read_text()
    assert '"type":"heatmap"' in report  # two swept parameters: a heatmap of the objective
    assert "<script src=" not in report  # plotly.js embedded: the report opens offline
    assert json.loads((tmp_path / "sweep.json").read_text())["combinations"] == 4


def test_generic_sweep_lists_refused_combinations(goog_csv: Path) -> None:
    args = ["sweep", "rsi_mean_reversion", "--data", str(goog_csv), "--grid", "lower=20,60"]
    result = runner.invoke(app, [*args, "--jobs", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["combinations"], data["skipped"]) == (1, 1)  # lower=60 > exit=50


def test_a_parameter_cannot_be_both_fixed_and_swept(goog_csv: Path) -> None:
    args = ["sweep", "ema_cross", "--data", str(goog_csv), "--grid", "fast=5:6"]
    result = runner.invoke(app, [*args, "--param", "fast=3"])
    assert result.exit_code == 2
    assert "'fast' is both a --grid and a --param" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backend", "dask"], "--backend must be one of local, ray, got 'dask'"),
        (["--ray-address", "127.0.0.1:6379"], "--ray-address needs --backend ray"),
    ],
)
def test_a_bad_backend_is_refused(goog_csv: Path, extra: list[str], message: str) -> None:
    args = ["sweep", "ema_cross", "--data", str(goog_csv), "--grid", "fast=5:6"]
    result = runner.invoke(app, [*args, "--grid", "slow=8:9", *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
