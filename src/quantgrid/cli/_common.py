"""Shared pieces of the command line: consoles, error reporting, argument parsing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from quantgrid.backtest import ProgressCallback
from quantgrid.data import DataValidationError, load_bars
from quantgrid.distributed import RayUnavailableError, import_ray
from quantgrid.model import BarSeries, Instrument, InvalidOrderError
from quantgrid.strategy import StrategyError, StrategyNotFoundError, StrategyParameterError

out = Console()
err = Console(stderr=True)

# Errors a user can cause with their input: reported as one clear line, exit code 2.
USER_ERRORS = (
    DataValidationError,
    StrategyParameterError,
    StrategyNotFoundError,
    InvalidOrderError,
    FileNotFoundError,
    ValueError,
)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error to stderr and exit."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors bad input causes into a message and exit code 2, not a traceback."""
    try:
        yield
    except StrategyError as exc:
        fail(str(exc), code=1)
    except FileNotFoundError as exc:
        fail(f"file not found: {exc.filename or exc}")
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    except USER_ERRORS as exc:
        fail(str(exc))


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` pairs; ``none`` or ``null`` mean no value."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            fail(f"--param {pair!r}: expected NAME=VALUE, e.g. --param fast=10")
        if name in params:
            fail(f"--param {name!r} is given twice")
        value = value.strip()
        params[name] = None if value.lower() in ("none", "null", "") else value
    return params


def load_data(specs: list[str]) -> list[BarSeries]:
    """Load each ``FILE`` or ``SYMBOL=FILE``; the symbol defaults to the file name."""
    if not specs:
        fail("no data: give at least one --data FILE (CSV or Parquet)")
    series = []
    for spec in specs:
        symbol, sep, path = spec.partition("=")
        if not sep:
            symbol, path = "", spec
        if not Path(path).exists():
            fail(f"--data {spec!r}: file {path!r} does not exist")
        series.append(load_bars(path, symbol.strip() or None))
    ids = [s.instrument_id for s in series]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        fail(f"two --data files give the instrument {dupes[0]!r}: name them with SYMBOL=FILE")
    return series


def instruments_for(
    series: list[BarSeries], tick_size: float, lot_size: float
) -> dict[str, Instrument]:
    """Return an instrument per series with the given tick and lot size."""
    return {s.instrument_id: Instrument(s.instrument_id, tick_size, lot_size) for s in series}


@contextmanager
def progress_bar(total: int, enabled: bool, label: str) -> Iterator[ProgressCallback | None]:
    """Show a progress bar on stderr for long runs; yield the engine's callback."""
    if not enabled:
        yield None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


BACKENDS = ("local", "ray")


def check_backend(backend: str, ray_address: str | None) -> None:
    """Exit with a clear message for a bad ``--backend`` or a missing Ray."""
    if backend not in BACKENDS:
        fail(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if ray_address is not None and backend != "ray":
        fail("--ray-address needs --backend ray")
    if backend == "ray":
        try:
            import_ray()
        except RayUnavailableError as exc:
            fail(escape(str(exc)), code=1)
