"""Sweeps on Ray: the same rows as the local sweep, from the API and the command line.

One local Ray (``ray_session`` in conftest.py) serves the whole module.
"""

from __future__ import annotations

import json
import operator
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quantgrid.backtest import sweep_crosses
from quantgrid.cli import app
from quantgrid.distributed import RAY_MISSING, RayUnavailableError, ray_map, ray_sweep_crosses
from tests.conftest import make_bars, random_walk

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ray")]

runner = CliRunner()
FAST = [3, 5, 8, 13, 21, 34]
SLOW = [5, 8, 13, 21, 34, 55]


def _rows(result: Any) -> list[dict[str, Any]]:
    return result.to_dict()["rows"]  # NaN as None, so rows compare equal


@pytest.mark.parametrize(("objective", "chunks"), [("sharpe", None), ("return_pct", 5)])
def test_ray_rows_equal_local_rows(ray_session: Any, objective: str, chunks: int | None) -> None:
    bars = make_bars(random_walk(5_000, seed=11))
    local = sweep_crosses(bars, FAST, SLOW, objective=objective)
    remote = ray_sweep_crosses(bars, FAST, SLOW, objective=objective, chunks=chunks)
    assert len(remote.rows) == 21  # 36 pairs, 15 with fast >= slow
    assert _rows(remote) == _rows(local)
    assert remote.skipped == local.skipped
    assert (remote.strategy, remote.objective, remote.bars) == ("ema_cross", objective, 5_000)
    assert ray_session.is_initialized()  # the module's Ray is used and left running
    assert ray_session.util.get_node_ip_address() == "127.0.0.1"


def test_a_bad_grid_fails_before_any_task(ray_session: Any) -> None:
    bars = make_bars(random_walk(100, seed=1))
    with pytest.raises(ValueError, match="no \\(fast, slow\\) pair"):
        ray_sweep_crosses(bars, [9], [5])
    with pytest.raises(ValueError, match="average must be"):
        ray_sweep_crosses(bars, [2], [5], average="wma")


def test_ray_map_keeps_order_and_reports_progress(ray_session: Any) -> None:
    seen: list[tuple[int, int]] = []
    items = list(range(10))
    result = ray_map(operator.add, items, shared=100, batch=3, progress=lambda *a: seen.append(a))
    assert result == [100 + k for k in items]
    assert seen[-1] == (10, 10)
    assert sorted(d for d, _ in seen) == [d for d, _ in seen]


def _cli_rows(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    data.pop("seconds")
    return data


def test_cli_ray_backend_equals_local_on_the_compiled_path(
    ray_session: Any, goog_csv: Path
) -> None:
    args = ["sweep", "ema_cross", "--data", str(goog_csv), "--grid", "fast=5:10"]
    args += ["--grid", "slow=8:20:2"]
    local = _cli_rows([*args, "--backend", "local"])
    remote = _cli_rows([*args, "--backend", "ray"])
    assert remote == local
    assert local["combinations"] == 38  # 42 pairs, 4 with fast >= slow


def test_cli_ray_backend_equals_local_on_the_generic_path(ray_session: Any, goog_csv: Path) -> None:
    args = ["sweep", "rsi_mean_reversion", "--data", str(goog_csv), "--grid", "period=10,14"]
    args += ["--grid", "lower=20,45,60", "--param", "upper=70"]
    local = _cli_rows([*args, "--jobs", "1"])
    remote = _cli_rows([*args, "--backend", "ray"])
    assert remote == local
    assert (local["combinations"], local["skipped"]) == (4, 2)  # lower=60 > exit 50


def test_without_ray_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, goog_csv: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    bars = make_bars(random_walk(100, seed=1))
    with pytest.raises(RayUnavailableError, match="distributed extra") as info:
        ray_sweep_crosses(bars, [2], [5])
    assert str(info.value) == RAY_MISSING
    assert isinstance(info.value, ImportError)
    with pytest.raises(RayUnavailableError):
        ray_map(operator.add, [1], shared=1)
    args = ["sweep", "ema_cross", "--data", str(goog_csv), "--grid", "fast=5:6"]
    result = runner.invoke(app, [*args, "--grid", "slow=8:9", "--backend", "ray"])
    assert result.exit_code == 1
    assert "pip install 'quantgrid[distributed]'" in " ".join(result.output.split())
