"""What the backtest routes do, apart from HTTP: checks, store calls, the runner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from fastapi.exceptions import RequestValidationError

from quantgrid.adapters.storage import (
    BacktestJob,
    JobStatus,
    Role,
    Store,
    StoreUnavailableError,
    TransitionError,
)
from quantgrid.adapters.storage import NotFoundError as StoreNotFoundError
from quantgrid.core import Clock
from quantgrid.gateway import PermissionDeniedError, Principal
from quantgrid.services import DependencyUnavailableError, ServiceError, problem_type
from quantgrid.services.backtest._datafiles import DataPathError, instrument_of, resolve_data_file
from quantgrid.services.backtest._models import BacktestRequest, FileData, SyntheticData
from quantgrid.services.backtest._runner import JobRunner
from quantgrid.services.backtest._settings import BacktestSettings
from quantgrid.services.strategy import check_strategy

T = TypeVar("T")
Loc = tuple[str | int, ...]

#: Jobs the service can see in one listing: the store lists at most this many.
LISTING_WINDOW = 1000


class JobNotFoundError(ServiceError):
    """No job has the id in the path."""

    status = 404
    title = "Backtest job not found"
    type_uri = problem_type("backtest-not-found")


class JobNotDoneError(ServiceError):
    """The job has no results: it is queued, running, or failed."""

    status = 409
    title = "Backtest job not done"
    type_uri = problem_type("backtest-not-done")


class JobEndedError(ServiceError):
    """The job already ended, so it cannot be cancelled."""

    status = 409
    title = "Backtest job already ended"
    type_uri = problem_type("backtest-ended")


class ResultsGoneError(ServiceError):
    """The job is done but its result files are no longer on the server."""

    status = 410
    title = "Backtest results gone"
    type_uri = problem_type("backtest-results-gone")


class QueueFullError(ServiceError):
    """As many jobs as the service takes are queued or running."""

    status = 503
    title = "Backtest queue full"
    type_uri = problem_type("backtest-queue-full")


def field_error(loc: Loc, rule: str, message: str) -> dict[str, Any]:
    """Return one validation error in the shape FastAPI's own have."""
    return {"loc": loc, "type": rule, "msg": message}


def invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    """Return the error that answers 422 naming each field, as body validation does."""
    return RequestValidationError(errors)


def duplicate_errors(values: list[str], loc: Loc) -> list[dict[str, Any]]:
    """Return an error for each value that repeats an earlier one, at its index."""
    seen: set[str] = set()
    errors = []
    for index, value in enumerate(values):
        if value in seen:
            errors.append(field_error((*loc, index), "unique", f"{value!r} is given twice"))
        seen.add(value)
    return errors


