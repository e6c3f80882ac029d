"""``quantgrid optimize`` and ``quantgrid walk-forward``: search parameters, honestly."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from quantgrid.backtest import BacktestConfig
from quantgrid.cli._common import check_backend, fail, load_data, out, parse_params, user_errors
from quantgrid.cli._sweep import parse_grid
from quantgrid.distributed import ray_map
from quantgrid.model import BarSeries
from quantgrid.optimize import (
    OBJECTIVES,
    OptimizationResult,
    WalkForwardResult,
    grid_search,
    optuna_search,
    walk_forward,
)
from quantgrid.strategy import Strategy, load_strategy

StrategyArg = Annotated[str, typer.Argument(help="Built-in name or path/to/file.py:ClassName.")]
DataOpt = Annotated[str, typer.Option("--data", help="One CSV or Parquet file of bars.")]
GridOpt = Annotated[
    list[str] | None,
    typer.Option("--grid", help="NAME=START:STOP[:STEP] (ends included) or A,B,C."),
]
SpaceOpt = Annotated[
    list[str] | None,
    typer.Option("--space", help="Optuna range NAME=LOW:HIGH (ints if both are) or A,B,C."),
]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Fixed parameter NAME=VALUE.")]
TrialsOpt = Annotated[int, typer.Option("--trials", help="Optuna trials.")]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Optuna sampler seed: same seed, same trials.")
]
ObjectiveOpt = Annotated[
    str, typer.Option(help="Statistic to maximise: sharpe, sortino, return_pct, calmar, ...")
]
MinTradesOpt = Annotated[
    int, typer.Option("--min-trades", help="Fewer trades make a combination infeasible.")
]
CashOpt = Annotated[float, typer.Option(help="Initial cash.")]
CommissionOpt = Annotated[
    float, typer.Option(help="Commission as a fraction of traded value, each side.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")]


def parse_space(specs: list[str]) -> dict[str, Any]:
    """Parse ``NAME=LOW:HIGH`` (integers when both ends are) or ``NAME=A,B,C`` choices."""
    space: dict[str, Any] = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            fail(f"--space {spec!r}: expected NAME=LOW:HIGH or NAME=A,B,C")
        if name in space:
            fail(f"--space {name!r} is given twice")
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 2:
                fail(f"--space {spec!r}: a range is LOW:HIGH")
            low, high = (_number(spec, p.strip()) for p in parts)
            if high < low:
                fail(f"--space {spec!r}: HIGH ({high}) is below LOW ({low})")
            space[name] = (low, high)
        else:
            space[name] = [_number(spec, p.strip()) for p in text.split(",") if p.strip()]
    if not space:
        fail("no space: give at least one --space NAME=LOW:HIGH")
    return space


def _number(spec: str, text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        fail(f"--space {spec!r}: {text!r} is not a number")
    if not math.isfinite(value):
        fail(f"--space {spec!r}: {text!r} is not a finite number")
    return int(value) if value.is_integer() and "." not in text else value


def _search_spec(
    grid: list[str] | None, space: list[str] | None, method: str | None
) -> tuple[str, dict[str, Any]]:
    chosen = method or ("optuna" if space and not grid else "grid")
    if chosen not in ("grid", "optuna"):
        fail(f"--method must be grid or optuna, got {chosen!r}")
    if grid and space:
        fail("give --grid (grid search) or --space (Optuna search), not both")
    if chosen == "grid":
        if not grid:
            fail("--method grid needs --grid NAME=START:STOP[:STEP]")
        return chosen, parse_grid(grid)
    if not space:
        fail("--method optuna needs --space NAME=LOW:HIGH")
    return chosen, parse_space(space)


def _setup(
    strategy: str,
    data: str,
    objective: str,
    searched: dict[str, Any],
    param: list[str] | None,
    cash: float,
    commission: float,
) -> tuple[type[Strategy], BarSeries, dict[str, Any], BacktestConfig]:
    if objective not in OBJECTIVES:
        fail(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    strategy_cls = load_strategy(strategy)
    fixed = parse_params(param or [])
    clash = sorted(set(fixed) & set(searched))
    if clash:
        fail(f"{clash[0]!r} is both searched and a --param")
    (series,) = load_data([data])
    return strategy_cls, series, fixed, BacktestConfig(initial_cash=cash, commission=commission)


def optimize(
    strategy: StrategyArg,
    data: DataOpt,
    grid: GridOpt = None,
    space: SpaceOpt = None,
    method: Annotated[
        str | None, typer.Option(help="grid or optuna (default: from --grid/--space).")
    ] = None,
    trials: TrialsOpt = 50,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = "sharpe",
    min_trades: MinTradesOpt = 0,
    param: ParamOpt = None,
    cash: CashOpt = 100_000.0,
    commission: CommissionOpt = 0.0,
    top: Annotated[int, typer.Option(help="Rows to show in the table.")] = 10,
    json_output: JsonOpt = False,
) -> None:
    """Search STRATEGY's parameters; report the deflated Sharpe ratio and the PBO."""
    if min_trades < 0:
        fail(f"--min-trades must be >= 0, got {min_trades}")
    if trials < 1:
        fail(f"--trials must be >= 1, got {trials}")
    with user_errors():
        kind, searched = _search_spec(grid, space, method)
        strategy_cls, series, fixed, config = _setup(
            strategy, data, objective, searched, param, cash, commission
        )
        if kind == "grid":
            result = grid_search(
                strategy_cls, series, searched, fixed, config, objective, min_trades
            )
        else:
            result = optuna_search(
                strategy_cls, series, searched, trials, seed, objective, min_trades, fixed, config
            )
    if json_output:
        out.print_json(json.dumps(result.to_dict(), allow_nan=False))
        return
    _print_search(result, list(searched), top)


