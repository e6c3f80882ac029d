"""Job runners: take queued backtest jobs, run them off the event loop, record the outcome.

``ProcessPoolJobRunner`` runs each job in a worker process (``spawn`` context: forking
a process whose numba and polars threads hold locks can deadlock the child).
``InProcessJobRunner`` runs them in a worker thread, for tests and small setups. Both
share the queue, the store bookkeeping and crash recovery of ``QueueJobRunner``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import shutil
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from quantgrid.adapters.storage import (
    BacktestJob,
    JobStatus,
    NotFoundError,
    Store,
    StoreError,
    TransitionError,
)
from quantgrid.core import Clock, LiveClock
from quantgrid.services.backtest._settings import BacktestSettings
from quantgrid.services.backtest._worker import JobSpec, Outcome, ProgressSink, execute_job
from quantgrid.services.strategy import find_strategy

_log = logging.getLogger("quantgrid.services.backtest")

#: The error of a job that was running when the service stopped or crashed.
INTERRUPTED = "interrupted: the backtest service stopped while the job ran; submit it again"
#: The error of a job whose worker process died.
WORKER_DIED = "the worker process running the job died (out of memory, or killed)"
#: Jobs listed per round of crash recovery, and rounds at most.
_RECOVERY_PAGE = 1000
_RECOVERY_ROUNDS = 100
#: Seconds worker processes get to finish their chunk at shutdown before they are killed.
_SHUTDOWN_GRACE_S = 5.0

JobFunction = Callable[[JobSpec, ProgressSink, Callable[[], bool]], Outcome]


class JobRunner(Protocol):
    """Runs backtest jobs that are queued in the store.

    Notes
    -----
    The service creates a job in the store (QUEUED) and then calls ``submit``; the
    runner moves it to RUNNING when a worker takes it, reports progress, and ends it
    DONE (with its results folder) or FAILED (with why). ``start`` recovers from a
    crash first: see ``QueueJobRunner.recover``.
    """

    @property
    def pending(self) -> int:
        """Return how many jobs are queued or running here."""
        ...

    async def start(self) -> None:
        """Recover what a previous run left, then begin taking jobs."""
        ...

    def submit(self, job_id: str) -> None:
        """Queue a job already stored as QUEUED."""
        ...

    def cancel(self, job_id: str) -> None:
        """Drop a queued job, or stop a running one at its next chunk of bars."""
        ...

    async def check_health(self) -> str:
        """Return a one-line state; raise if the runner cannot take jobs."""
        ...

    async def aclose(self) -> None:
        """Stop: running jobs are failed as interrupted; queued ones stay queued."""
        ...


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What ``start`` found: jobs failed as interrupted, jobs queued again."""

    interrupted: tuple[str, ...]
    requeued: tuple[str, ...]


