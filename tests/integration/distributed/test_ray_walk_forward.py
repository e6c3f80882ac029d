"""Walk-forward on Ray: one task per window, the same result as the local run.

One local Ray (``ray_session`` in conftest.py) serves the whole module.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from quantgrid.cli import app
from quantgrid.data import load_bars
from quantgrid.distributed import ray_map
from quantgrid.optimize import WalkForwardResult, walk_forward

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ray")]

runner = CliRunner()


def _figures(result: WalkForwardResult) -> dict[str, Any]:
    """Everything but the timings; NaN as None, so the figures compare equal."""
    data = result.to_dict()
    data.pop("seconds")
    data["out_of_sample"].pop("engine_seconds", None)
    return data


@pytest.mark.parametrize(
    ("search", "anchored"),
    [
        ({"grid": {"fast": [5, 10], "slow": [20, 40]}}, False),
        ({"space": {"fast": (3, 15), "slow": (20, 60)}, "n_trials": 4, "seed": 3}, True),
    ],
    ids=["grid-rolling", "optuna-anchored"],
)
def test_ray_windows_equal_local_windows(
    ray_session: Any, goog_csv: Path, search: dict[str, Any], anchored: bool
) -> None:
    bars = load_bars(goog_csv).slice(0, 1000)
    options: dict[str, Any] = {"train_bars": 300, "test_bars": 150, "anchored": anchored}
    local = walk_forward("sma_cross", bars, **search, **options)
    seen: list[tuple[int, int]] = []
    remote = walk_forward(
        "sma_cross",
        bars,
        **search,
        **options,
        map_windows=functools.partial(ray_map, batch=1, progress=lambda *a: seen.append(a)),
    )
    assert len(remote.windows) == 5
    assert seen[-1] == (5, 5)  # one task per window
    assert _figures(remote) == _figures(local)
    for ours, theirs in zip(remote.windows, local.windows, strict=True):
        assert ours.params == theirs.params
        assert ours.stats.to_dict() == theirs.stats.to_dict()
    np.testing.assert_array_equal(remote.equity, local.equity)
    np.testing.assert_array_equal(remote.ts, local.ts)
    assert remote.trades == local.trades
    assert ray_session.is_initialized()  # the module's Ray is used and left running


def _cli(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    data.pop("seconds")
    data["out_of_sample"].pop("engine_seconds", None)
    return data


def test_cli_ray_backend_equals_local(ray_session: Any, goog_csv: Path) -> None:
    args = ["walk-forward", "sma_cross", "--data", str(goog_csv), "--grid", "fast=5,10"]
    args += ["--grid", "slow=20,40", "--train-bars", "500", "--test-bars", "400"]
    local = _cli([*args, "--backend", "local"])
    remote = _cli([*args, "--backend", "ray"])
    assert remote == local
    assert len(local["windows"]) == 5  # 2,148 bars: 4 test windows of 400 and 148 left


def test_cli_backend_errors(monkeypatch: pytest.MonkeyPatch, goog_csv: Path) -> None:
    args = ["walk-forward", "sma_cross", "--data", str(goog_csv), "--grid", "fast=5"]
    args += ["--grid", "slow=20", "--train-bars", "500", "--test-bars", "400"]
    result = runner.invoke(app, [*args, "--backend", "dask"])
    assert result.exit_code == 2
    assert "--backend must be one of local, ray, got 'dask'" in " ".join(result.output.split())
    result = runner.invoke(app, [*args, "--ray-address", "auto"])
    assert result.exit_code == 2
    assert "--ray-address needs --backend ray" in " ".join(result.output.split())
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    result = runner.invoke(app, [*args, "--backend", "ray"])
    assert result.exit_code == 1
    assert "pip install 'quantgrid[distributed]'" in " ".join(result.output.split())
