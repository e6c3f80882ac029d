"""The ``quantgrid`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from quantgrid import __version__
from quantgrid.backtest import BacktestConfig, BacktestResult, check_lookahead, run_backtest
from quantgrid.cli._common import (
    err,
    fail,
    instruments_for,
    load_data,
    out,
    parse_params,
    progress_bar,
    user_errors,
)
from quantgrid.cli._ml import ml_app
from quantgrid.cli._optimize import optimize, walk_forward_command
from quantgrid.cli._serve import serve, up
from quantgrid.cli._sweep import sweep
from quantgrid.cli._users import keys_app, users_app
from quantgrid.core import ns_to_iso
from quantgrid.data import SyntheticConfig, generate_market, save_market
from quantgrid.model import OrderStatus, Regime
from quantgrid.regime import RegimeDetector  # importing it also registers regime_switch
from quantgrid.reports import stats_table, write_results
from quantgrid.reports._format import jsonable
from quantgrid.risk import RiskConfig, TradingState
from quantgrid.strategy import BUILTIN_STRATEGIES, load_strategy
from quantgrid.venues import BpsSlippage, BpsSpread

app = typer.Typer(
    name="quantgrid",
    help="QuantGrid: event-driven backtesting, paper and live trading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PROGRESS_MIN_BARS = 100_000
DEMO_TREND_DRIFT = 0.18


def _version(value: bool) -> None:
    if value:
        out.print(f"quantgrid {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """QuantGrid command line."""


@app.command()
def backtest(
    strategy: Annotated[str, typer.Argument(help="Built-in name or path/to/file.py:ClassName.")],
    data: Annotated[
        list[str], typer.Option("--data", help="CSV or Parquet bars; FILE or SYMBOL=FILE.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Strategy parameter NAME=VALUE.")
    ] = None,
    cash: Annotated[float, typer.Option(help="Initial cash.")] = 100_000.0,
    commission: Annotated[
        float, typer.Option(help="Commission as a fraction of traded value, each side.")
    ] = 0.0,
    spread_bps: Annotated[float, typer.Option(help="Bid-ask spread in basis points.")] = 0.0,
    slippage_bps: Annotated[float, typer.Option(help="Slippage in basis points.")] = 0.0,
    volume_cap: Annotated[
        float | None, typer.Option(help="Max fill per bar as a fraction of its volume.")
    ] = None,
    tick_size: Annotated[float, typer.Option(help="Price increment of the instruments.")] = 0.01,
    lot_size: Annotated[float, typer.Option(help="Quantity increment of the instruments.")] = 1.0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(help="Write stats.json, equity.csv, trades.csv, risk.json, report.html."),
    ] = None,
    reduce_at_drawdown: Annotated[
        float | None,
        typer.Option(
            help="Drawdown from the equity peak (a fraction, 0.05 = 5 %) from which only "
            "orders that shrink a position pass.",
            rich_help_panel="Risk limits",
        ),
    ] = None,
    halt_at_drawdown: Annotated[
        float | None,
        typer.Option(
            help="Drawdown from the equity peak (a fraction) at which trading halts: every "
            "later order is denied.",
            rich_help_panel="Risk limits",
        ),
    ] = None,
    max_position: Annotated[
        float | None,
        typer.Option(
            help="Units a position may reach (long or short), counting working orders.",
            rich_help_panel="Risk limits",
        ),
    ] = None,
    max_order_notional: Annotated[
        float | None,
        typer.Option(
            help="Value one order may trade (quantity x price x multiplier).",
            rich_help_panel="Risk limits",
        ),
    ] = None,
) -> None:
    """Run a backtest of STRATEGY over the --data files.

    Any risk limit sends every order through the pre-trade risk checks first.
    """
    risk = _risk_config(reduce_at_drawdown, halt_at_drawdown, max_position, max_order_notional)
    with user_errors():
        strategy_cls = load_strategy(strategy)
        params = strategy_cls.parse_params(parse_params(param or []))
        series = load_data(data)
        config = BacktestConfig(
            initial_cash=cash,
            commission=commission,
            spread=BpsSpread(spread_bps) if spread_bps else None,
            slippage=BpsSlippage(slippage_bps) if slippage_bps else None,
            max_volume_fraction=volume_cap,
            instruments=instruments_for(series, tick_size, lot_size),
            risk=risk,
        )
        total = sum(len(s) for s in series)
        with progress_bar(total, not json_output and total >= PROGRESS_MIN_BARS, "backtest") as cb:
            result = run_backtest(strategy_cls(params), series, config=config, progress=cb)
    _report(result, json_output, output)


def _risk_config(
    reduce_at_drawdown: float | None,
    halt_at_drawdown: float | None,
    max_position: float | None,
    max_order_notional: float | None,
) -> RiskConfig | None:
    """Return the risk limits given on the command line, or None if none was.

    A bad value exits with the rule it breaks, naming its option.
    """
    options = ("reduce_at_drawdown", "halt_at_drawdown", "max_position", "max_order_notional")
    values = (reduce_at_drawdown, halt_at_drawdown, max_position, max_order_notional)
    if all(value is None for value in values):
        return None
    try:
        return RiskConfig(
            reduce_at_drawdown=reduce_at_drawdown,
            halt_at_drawdown=halt_at_drawdown,
            max_position=max_position,
            max_order_notional=max_order_notional,
        )
    except ValueError as exc:
        message = str(exc).replace("RiskConfig.", "")
        for name in options:
            message = message.replace(name, "--" + name.replace("_", "-"))
        fail(escape(message))


def _summary(result: BacktestResult) -> dict[str, Any]:
    return {
        "strategy": result.strategy,
        "params": jsonable(result.params),
        "instruments": list(result.instruments),
        **result.stats.to_dict(),
    }


def _report(result: BacktestResult, json_output: bool, output: Path | None) -> None:
    with user_errors():
        paths = write_results(result, output) if output is not None else {}
    _warn_about_refused_orders(result)
    _warn_about_risk(result)
    if json_output:
        out.print_json(json.dumps(_summary(result), allow_nan=False))
        return
    title = f"{result.strategy} on {', '.join(result.instruments)}"
    out.print(stats_table(result.stats, title=title))
    for kind, path in paths.items():
        # Soft wrap: a long path stays one line a person can copy.
        out.print(f"[dim]{kind:>7}[/] {path}", highlight=False, soft_wrap=True)


def _warn_about_refused_orders(result: BacktestResult) -> None:
    """Say on stderr when orders were rejected or cancelled by the venue, and why.

    Orders the risk checks denied are left to ``_warn_about_risk``.
    """
    reasons: dict[str, int] = {}
    for order in result.orders:
        event = order.events[-1] if order.events else None
        reason = str(getattr(event, "reason", ""))
        if order.status is OrderStatus.REJECTED or (
            order.status is OrderStatus.CANCELED and reason != "canceled on request"
        ):
            reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        total = sum(reasons.values())
        common = max(reasons, key=reasons.__getitem__)
        err.print(
            f"[yellow]warning:[/] {total:,} orders were rejected or cancelled by the venue; "
            f"most often ({reasons[common]:,}x): {escape(common)}",
            highlight=False,
            soft_wrap=True,
        )


def _warn_about_risk(result: BacktestResult) -> None:
    """Say on stderr when the run ended REDUCING or HALTED (since when, why) or had denials."""
    rejections = result.risk_rejections
    counts: dict[str, int] = {}
    for rejection in rejections:
        counts[rejection.check] = counts.get(rejection.check, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    denied = (
        f"{len(rejections):,} orders denied by the risk checks "
        f"({', '.join(f'{check} {n:,}' for check, n in ranked)})"
    )
    last = result.trading_states[-1] if result.trading_states else None
    if last is not None and last.state is not TradingState.ACTIVE:
        effect = {
            TradingState.HALTED: "no order passed",
            TradingState.REDUCING: "only orders that shrink a position passed",
        }[last.state]
        message = (
            f"trading {last.state.value} from {ns_to_iso(last.ts_event)} to the end "
            f"({effect}): {escape(last.reason)}"
        )
        if rejections:
            message += f"; {denied}"
    elif rejections:
        message = denied
    else:
        return
    err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


@app.command()
def synth(
    output: Annotated[Path, typer.Option(help="Directory for the bar files and regimes.csv.")],
    bars: Annotated[int, typer.Option(help="Bars per instrument.")] = 20_000,
    instruments: Annotated[
        str, typer.Option(help="Comma-separated instrument ids.")
    ] = "SYN0,SYN1,SYN2,SYN3",
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 7,
    bar_seconds: Annotated[int, typer.Option(help="Seconds per bar.")] = 60,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Generate a seeded synthetic market with its ground-truth regime labels."""
    if fmt not in ("csv", "parquet"):
        fail(f"--format must be csv or parquet, got {fmt!r}")
    ids = tuple(i.strip() for i in instruments.split(",") if i.strip())
    with user_errors():
        market = generate_market(
            SyntheticConfig(instruments=ids, bars=bars, bar_seconds=bar_seconds), seed
        )
        paths = save_market(market, output, fmt="parquet" if fmt == "parquet" else "csv")
    for path in paths:
        out.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def demo(
    output: Annotated[Path, typer.Option(help="Where to write the data and results.")] = Path(
        "results/demo"
    ),
    bars: Annotated[
        int, typer.Option(help="15-minute bars per instrument (35,040 is a year).")
    ] = 35_040,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 7,
) -> None:
    """Backtest ema_cross on a year of a four-instrument synthetic market and report it."""
    with user_errors():
        # A year of 15-minute bars, so annual figures mean something, and trend drift
        # below the generator's default (tuned for regime-detection tests) so the
        # figures look like a market, not a windfall.
        market = generate_market(
            SyntheticConfig(bars=bars, bar_seconds=900, trend_drift=DEMO_TREND_DRIFT), seed
        )
        data_paths = save_market(market, output / "data", fmt="parquet")
        series = list(market.bars.values())
        config = BacktestConfig(initial_cash=100_000.0, commission=0.0005)
        strategy = BUILTIN_STRATEGIES["ema_cross"]({"fast": 20, "slow": 80})
        total = sum(len(s) for s in series)
        with progress_bar(total, total >= PROGRESS_MIN_BARS, "demo backtest") as cb:
            result = run_backtest(strategy, series, config=config, progress=cb)
    _report(result, False, output)
    out.print(
        f"[dim]Synthetic market ({len(series)} instruments x {bars:,} 15-minute bars, seed "
        f"{seed}) written to {data_paths[0].parent}. Its trends are planted: these figures "
        "show the engine working, not an edge.[/]",
        highlight=False,
    )


