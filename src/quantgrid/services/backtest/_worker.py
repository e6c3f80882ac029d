"""One backtest job, start to finish: what runs in a worker process (or thread).

Everything here is picklable or module-level, so a ``spawn`` worker can import it.
``execute_job`` never raises: every failure becomes an ``Outcome`` with a message a
client can act on.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from quantgrid.backtest import BacktestConfig, BacktestResult, run_backtest
from quantgrid.data import DataValidationError, SyntheticConfig, generate_market, load_bars
from quantgrid.model import BarSeries, Instrument
from quantgrid.reports import write_results
from quantgrid.services.backtest._datafiles import (
    DataPathError,
    instrument_of,
    resolve_data_file,
)
from quantgrid.services.backtest._models import BacktestRequest, FileData
from quantgrid.strategy import BUILTIN_STRATEGIES, StrategyError, StrategyParameterError
from quantgrid.venues import BpsSlippage, BpsSpread

_log = logging.getLogger("quantgrid.services.backtest")

#: Reports a job's progress: ``(job_id, fraction)``.
ProgressSink = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a worker needs to run one job.

    Attributes
    ----------
    job_id
        The job.
    request
        The request as stored (JSON values).
    strategy_module
        The module defining the strategy, imported first so that a strategy registered
        on import is found in a fresh worker process.
    results_dir, data_dir
        Where results go (a folder per job) and the only folder data comes from.
    progress_interval_s, chunk_bars
        Least time between progress reports; bars run between two checks.
    """

    job_id: str
    request: dict[str, Any]
    strategy_module: str
    results_dir: str
    data_dir: str | None
    progress_interval_s: float
    chunk_bars: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a job ended: ``done`` with its results folder, ``failed`` with why, or
    ``cancelled``."""

    status: Literal["done", "failed", "cancelled"]
    detail: str = ""


class JobCancelledError(Exception):
    """Raised inside the engine's progress callback to stop a cancelled job."""


def execute_job(
    spec: JobSpec, report_progress: ProgressSink, cancelled: Callable[[], bool]
) -> Outcome:
    """Run one job and write its results; return how it ended, never raise.

    Parameters
    ----------
    spec
        The job.
    report_progress
        Called with the fraction of bars run, at most every
        ``spec.progress_interval_s`` (and at the end).
    cancelled
        Asked between chunks of bars; once it says yes the job stops.

    Notes
    -----
    Results are written to a hidden folder first and renamed to
    ``<results_dir>/<job_id>`` when complete, so a reader never sees half a result.
    """
    try:
        return _execute(spec, report_progress, cancelled)
    except JobCancelledError:
        return Outcome("cancelled")
    except StrategyError as exc:
        if _caused_by_cancel(exc):
            return Outcome("cancelled")
        return Outcome("failed", _clean(str(exc), spec))
    except MemoryError:
        return Outcome("failed", "the backtest ran out of memory: use fewer bars or instruments")
    except (StrategyParameterError, DataValidationError, DataPathError, ValueError) as exc:
        return Outcome("failed", _clean(str(exc), spec))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return Outcome("failed", _clean(f"could not read or write a file: {reason}", spec))
    except Exception as exc:
        _log.exception("backtest job %s failed unexpectedly", spec.job_id)
        return Outcome("failed", _clean(f"{type(exc).__name__}: {exc}", spec))


def _execute(
    spec: JobSpec, report_progress: ProgressSink, cancelled: Callable[[], bool]
) -> Outcome:
    request = BacktestRequest.model_validate(spec.request)
    importlib.import_module(spec.strategy_module)
    strategy_cls = BUILTIN_STRATEGIES.get(request.strategy)
    if strategy_cls is None:
        return Outcome("failed", f"strategy {request.strategy!r} is no longer registered")
    strategy = strategy_cls(request.params)
    series = _load_data(request, spec)
    config = _config(request, series, spec)
    if cancelled():
        return Outcome("cancelled")

    last_report = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal last_report
        if cancelled():
            raise JobCancelledError
        now = time.monotonic()
        if done >= total or now - last_report >= spec.progress_interval_s:
            last_report = now
            report_progress(spec.job_id, min(1.0, done / total) if total else 1.0)

    result = run_backtest(strategy, series, config=config, progress=progress)
    if cancelled():
        return Outcome("cancelled")
    return Outcome("done", str(_write(result, spec)))


def _load_data(request: BacktestRequest, spec: JobSpec) -> list[BarSeries]:
    data = request.data
    if isinstance(data, FileData):
        if spec.data_dir is None:
            msg = "this server has no data directory any more: use the synthetic market"
            raise DataPathError(msg)
        return [
            load_bars(
                resolve_data_file(Path(spec.data_dir), file.path),
                instrument_of(file.path, file.instrument_id),
            )
            for file in data.files
        ]
    market = generate_market(
        SyntheticConfig(
            instruments=tuple(data.instruments), bars=data.bars, bar_seconds=data.bar_seconds
        ),
        data.seed,
    )
    return list(market.bars.values())


def _config(request: BacktestRequest, series: list[BarSeries], spec: JobSpec) -> BacktestConfig:
    return BacktestConfig(
        initial_cash=request.initial_cash,
        commission=request.commission,
        spread=BpsSpread(request.spread_bps) if request.spread_bps else None,
        slippage=BpsSlippage(request.slippage_bps) if request.slippage_bps else None,
        max_volume_fraction=request.volume_cap,
        instruments={
            s.instrument_id: Instrument(s.instrument_id, request.tick_size, request.lot_size)
            for s in series
        },
        chunk_size=spec.chunk_bars,
        risk=request.risk.to_config() if request.risk is not None else None,
    )


def _write(result: BacktestResult, spec: JobSpec) -> Path:
    results_dir = Path(spec.results_dir)
    final = results_dir / spec.job_id
    partial = results_dir / f".{spec.job_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    write_results(result, partial)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    return final.resolve()


def _caused_by_cancel(exc: BaseException) -> bool:
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 16:  # the engine wraps what the callback raised
        if isinstance(cause, JobCancelledError):
            return True
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return False


def _clean(message: str, spec: JobSpec) -> str:
    """Return ``message`` without the server's folders: clients see relative names."""
    for folder in (spec.data_dir, spec.results_dir):
        if folder:
            for form in {str(Path(folder).resolve()), str(folder)}:
                message = message.replace(form + os.sep, "").replace(form, "<server folder>")
    return message[:2000]
