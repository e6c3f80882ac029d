"""``quantgrid sweep``: rank a strategy's parameter grid."""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from quantgrid.analytics import daily_returns
from quantgrid.backtest import OBJECTIVES, BacktestConfig, SweepResult, run_backtest, sweep_crosses
from quantgrid.backtest._sweep import finish_sweep
from quantgrid.cli._common import (
    check_backend,
    fail,
    load_data,
    out,
    parse_params,
    progress_bar,
    user_errors,
)
from quantgrid.data import load_bars
from quantgrid.distributed import ray_map, ray_sweep_crosses
from quantgrid.model import BarSeries
from quantgrid.reports import write_sweep
from quantgrid.strategy import StrategyParameterError, load_strategy

COMPILED = {"ema_cross": "ema", "sma_cross": "sma"}
DAILY = "_daily_returns"  # carried with each row from the workers, then taken out


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """Parse ``NAME=START:STOP[:STEP]`` (both ends included) or ``NAME=A,B,C``."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            fail(f"--grid {spec!r}: expected NAME=START:STOP[:STEP] or NAME=A,B,C")
        if name in grid:
            fail(f"--grid {name!r} is given twice")
        grid[name] = _values(spec, values.strip())
    if not grid:
        fail("no grid: give at least one --grid NAME=START:STOP[:STEP]")
    return grid


def _number(spec: str, text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        fail(f"--grid {spec!r}: {text!r} is not a number")
    if not math.isfinite(value):
        fail(f"--grid {spec!r}: {text!r} is not a finite number")
    return int(value) if value.is_integer() and "." not in text else value


def _values(spec: str, text: str) -> list[Any]:
    if ":" not in text:
        return [_number(spec, part.strip()) for part in text.split(",") if part.strip()]
    parts = text.split(":")
    if len(parts) not in (2, 3):
        fail(f"--grid {spec!r}: a range is START:STOP or START:STOP:STEP")
    start, stop = _number(spec, parts[0]), _number(spec, parts[1])
    step = _number(spec, parts[2]) if len(parts) == 3 else 1
    if step <= 0:
        fail(f"--grid {spec!r}: STEP must be positive")
    if stop < start:
        fail(f"--grid {spec!r}: STOP ({stop}) is below START ({start})")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > 100_000:
        fail(f"--grid {spec!r}: {count:,} values is more than 100,000")
    values = [start + k * step for k in range(count)]
    return [int(v) if isinstance(start, int) and isinstance(step, int) else v for v in values]


_WORKER_BARS: list[BarSeries] = []


def _load_once(path: str, instrument_id: str) -> None:
    """Load the bars once per worker process."""
    _WORKER_BARS[:] = [load_bars(path, instrument_id)]


def _one_combination(job: tuple[str, dict[str, Any], BacktestConfig]) -> dict[str, Any]:
    """Run one combination with the event-driven engine, on this worker's bars."""
    return _combination_on(_WORKER_BARS[0], job)


def _combination_on(
    bars: BarSeries, job: tuple[str, dict[str, Any], BacktestConfig]
) -> dict[str, Any]:
    """Run one combination on ``bars``: figures and daily returns, never the curves."""
    spec, params, config = job
    strategy = load_strategy(spec)
    try:
        result = run_backtest(strategy, bars, params, config)
    except StrategyParameterError:
        return {**params, "skipped": True}
    stats = result.stats
    return {
        DAILY: daily_returns(result.ts, result.equity)[1],
        **params,
        "equity_final": stats.equity_final,
        "return_pct": stats.return_pct,
        "max_drawdown_pct": stats.max_drawdown_pct,
        "n_trades": stats.n_trades,
        "sharpe": stats.sharpe,
    }


def _generic(
    spec: str,
    data_path: str,
    series: BarSeries,
    grid: dict[str, list[Any]],
    fixed: dict[str, Any],
    config: BacktestConfig,
    objective: str,
    jobs: int,
    backend: str = "local",
    ray_address: str | None = None,
) -> SweepResult:
    started = time.perf_counter()
    names = list(grid)
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]
    jobs_list = [(spec, {**fixed, **combo}, config) for combo in combos]
    _WORKER_BARS[:] = [series]
    rows: list[dict[str, Any]] = []
    with progress_bar(len(jobs_list), True, "sweep") as advance:
        if backend == "ray":
            # Ray workers may start elsewhere: a strategy file goes by its absolute path.
            file_part, sep, class_name = spec.rpartition(":")
            if sep and Path(file_part).is_file():
                remote = f"{Path(file_part).resolve()}:{class_name}"
                jobs_list = [(remote, params, cfg) for _, params, cfg in jobs_list]
            rows = ray_map(
                _combination_on, jobs_list, shared=series, address=ray_address, progress=advance
            )
        elif jobs > 1:
            # Spawned, not forked: a fork would copy polars' and numba's running thread
            # pools into the child, where they deadlock.
            with ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_load_once,
                initargs=(data_path, series.instrument_id),
            ) as pool:
                for k, row in enumerate(pool.map(_one_combination, jobs_list, chunksize=4), 1):
                    rows.append(row)
                    if advance:
                        advance(k, len(jobs_list))
        else:
            for k, job in enumerate(jobs_list, 1):
                rows.append(_one_combination(job))
                if advance:
                    advance(k, len(jobs_list))
    skipped = tuple({n: r[n] for n in names} for r in rows if r.get("skipped"))
    ran = [r for r in rows if not r.get("skipped")]
    daily = np.column_stack([r.pop(DAILY) for r in ran]) if ran else np.empty((0, 0))
    return finish_sweep(
        load_strategy(spec).name, objective, ran, daily, skipped, len(series), started
    )