def _print_search(result: OptimizationResult, names: list[str], top: int) -> None:
    table = Table(
        title=f"{result.strategy}: {len(result.trials):,} trials ({result.method}) "
        f"by {result.objective}"
    )
    keys = [*names, "value", "feasible", "return_pct", "sharpe", "max_drawdown_pct", "n_trades"]
    for key in keys:
        table.add_column(key, justify="right")
    for trial in result.trials[:top]:
        row = trial.to_dict()
        table.add_row(*(_cell(row.get(k)) for k in keys))
    out.print(table)
    feasible = sum(t.feasible for t in result.trials)
    out.print(
        f"deflated Sharpe ratio {_cell(result.deflated_sharpe)} "
        f"(probability the best trial's Sharpe beats the best of "
        f"{result.daily_returns.shape[1]} by luck); probability of backtest overfitting "
        f"{_cell(result.pbo)} ({result.pbo_splits} splits)",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"[dim]{feasible} feasible, {len(result.trials) - feasible} below --min-trades "
        f"{result.min_trades}, {len(result.skipped)} refused by the strategy; "
        f"{result.seconds:.2f} s[/]",
        highlight=False,
    )


def walk_forward_command(
    strategy: StrategyArg,
    data: DataOpt,
    train_bars: Annotated[int, typer.Option("--train-bars", help="In-sample bars per window.")],
    test_bars: Annotated[int, typer.Option("--test-bars", help="Out-of-sample bars per window.")],
    grid: GridOpt = None,
    space: SpaceOpt = None,
    anchored: Annotated[
        bool, typer.Option("--anchored", help="Train from the first bar, not a rolling window.")
    ] = False,
    trials: TrialsOpt = 50,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = "sharpe",
    min_trades: MinTradesOpt = 0,
    param: ParamOpt = None,
    cash: CashOpt = 100_000.0,
    commission: CommissionOpt = 0.0,
    json_output: JsonOpt = False,
    backend: Annotated[
        str,
        typer.Option(
            help="local: the windows one after another here. ray: one Ray task per "
            "window, needs the distributed extra."
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
    """Optimise on each in-sample window, trade the next, stitch the out-of-sample curve."""
    check_backend(backend, ray_address)
    with user_errors():
        kind, searched = _search_spec(grid, space, None)
        strategy_cls, series, fixed, config = _setup(
            strategy, data, objective, searched, param, cash, commission
        )
        target: type[Strategy] | str = strategy_cls
        map_windows = None
        if backend == "ray":
            # Ray workers may start elsewhere: a strategy file goes by its absolute path.
            target = strategy
            file_part, sep, class_name = strategy.rpartition(":")
            if sep and Path(file_part).is_file():
                target = f"{Path(file_part).resolve()}:{class_name}"
            map_windows = functools.partial(ray_map, address=ray_address, batch=1)
        result = walk_forward(
            target,
            series,
            searched if kind == "grid" else None,
            space=searched if kind == "optuna" else None,
            train_bars=train_bars,
            test_bars=test_bars,
            anchored=anchored,
            objective=objective,
            min_trades=min_trades,
            fixed=fixed,
            config=config,
            n_trials=trials,
            seed=seed,
            map_windows=map_windows,
        )
    if json_output:
        out.print_json(json.dumps(result.to_dict(), allow_nan=False))
        return
    _print_walk_forward(result)


def _print_walk_forward(result: WalkForwardResult) -> None:
    kind = "anchored" if result.anchored else "rolling"
    table = Table(
        title=f"{result.strategy}: {len(result.windows)} {kind} windows "
        f"({result.train_bars:,} in / {result.test_bars:,} out) by {result.objective}"
    )
    keys = ["index", "test_start", "test_end", "params", "in_sample", "out_of_sample"]
    for key in [*keys, "return_pct", "n_trades"]:
        table.add_column(key, justify="right")
    for window in result.to_dict()["windows"]:
        params = window["params"]
        window["params"] = (
            "cash (none feasible)"
            if params is None
            else " ".join(f"{k}={_cell(v)}" for k, v in params.items())
        )
        for key in ("test_start", "test_end"):
            window[key] = window[key][:10]  # the date: the table has no room for the time
        table.add_row(*(_cell(window[k]) for k in [*keys, "return_pct", "n_trades"]))
    out.print(table)
    stats = result.stats
    out.print(
        f"out of sample: return {_cell(stats.return_pct)} %, Sharpe {_cell(stats.sharpe)}, "
        f"max drawdown {_cell(stats.max_drawdown_pct)} %, {stats.n_trades:,} trades",
        highlight=False,
    )
    out.print(
        f"{result.objective}: in-sample mean {_cell(result.in_sample_mean)}, out-of-sample "
        f"mean {_cell(result.out_of_sample_mean)}, degradation {_cell(result.degradation)}, "
        f"efficiency (mean OOS/IS) {_cell(result.efficiency)}",
        highlight=False,
        soft_wrap=True,
    )


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:,.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