class BacktestJobs:
    """Submit, read, list and cancel backtest jobs.

    Parameters
    ----------
    store
        Where jobs are kept.
    runner
        Who runs them.
    settings
        Data folder, limits.
    clock
        Stamps submissions.
    """

    def __init__(
        self, store: Store, runner: JobRunner, settings: BacktestSettings, clock: Clock
    ) -> None:
        self.store = store
        self.runner = runner
        self.settings = settings
        self.clock = clock

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call in a worker thread; a database down is a 503."""
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except StoreUnavailableError as exc:
            raise DependencyUnavailableError("database", str(exc)) from exc

    # -- submit ----------------------------------------------------------------------------
    def check(self, request: BacktestRequest) -> dict[str, Any]:
        """Return the request as it will be stored, or raise 422 naming what is wrong.

        The strategy parameters are checked by the strategy's rules and stored with
        their defaults; data files must lie in the data directory.
        """
        _, params = check_strategy(request.strategy, request.params)
        errors: list[dict[str, Any]] = []
        if request.risk is not None:
            try:
                request.risk.to_config()
            except ValueError as exc:
                message = str(exc).replace("RiskConfig.", "")
                errors.append(field_error(("body", "risk"), "value_error", message))
        data = request.data
        if isinstance(data, SyntheticData):
            errors += duplicate_errors(data.instruments, ("body", "data", "instruments"))
            total = data.bars * len(data.instruments)
            if total > self.settings.backtest_max_bars:
                limit = self.settings.backtest_max_bars
                message = (
                    f"bars x instruments must be at most {limit:,} on this server, got {total:,}"
                )
                errors.append(field_error(("body", "data", "bars"), "max_bars", message))
        else:
            errors += self._check_files(data)
        if errors:
            raise invalid(errors)
        document = request.model_dump(mode="json")
        document["params"] = params
        return document

    def _check_files(self, data: FileData) -> list[dict[str, Any]]:
        if self.settings.backtest_data_dir is None:
            message = "this server has no data directory: use the synthetic market"
            return [field_error(("body", "data", "kind"), "no_data_dir", message)]
        errors = []
        for index, file in enumerate(data.files):
            try:
                resolve_data_file(self.settings.backtest_data_dir, file.path)
            except DataPathError as exc:
                loc = ("body", "data", "files", index, "path")
                errors.append(field_error(loc, "data_file", str(exc)))
        ids = [instrument_of(f.path, f.instrument_id) for f in data.files]
        for error in duplicate_errors(ids, ("body", "data", "files")):
            error["loc"] = (*error["loc"], "instrument_id")
            error["msg"] = f"instrument {error['msg']}: name the files' instruments apart"
            errors.append(error)
        return errors

    async def submit(self, request: BacktestRequest, caller: Principal) -> BacktestJob:
        """Check and queue a job; return it (QUEUED)."""
        document = self.check(request)
        if self.runner.pending >= self.settings.backtest_max_pending:
            raise QueueFullError(
                f"{self.settings.backtest_max_pending} backtest jobs are queued or running; "
                "retry later",
                headers={"Retry-After": "30"},
            )
        job_id = uuid.uuid4().hex
        params = {"request": document, "submitted_by": caller.subject}
        await self.call(self.store.create_job, job_id, params, self.clock.timestamp_ns())
        try:
            self.runner.submit(job_id)
        except RuntimeError as exc:  # not started, or stopping: the next start queues it
            raise DependencyUnavailableError("runner", f"job {job_id} is queued; {exc}") from exc
        return await self.get(job_id)

    # -- read --------------------------------------------------------------------------------
    async def get(self, job_id: str) -> BacktestJob:
        """Return the job or answer 404."""
        job = await self.call(self.store.get_job, job_id)
        if job is None:
            raise JobNotFoundError(f"no backtest job {job_id!r}")
        return job

    async def list_page(
        self, status: JobStatus | None, limit: int, after: tuple[int, str] | None
    ) -> tuple[list[BacktestJob], str | None]:
        """Return a page of jobs oldest first, and the cursor of the next page.

        Notes
        -----
        ``Store.list_jobs`` takes no cursor, so the page is cut from the first
        ``LISTING_WINDOW`` jobs (of the status asked for) by the cursor here.
        """
        jobs = await self.call(self._list_window, status)
        if after is not None:
            jobs = [j for j in jobs if (j.created_ns, j.job_id) > after]
        if len(jobs) <= limit:
            return jobs, None
        last = jobs[limit - 1]
        return jobs[:limit], f"{last.created_ns}:{last.job_id}"

    def _list_window(self, status: JobStatus | None) -> list[BacktestJob]:
        return self.store.list_jobs(status, limit=LISTING_WINDOW)

    async def results_dir(self, job_id: str) -> Path:
        """Return the folder of a done job's results, or answer 404, 409 or 410."""
        job = await self.get(job_id)
        if job.status is not JobStatus.DONE or job.result_path is None:
            if job.status is JobStatus.FAILED:
                detail = f"backtest job {job_id!r} failed, so it has no results: {job.error}"
            else:
                percent = f"{job.progress:.0%}"
                detail = (
                    f"backtest job {job_id!r} is {job.status.value} ({percent} done); "
                    "its results are ready when it is done"
                )
            raise JobNotDoneError(detail, extensions={"job_status": job.status.value})
        folder = Path(job.result_path)
        if not folder.is_dir():
            raise ResultsGoneError(f"the result files of backtest job {job_id!r} were removed")
        return folder

    async def read_json(self, job_id: str, name: str) -> dict[str, Any]:
        """Return one JSON result file of a done job."""
        path = await self.results_dir(job_id) / name
        try:
            text = await anyio.to_thread.run_sync(path.read_text, "utf-8")
        except FileNotFoundError:
            raise ResultsGoneError(f"{name} of backtest job {job_id!r} was removed") from None
        document: dict[str, Any] = json.loads(text)
        return document

    async def result_file(self, job_id: str, name: str) -> Path:
        """Return the path of one result file of a done job."""
        path = await self.results_dir(job_id) / name
        if not path.is_file():
            raise ResultsGoneError(f"{name} of backtest job {job_id!r} was removed")
        return path

    # -- cancel ------------------------------------------------------------------------------
    async def cancel(self, job_id: str, caller: Principal) -> BacktestJob:
        """Cancel a queued or running job: it becomes FAILED, "cancelled by ..."."""
        job = await self.get(job_id)
        owner = job.params.get("submitted_by")
        if owner != caller.subject and not caller.has_role(Role.ADMIN):
            msg = f"backtest job {job_id!r} was submitted by another user; an admin may cancel it"
            raise PermissionDeniedError(msg)
        try:
            job = await self.call(
                self.store.fail_job,
                job_id,
                f"cancelled by {caller.subject}",
                self.clock.timestamp_ns(),
            )
        except TransitionError:
            ended = await self.get(job_id)
            raise JobEndedError(
                f"backtest job {job_id!r} is already {ended.status.value}",
                extensions={"job_status": ended.status.value},
            ) from None
        except StoreNotFoundError:
            raise JobNotFoundError(f"no backtest job {job_id!r}") from None
        self.runner.cancel(job_id)
        return job