def sweep(
    strategy: Annotated[str, typer.Argument(help="Built-in name or path/to/file.py:ClassName.")],
    data: Annotated[str, typer.Option("--data", help="One CSV or Parquet file of bars.")],
    grid: Annotated[
        list[str], typer.Option("--grid", help="NAME=START:STOP[:STEP] (ends included) or A,B,C.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Fixed parameter NAME=VALUE.")
    ] = None,
    cash: Annotated[float, typer.Option(help="Initial cash.")] = 100_000.0,
    commission: Annotated[
        float, typer.Option(help="Commission as a fraction of traded value, each side.")
    ] = 0.0,
    objective: Annotated[str, typer.Option(help=f"Rank by: {', '.join(OBJECTIVES)}.")] = "sharpe",
    jobs: Annotated[int, typer.Option(help="Cores to use.")] = 2,
    top: Annotated[int, typer.Option(help="Rows to show in the table.")] = 10,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the ranked table as JSON.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option(help="Write sweep.json and a heatmap report.html here.")
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="local: this machine's cores (--jobs). ray: Ray tasks, needs the "
            "distributed extra."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray cluster to use (host:port or auto); default $RAY_ADDRESS, else a "
            "local Ray on loopback.",
        ),
    ] = None,
) -> None:
    """Backtest every combination of a parameter grid and rank them."""
    if objective not in OBJECTIVES:
        fail(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    check_backend(backend, ray_address)
    if jobs < 1:
        fail(f"--jobs must be >= 1, got {jobs}")
    with user_errors():
        strategy_cls = load_strategy(strategy)
        values = parse_grid(grid)
        fixed = parse_params(param or [])
        clash = sorted(set(fixed) & set(values))
        if clash:
            fail(f"{clash[0]!r} is both a --grid and a --param")
        (series,) = load_data([data])
        config = BacktestConfig(initial_cash=cash, commission=commission)
        result = _run(
            strategy_cls.name,
            strategy,
            data,
            series,
            values,
            fixed,
            config,
            objective,
            jobs,
            backend,
            ray_address,
        )
        paths = write_sweep(result, output) if output is not None else {}
    if json_output:
        out.print_json(json.dumps(result.to_dict(), allow_nan=False))
        return
    table = Table(title=f"{result.strategy}: {len(result.rows):,} combinations by {objective}")
    keys = list(result.rows[0]) if result.rows else []
    for key in keys:
        table.add_column(key, justify="right")
    for row in result.rows[:top]:
        table.add_row(*(_cell(row[k]) for k in keys))
    out.print(table)
    out.print(
        f"[dim]{len(result.skipped)} combinations refused by the strategy; "
        f"{result.seconds:.2f} s[/]",
        highlight=False,
    )
    if result.daily_returns.size:
        out.print(
            f"deflated Sharpe ratio of the best: {_cell(result.deflated_sharpe)}; "
            f"probability of backtest overfitting: {_cell(result.pbo)}",
            highlight=False,
        )
    for kind, path in paths.items():
        out.print(f"[dim]{kind:>7}[/] {path}", highlight=False, soft_wrap=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:,.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _run(
    name: str,
    spec: str,
    data_path: str,
    series: BarSeries,
    grid: dict[str, list[Any]],
    fixed: dict[str, Any],
    config: BacktestConfig,
    objective: str,
    jobs: int,
    backend: str = "local",
    ray_address: str | None = None,
) -> SweepResult:
    if name in COMPILED and set(grid) == {"fast", "slow"} and set(fixed) <= {"size"}:
        for key in ("fast", "slow"):
            if not all(isinstance(v, int) for v in grid[key]):
                fail(f"--grid {key}: windows must be whole numbers")
        size = fixed.get("size")
        if backend == "ray":
            return ray_sweep_crosses(
                series,
                grid["fast"],
                grid["slow"],
                average=COMPILED[name],
                size=None if size is None else float(size),
                config=config,
                objective=objective,
                address=ray_address,
            )
        return sweep_crosses(
            series,
            grid["fast"],
            grid["slow"],
            average=COMPILED[name],
            size=None if size is None else float(size),
            config=config,
            objective=objective,
            jobs=jobs,
        )
    path = data_path.partition("=")[2] if "=" in data_path else data_path
    return _generic(spec, path, series, grid, fixed, config, objective, jobs, backend, ray_address)
