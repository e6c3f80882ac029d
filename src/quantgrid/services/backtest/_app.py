"""The backtest service's routes: submit, follow, read and cancel backtest jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import anyio.to_thread
import polars as pl
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Response
from fastapi.responses import FileResponse, HTMLResponse

from quantgrid.adapters.storage import JobStatus, Role, Store
from quantgrid.core import Clock, LiveClock
from quantgrid.gateway import Authenticator, Principal, install_auth, require_role
from quantgrid.services import create_service_app, problem_responses
from quantgrid.services.backtest._jobs import BacktestJobs, field_error, invalid
from quantgrid.services.backtest._models import (
    BacktestJobPage,
    BacktestJobView,
    BacktestRequest,
    BacktestResults,
    EquityPage,
    EquityPoint,
    JobState,
)
from quantgrid.services.backtest._runner import JobRunner
from quantgrid.services.backtest._settings import BacktestSettings

MAX_PAGE = 1000
MAX_EQUITY_POINTS = 10_000

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Trader = Annotated[Principal, Depends(require_role(Role.TRADER))]
JobId = Annotated[str, Path(min_length=1, max_length=128, description="A backtest job's id.")]

_UNKNOWN_JOB = {404: "No backtest job has this id."}
_RESULTS = problem_responses(
    {
        **_UNKNOWN_JOB,
        409: "The job is queued, running or failed: it has no results.",
        410: "The job is done, but its result files were removed.",
    }
)


def create_app(
    store: Store,
    runner: JobRunner,
    settings: BacktestSettings,
    *,
    authenticator: Authenticator,
    clock: Clock | None = None,
) -> FastAPI:
    """Return the backtest service.

    Parameters
    ----------
    store
        Where jobs are kept (and, through ``authenticator``, users and keys).
    runner
        Runs the jobs: ``ProcessPoolJobRunner`` in production, ``InProcessJobRunner``
        in tests. Started and closed by the app's lifespan.
    settings
        Limits, data and results folders.
    authenticator
        Who checks callers: viewers read, traders submit and cancel.
    clock
        Stamps submissions; the wall clock by default.

    Returns
    -------
    FastAPI
        Routes under ``/backtests``.
    """
    jobs = BacktestJobs(store, runner, settings, clock or LiveClock())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runner.start()
        try:
            yield
        finally:
            await runner.aclose()

    async def database_check() -> None:
        await jobs.call(lambda: store.list_jobs(limit=1))

    app = create_service_app(
        "backtest",
        settings=settings,
        routers=[_router(jobs)],
        dependencies={"database": database_check, "runner": runner.check_health},
        description="Backtest jobs: submit, follow progress, read results and reports, cancel.",
        lifespan=lifespan,
    )
    install_auth(app, authenticator)
    return app


def _parse_cursor(after: str | None) -> tuple[int, str] | None:
    if after is None:
        return None
    ts, sep, key = after.partition(":")
    if not sep or not key or not ts.isdigit():
        message = "a cursor is '<created_ns>:<job_id>', as next_cursor gives it"
        raise invalid([field_error(("query", "after"), "cursor", message)])
    return int(ts), key


def _read_equity(path: FilePath, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    frame = pl.scan_csv(path, schema_overrides={"timestamp": pl.String})
    total = int(frame.select(pl.len()).collect().item())
    rows = frame.slice(offset, limit).collect().to_dicts()
    return total, rows


def _router(jobs: BacktestJobs) -> APIRouter:
    router = APIRouter(
        prefix="/backtests",
        tags=["backtests"],
        responses=problem_responses({503: "The jobs' database or runner is unavailable."}),
    )

    @router.post(
        "",
        status_code=202,
        responses=problem_responses(
            {503: "The queue is full (retry after `Retry-After`), or the runner is stopping."}
        ),
    )
    async def submit_backtest(
        body: BacktestRequest, caller: Trader, response: Response
    ) -> BacktestJobView:
        """Queue a backtest; 202 with the job, whose progress ``GET`` follows.

        The strategy's parameters are checked by its rules first (422 naming each);
        data files must lie in the server's data directory.
        """
        job = await jobs.submit(body, caller)
        response.headers["Location"] = f"/backtests/{job.job_id}"
        return BacktestJobView.of(job)

    @router.get("")
    async def list_backtests(
        caller: Viewer,
        status: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        after: Annotated[str | None, Query(max_length=200)] = None,
    ) -> BacktestJobPage:
        """List jobs oldest first; ``after`` is the previous page's ``next_cursor``."""
        cursor = _parse_cursor(after)
        wanted = None if status is None else JobStatus(status)
        page, next_cursor = await jobs.list_page(wanted, limit, cursor)
        return BacktestJobPage(items=[BacktestJobView.of(j) for j in page], next_cursor=next_cursor)

    @router.get("/{job_id}", responses=problem_responses(_UNKNOWN_JOB))
    async def get_backtest(job_id: JobId, caller: Viewer) -> BacktestJobView:
        """Return a job: status, progress, error, timestamps."""
        return BacktestJobView.of(await jobs.get(job_id))

    @router.get("/{job_id}/results", responses=_RESULTS)
    async def get_backtest_results(job_id: JobId, caller: Viewer) -> BacktestResults:
        """Return a done job's statistics; 409 while it is queued or running, or failed."""
        stats = await jobs.read_json(job_id, "stats.json")
        risk = await jobs.read_json(job_id, "risk.json")
        by_check = risk.get("rejections_by_check") or {}
        return BacktestResults(
            job_id=job_id,
            stats=stats,
            final_trading_state=str(risk.get("final_state", "ACTIVE")),
            risk_rejections=sum(int(n) for n in by_check.values()),
        )

    @router.get(
        "/{job_id}/report",
        response_class=HTMLResponse,
        responses={
            200: {"description": "The HTML report; it opens without a network."},
            **_RESULTS,
        },
    )
    async def get_backtest_report(job_id: JobId, caller: Viewer) -> Response:
        """Return a done job's interactive HTML report."""
        path = await jobs.result_file(job_id, "report.html")
        return FileResponse(path, media_type="text/html; charset=utf-8")

    @router.get(
        "/{job_id}/equity",
        response_model=EquityPage,
        responses={
            200: {"content": {"text/csv": {}}, "description": "The equity curve."},
            **_RESULTS,
        },
    )
    async def get_backtest_equity(
        job_id: JobId,
        caller: Viewer,
        format: Annotated[
            Literal["json", "csv"], Query(description="json (paged) or csv (whole).")
        ] = "json",
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_EQUITY_POINTS)] = 1_000,
    ) -> Any:
        """Return a done job's equity curve: a page of JSON points, or the whole CSV."""
        path = await jobs.result_file(job_id, "equity.csv")
        if format == "csv":
            return FileResponse(
                path, media_type="text/csv; charset=utf-8", filename=f"{job_id}-equity.csv"
            )
        total, rows = await anyio.to_thread.run_sync(_read_equity, path, offset, limit)
        return EquityPage(
            job_id=job_id,
            total=total,
            offset=offset,
            items=[EquityPoint.model_validate(row) for row in rows],
        )

    @router.delete(
        "/{job_id}",
        responses=problem_responses(
            {
                **_UNKNOWN_JOB,
                403: "A trader cancels only the jobs they submitted.",
                409: "The job already ended.",
            }
        ),
    )
    async def cancel_backtest(job_id: JobId, caller: Trader) -> BacktestJobView:
        """Cancel a queued or running job (yours, or any as an admin); 409 if it ended."""
        return BacktestJobView.of(await jobs.cancel(job_id, caller))

    return router