@app.command()
def strategies() -> None:
    """List the built-in strategies and their parameters."""
    table = Table(title="Built-in strategies")
    for column in ("strategy", "parameter", "type", "default"):
        table.add_column(column, no_wrap=True)
    table.add_column("meaning")
    for name, cls in sorted(BUILTIN_STRATEGIES.items()):
        for k, (field_name, field) in enumerate(cls.Params.model_fields.items()):
            annotation = getattr(field.annotation, "__name__", str(field.annotation))
            table.add_row(
                "" if k else name,
                field_name,
                annotation,
                repr(field.default),
                field.description or "",
            )
    out.print(table)


app.command()(sweep)
app.command()(optimize)
app.command("walk-forward")(walk_forward_command)
app.command()(up)
app.command()(serve)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(ml_app, name="ml")

REGIME_FEATURES = (
    "natr",
    "adx",
    "choppiness",
    "efficiency",
    "autocorrelation",
    "volatility",
    "volatility_ratio",
    "correlation",
)


@app.command()
def regime(
    data: Annotated[
        list[str], typer.Option("--data", help="CSV or Parquet bars; FILE or SYMBOL=FILE.")
    ],
    output: Annotated[Path, typer.Option(help="CSV to write, one row per bar per instrument.")],
) -> None:
    """Label every bar of every instrument TRENDING, RANGING, CHOPPY or CRISIS."""
    with user_errors():
        series = load_data(data)
        frames = RegimeDetector().detect({s.instrument_id: s for s in series})
        names = {int(r): r.name for r in Regime} | {-1: "UNKNOWN"}
        tables = [
            pl.DataFrame(
                {
                    "timestamp": pl.Series(frame.ts).cast(pl.Datetime("ns", "UTC")),
                    "instrument": [iid] * len(frame.ts),
                    "regime": [names[int(r)] for r in frame.regime],
                    "confidence": frame.confidence,
                    **{name: getattr(frame, name) for name in REGIME_FEATURES},
                }
            )
            for iid, frame in frames.items()
        ]
        table = pl.concat(tables).sort(["timestamp", "instrument"])
        output.parent.mkdir(parents=True, exist_ok=True)
        table.write_csv(output, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
    counts = table.group_by("regime").len().sort("regime")
    summary = ", ".join(f"{r} {n:,}" for r, n in counts.iter_rows())
    out.print(f"{table.height:,} bars labelled ({summary}) -> {output}", highlight=False)


@app.command("check-lookahead")
def check_lookahead_command(
    strategy: Annotated[str, typer.Argument(help="Built-in name or path/to/file.py:ClassName.")],
    data: Annotated[
        list[str], typer.Option("--data", help="CSV or Parquet bars; FILE or SYMBOL=FILE.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Strategy parameter NAME=VALUE.")
    ] = None,
    points: Annotated[int, typer.Option(help="How many cut points to replay.")] = 8,
) -> None:
    """Replay STRATEGY on cut-short data; exit 1 if any decision used later bars."""
    with user_errors():
        strategy_cls = load_strategy(strategy)
        params = strategy_cls.parse_params(parse_params(param or []))
        series = load_data(data)
        report = check_lookahead(strategy_cls, series, params.model_dump(), points=points)
    if report.passed:
        out.print(
            f"[green]no lookahead:[/] {report.decisions:,} decisions unchanged at "
            f"{len(report.cuts)} cut points",
            highlight=False,
        )
        return
    out.print(
        f"[bold red]lookahead found[/] at {len(report.findings)} of {len(report.cuts)} cut "
        "points: these decisions change when later bars are removed",
        highlight=False,
    )
    for finding in report.findings:
        out.print(
            f"  cut at {ns_to_iso(finding.cut_ts)}: with all data "
            f"{_describe(finding.with_all_data)}; with data cut {_describe(finding.with_data_cut)}",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(1)


def _describe(decision: tuple[Any, ...] | None) -> str:
    if decision is None:
        return "no order"
    ts, _, iid, side, kind, quantity, price, trigger = decision[:8]
    size = "all cash" if quantity is None else f"{quantity:g}"
    prices = "".join(
        f" {name} {value:g}" for name, value in (("limit", price), ("stop", trigger)) if value
    )
    return f"{side} {size} {iid} {kind}{prices} decided at {ns_to_iso(ts)}"


def main() -> None:
    """Run the command line."""
    app()