class QueueJobRunner:
    """Shared machinery of the runners: a queue, ``workers`` dispatchers, bookkeeping.

    Parameters
    ----------
    store
        Where jobs are kept.
    settings
        Results and data folders, progress interval, chunk size.
    workers
        Jobs run at once.
    clock
        Stamps start and end times; the wall clock by default.

    Notes
    -----
    Crash recovery (at ``start``): a job still RUNNING was interrupted by a crash or a
    stop of the previous service process; it is marked FAILED (``INTERRUPTED``), not
    run again, because a job that killed its process would otherwise kill every
    restart, and its half-written progress means nothing. A job still QUEUED never
    started, so it is queued again, oldest first. One backtest service process per
    database: a second one would fail the first one's running jobs at its start.
    """

    def __init__(
        self,
        store: Store,
        settings: BacktestSettings,
        *,
        workers: int,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._workers = workers
        self._clock = clock or LiveClock()
        self._results_dir = Path(settings.backtest_results_dir)
        self._queue: asyncio.Queue[str] | None = None
        self._queued: dict[str, None] = {}  # an ordered set
        self._running: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.recovered: RecoveryReport | None = None

    # -- the port ------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Return how many jobs are queued or running here."""
        return len(self._queued) + len(self._running)

    async def start(self) -> None:
        """Recover what a previous run left, then begin taking jobs (once)."""
        if self._closed:
            raise RuntimeError("a closed runner does not start again")
        if self._queue is not None:
            return
        self._queue = asyncio.Queue()
        self.recovered = await anyio.to_thread.run_sync(self.recover)
        self._open()
        for job_id in self.recovered.requeued:
            self.submit(job_id)
        self._tasks = [
            asyncio.create_task(self._dispatch(), name=f"backtest-dispatch-{n}")
            for n in range(self._workers)
        ]

    def submit(self, job_id: str) -> None:
        """Queue a job already stored as QUEUED."""
        if self._queue is None or self._closed:
            raise RuntimeError("the runner takes jobs between start() and aclose()")
        self._queued[job_id] = None
        self._queue.put_nowait(job_id)

    def cancel(self, job_id: str) -> None:
        """Drop a queued job, or stop a running one at its next chunk of bars."""
        self._queued.pop(job_id, None)
        if job_id in self._running:
            self._signal_cancel(job_id)

    async def check_health(self) -> str:
        """Return how many jobs are pending; raise unless started and open."""
        if self._queue is None or self._closed:
            raise RuntimeError("the job runner is not running")
        return f"{len(self._running)} running, {len(self._queued)} queued"

    async def aclose(self) -> None:
        """Stop: running jobs are failed as interrupted; queued ones stay queued."""
        if self._closed:
            return
        self._closed = True
        interrupted = sorted(self._running)
        for job_id in interrupted:
            self._signal_cancel(job_id)
        await anyio.to_thread.run_sync(self._fail_all, interrupted, INTERRUPTED)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await anyio.to_thread.run_sync(self._close)

    # -- what runners differ in ----------------------------------------------------------
    def _open(self) -> None:
        """Acquire what running jobs needs (a pool, threads)."""

    def _close(self) -> None:
        """Release it; called in a worker thread."""

    async def _execute(self, spec: JobSpec) -> Outcome:
        raise NotImplementedError

    def _signal_cancel(self, job_id: str) -> None:
        raise NotImplementedError

    def _clear_cancel(self, job_id: str) -> None:
        """Forget a job's cancellation once it ended."""

    # -- bookkeeping ---------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Fail the jobs a previous process left RUNNING; return them and the QUEUED ones.

        Also removes half-written result folders. Synchronous: call it from a thread.
        """
        now = self._clock.timestamp_ns()
        interrupted: list[str] = []
        for _ in range(_RECOVERY_ROUNDS):
            running = self._store.list_jobs(JobStatus.RUNNING, limit=_RECOVERY_PAGE)
            if not running:
                break
            for job in running:
                try:
                    self._store.fail_job(job.job_id, INTERRUPTED, now)
                    interrupted.append(job.job_id)
                except TransitionError:  # it ended meanwhile
                    continue
        if interrupted:
            _log.warning(
                "%d backtest jobs were running when the service last stopped: failed as "
                "interrupted",
                len(interrupted),
                extra={"job_ids": interrupted[:100]},
            )
        queued = self._store.list_jobs(JobStatus.QUEUED, limit=_RECOVERY_PAGE)
        if self._results_dir.is_dir():
            for partial in self._results_dir.glob(".*.partial"):
                shutil.rmtree(partial, ignore_errors=True)
        return RecoveryReport(tuple(interrupted), tuple(j.job_id for j in queued))

    async def _dispatch(self) -> None:
        assert self._queue is not None
        while True:  # until aclose() cancels the task
            job_id = await self._queue.get()
            if job_id not in self._queued:  # cancelled while queued
                continue
            del self._queued[job_id]
            self._running.add(job_id)
            try:
                await self._run(job_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("backtest job %s could not be run", job_id)
                await anyio.to_thread.run_sync(
                    self._fail_all, [job_id], "the service failed to run the job"
                )
            finally:
                self._running.discard(job_id)
                self._clear_cancel(job_id)

    async def _run(self, job_id: str) -> None:
        try:
            job = await anyio.to_thread.run_sync(
                self._store.start_job, job_id, self._clock.timestamp_ns()
            )
        except (TransitionError, NotFoundError):  # cancelled (or gone) while queued
            return
        spec = self._spec(job)
        outcome = Outcome("failed", spec) if isinstance(spec, str) else await self._execute(spec)
        await anyio.to_thread.run_sync(self._record, job_id, outcome)

    def _spec(self, job: BacktestJob) -> JobSpec | str:
        request = job.params.get("request")
        if not isinstance(request, dict):
            return "the job was stored without a request"
        strategy = find_strategy(str(request.get("strategy")))
        if strategy is None:
            return f"strategy {request.get('strategy')!r} is no longer registered"
        settings = self._settings
        data_dir = settings.backtest_data_dir
        return JobSpec(
            job_id=job.job_id,
            request=request,
            strategy_module=strategy.__module__,
            results_dir=str(self._results_dir.resolve()),
            data_dir=None if data_dir is None else str(Path(data_dir).resolve()),
            progress_interval_s=settings.backtest_progress_interval_s,
            chunk_bars=settings.backtest_chunk_bars,
        )

    def _record(self, job_id: str, outcome: Outcome) -> None:
        now = self._clock.timestamp_ns()
        if outcome.status == "done":
            try:
                self._store.finish_job(job_id, outcome.detail, now)
            except TransitionError:  # cancelled while it ran: its results are not wanted
                shutil.rmtree(outcome.detail, ignore_errors=True)
            return
        error = outcome.detail if outcome.status == "failed" else "cancelled"
        self._fail_all([job_id], error)

    def _fail_all(self, job_ids: list[str], error: str) -> None:
        now = self._clock.timestamp_ns()
        for job_id in job_ids:
            try:
                self._store.fail_job(job_id, error, now)
            except StoreError:  # already ended, or the store is down: recovery sees it
                continue

    def _write_progress(self, job_id: str, fraction: float) -> None:
        try:
            self._store.set_job_progress(job_id, min(1.0, max(0.0, fraction)))
        except StoreError:  # ended meanwhile, or the store is busy: the next one counts
            return


class InProcessJobRunner(QueueJobRunner):
    """Runs jobs in worker threads of this process: for tests and small setups.

    Parameters
    ----------
    store, settings, clock
        As ``QueueJobRunner``.
    workers
        Jobs run at once (threads); one by default.
    execute
        Runs one job; ``execute_job`` by default (tests pass one they control).
    """

    def __init__(
        self,
        store: Store,
        settings: BacktestSettings,
        *,
        workers: int = 1,
        clock: Clock | None = None,
        execute: JobFunction = execute_job,
    ) -> None:
        super().__init__(store, settings, workers=workers, clock=clock)
        self._execute_job = execute
        self._cancelled: set[str] = set()

    async def _execute(self, spec: JobSpec) -> Outcome:
        job_id = spec.job_id
        return await anyio.to_thread.run_sync(
            self._execute_job, spec, self._write_progress, lambda: job_id in self._cancelled
        )

    def _signal_cancel(self, job_id: str) -> None:
        self._cancelled.add(job_id)

    def _clear_cancel(self, job_id: str) -> None:
        self._cancelled.discard(job_id)


class ProcessPoolJobRunner(QueueJobRunner):
    """Runs each job in a worker process of a bounded pool (``backtest_workers``).

    Workers are started with ``spawn``. They send progress over a queue that a thread
    of this process writes to the store, and look for a cancellation flag file
    (``<results_dir>/.cancel/<job_id>``) between chunks of bars. A worker that dies
    fails its job (``WORKER_DIED``) and the pool is replaced.
    """

    def __init__(
        self, store: Store, settings: BacktestSettings, *, clock: Clock | None = None
    ) -> None:
        super().__init__(store, settings, workers=settings.backtest_workers, clock=clock)
        self._context = multiprocessing.get_context("spawn")
        self._cancel_dir = self._results_dir / ".cancel"
        self._pool: ProcessPoolExecutor | None = None
        self._progress: Any = None  # a multiprocessing queue of (job_id, fraction)
        self._stop_reading = threading.Event()
        self._reader: threading.Thread | None = None

    def _open(self) -> None:
        self._cancel_dir.mkdir(parents=True, exist_ok=True)
        for stale in self._cancel_dir.iterdir():
            stale.unlink(missing_ok=True)
        self._progress = self._context.Queue()
        self._pool = self._new_pool()
        self._reader = threading.Thread(
            target=self._read_progress, name="backtest-progress", daemon=True
        )
        self._reader.start()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=self._context,
            initializer=init_worker,
            initargs=(self._progress, str(self._cancel_dir.resolve())),
        )

    async def _execute(self, spec: JobSpec) -> Outcome:
        pool = self._pool
        assert pool is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, run_in_worker, spec)
        except BrokenProcessPool:
            _log.error("a backtest worker process died running job %s", spec.job_id)
            if self._pool is pool and not self._closed:
                self._pool = self._new_pool()
                pool.shutdown(wait=False, cancel_futures=True)
            return Outcome("failed", WORKER_DIED)

    def _signal_cancel(self, job_id: str) -> None:
        (self._cancel_dir / job_id).touch()

    def _clear_cancel(self, job_id: str) -> None:
        (self._cancel_dir / job_id).unlink(missing_ok=True)

    def _read_progress(self) -> None:
        while not self._stop_reading.is_set():  # until _close()
            try:
                job_id, fraction = self._progress.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError, ValueError):  # the queue was closed
                return
            self._write_progress(job_id, fraction)

    def _close(self) -> None:
        pool = self._pool
        if pool is not None:
            # Workers were told to stop (cancellation flags); those that do not stop
            # within the grace period are killed. The executor has no public way to
            # reach its processes before Python 3.14's terminate_workers().
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.join(_SHUTDOWN_GRACE_S / max(1, len(processes)))
                if process.is_alive():
                    process.kill()
                    process.join(1.0)
        self._stop_reading.set()
        if self._reader is not None:
            self._reader.join(2.0)
        if self._progress is not None:
            self._progress.close()


# -- what runs in the worker processes ---------------------------------------------------------
_worker_progress: Any = None
_worker_cancel_dir: str = ""


def init_worker(progress: Any, cancel_dir: str) -> None:
    """Set up a worker process: where to send progress, where cancellations appear."""
    global _worker_progress, _worker_cancel_dir  # noqa: PLW0603  (one per process, by design)
    _worker_progress = progress
    _worker_cancel_dir = cancel_dir
    # Ctrl-C is the parent's to handle: it stops the workers through aclose().
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_in_worker(spec: JobSpec) -> Outcome:
    """Run one job in a worker process."""
    flag = os.path.join(_worker_cancel_dir, spec.job_id)

    def report(job_id: str, fraction: float) -> None:
        _worker_progress.put((job_id, fraction))

    return execute_job(spec, report, lambda: os.path.exists(flag))
