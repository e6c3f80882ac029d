"""``Scheduler``: run recurring jobs at most once per slot, across restarts and processes."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from quantgrid.adapters.storage import JobRun, JobRunStatus, JobRunStore, TransitionError
from quantgrid.core import Clock, TestClock, ns_to_iso
from quantgrid.scheduler._jobs import (
    JobRunEnded,
    JobSlotsSkipped,
    RecurringJob,
    SchedulerEvent,
)

_log = logging.getLogger("quantgrid.scheduler")

#: The detail of a run found RUNNING under this scheduler's owner when it starts.
ABANDONED_AT_START = (
    "abandoned: the process running it stopped before the run finished; "
    "not run again (a slot runs at most once)"
)
#: The detail of a run cancelled because the scheduler stopped.
ABANDONED_AT_STOP = "abandoned: the scheduler stopped and cancelled the run"
#: The longest detail stored; the full error is in the log.
MAX_DETAIL = 2_000
#: The longest owner name (the store's limit).
MAX_OWNER = 128
#: While waiting for a slot, the wall clock is read again at least this often (s), so a
#: clock step or a suspended machine is noticed.
_MAX_NAP_S = 60.0
#: After an unexpected error in a job's loop, the next try comes this much later (ns).
_RETRY_NS = 60 * 1_000_000_000
#: Runs of each job looked through at start for stale RUNNING ones of this owner.
_RECOVERY_LIMIT = 1_000


_MICROSECOND = timedelta(microseconds=1)
_LOG_LEVELS = {
    JobRunStatus.SUCCEEDED: logging.INFO,
    JobRunStatus.FAILED: logging.ERROR,
    JobRunStatus.ABANDONED: logging.WARNING,
    JobRunStatus.RUNNING: logging.INFO,
}


@dataclass(slots=True)
class _JobState:
    job: RecurringJob
    cursor_ns: int = 0  # every slot at or before it was run, taken by another, or skipped
    task: asyncio.Task[None] | None = None
    busy: bool = False


class Scheduler:
    """Run each recurring job once per slot of its schedule, claimed through a store.

    Parameters
    ----------
    clock
        What "now" is. With a ``TestClock`` the scheduler waits on the clock's alerts,
        so a test moves time with ``advance_to`` (``set_time`` fires no alert) and
        nothing sleeps; with any other clock it sleeps on the event loop until the
        clock reaches the slot, reading the clock at least once a minute.
    store
        Where slots are claimed and runs recorded; shared by every scheduler (process)
        that runs the same jobs.
    owner
        Who this scheduler is, written on each claim: unique among the processes
        sharing ``store`` and the same across restarts of one (``"<host>/scheduler"``).
    jobs
        The jobs, with unique names.
    on_event
        Called with each ``JobRunEnded`` and ``JobSlotsSkipped`` (metrics, the bus);
        what it raises is logged and ignored.
    logger
        Where runs, skips and failures are logged; ``quantgrid.scheduler`` by default.
    stop_grace_s
        Seconds ``stop`` lets running actions finish before it cancels them.

    Notes
    -----
    At most once per slot. A slot runs only in the scheduler whose
    ``claim_job_run`` won it, and a claimed slot is never claimed again, whatever
    became of its run. A run still RUNNING when its process died is therefore never
    run again: the next start of the same ``owner`` marks it ABANDONED (and logs it)
    instead. Runs RUNNING under another owner are left alone, since a slow run and a
    dead process look the same from here (an owner that changes at each restart, a
    pod name say, leaves them RUNNING for good: untidy, never run twice). A claim that
    fails (store down) leaves its slot unrun rather than risking a second run.

    Due slots. Each job keeps a cursor: every slot at or before it is done with. At
    start the cursor is the job's latest claimed slot in the store (any owner), or
    just before now for a job that never ran (it owes nothing from before). When more
    than one slot is due at once, the job's ``catch_up`` decides which run; the others
    are skipped, logged and reported as ``JobSlotsSkipped``, and never reconsidered.

    Failures. An action that raises or outlasts its ``timeout_s`` is recorded FAILED
    with the error, logged, and changes nothing else: other jobs, and the job's next
    slots, run as usual. A run ``stop`` had to cancel is recorded ABANDONED.
    """

    def __init__(
        self,
        clock: Clock,
        store: JobRunStore,
        owner: str,
        jobs: Iterable[RecurringJob],
        *,
        on_event: Callable[[SchedulerEvent], None] | None = None,
        logger: logging.Logger | None = None,
        stop_grace_s: float = 10.0,
    ) -> None:
        if (
            not isinstance(owner, str)
            or not owner.strip()
            or len(owner) > MAX_OWNER
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in owner)
        ):
            msg = (
                f"owner: give a name of 1 to {MAX_OWNER} characters, not all blank, "
                f"without control characters, got {owner!r}"
            )
            raise ValueError(msg)
        jobs = tuple(jobs)
        for job in jobs:
            if not isinstance(job, RecurringJob):
                msg = f"jobs: give RecurringJob instances, got {job!r}"
                raise TypeError(msg)
        names = [job.name for job in jobs]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            msg = f"jobs: names must be unique, and {', '.join(map(repr, twice))} repeat"
            raise ValueError(msg)
        if not (math.isfinite(stop_grace_s) and stop_grace_s >= 0):
            msg = f"stop_grace_s must be 0 or more seconds, got {stop_grace_s!r}"
            raise ValueError(msg)
        self._clock = clock
        self._store = store
        self._owner = owner
        self._states = [_JobState(job) for job in jobs]
        self._on_event = on_event
        self._log = logger or _log
        self._stop_grace_s = stop_grace_s
        self._resumed = False
        self._stopping = False

    @property
    def owner(self) -> str:
        """Return the name this scheduler claims slots under."""
        return self._owner

    @property
    def jobs(self) -> tuple[RecurringJob, ...]:
        """Return the scheduler's jobs."""
        return tuple(state.job for state in self._states)

    @property
    def running(self) -> bool:
        """Tell whether ``start`` started the jobs' tasks and ``stop`` has not ended them."""
        return any(state.task is not None and not state.task.done() for state in self._states)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Resume from the store, then run each job in a task of the running loop.

        Slots missed while no scheduler ran are handled at once, by each job's
        ``catch_up``; so are those missed between a ``stop`` and a new ``start``.
        Raises what the store raises while resuming.
        """
        if self.running:
            raise RuntimeError("the scheduler is already started")
        if not self._resumed:  # once: a restart after stop() keeps its cursors
            await self._resume(self._clock.timestamp_ns())
        self._stopping = False
        for state in self._states:
            state.task = asyncio.create_task(
                self._loop(state), name=f"quantgrid-scheduler-{state.job.name}"
            )

    async def stop(self) -> None:
        """Stop the jobs' tasks; give running actions ``stop_grace_s``, then cancel them.

        A cancelled run is recorded ABANDONED. Returns once every task has ended.
        """
        states = [state for state in self._states if state.task is not None]
        if not states:
            return
        self._stopping = True
        tasks = [state.task for state in states if state.task is not None]
        for state in states:
            if not state.busy and state.task is not None:  # waiting for a slot
                state.task.cancel()
        busy = [state.task for state in states if state.busy and state.task is not None]
        if busy:
            _, pending = await asyncio.wait(busy, timeout=self._stop_grace_s)
            if pending:
                self._log.warning(
                    "scheduler %s: %d runs still going after %gs at stop: cancelling them",
                    self._owner,
                    len(pending),
                    self._stop_grace_s,
                )
            for task in pending:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for state in states:
            state.task = None
            state.busy = False

    async def run_once(self, now_ns: int | None = None) -> list[JobRun]:
        """Run every job's due slots as of ``now_ns`` (the clock's time by default).

        The deterministic step the tasks of ``start`` repeat; it resumes from the store
        first if nothing did yet. Jobs run concurrently, each job's slots in order.
        Returns the runs that ended in this step (not the slots another scheduler won).
        """
        if self.running:
            raise RuntimeError("run_once steps a scheduler that is not started")
        now = self._clock.timestamp_ns() if now_ns is None else now_ns
        if not self._resumed:
            await self._resume(now)
        ended = await asyncio.gather(*(self._step(state, now) for state in self._states))
        return [run for runs in ended for run in runs]

    # -- resuming ------------------------------------------------------------------------
    async def _resume(self, now_ns: int) -> None:
        abandoned = await asyncio.to_thread(self._resume_from_store, now_ns)
        self._resumed = True
        for run in abandoned:
            self._log.warning(
                "job %s: slot %s was running under %s when it last stopped: marked "
                "abandoned, not run again (a slot runs at most once)",
                run.job,
                ns_to_iso(run.slot_ns),
                run.owner,
                extra={"job": run.job, "slot_ns": run.slot_ns},
            )
            self._emit(JobRunEnded(run))

    def _resume_from_store(self, now_ns: int) -> list[JobRun]:
        """Abandon this owner's stale runs and set each job's cursor (in a thread)."""
        abandoned = []
        for state in self._states:
            name = state.job.name
            stale = [
                run.slot_ns
                for run in self._store.list_job_runs(name, limit=_RECOVERY_LIMIT)
                if run.status is JobRunStatus.RUNNING and run.owner == self._owner
            ]
            for slot_ns in stale:
                try:
                    abandoned.append(
                        self._store.finish_job_run(
                            name,
                            slot_ns,
                            status=JobRunStatus.ABANDONED,
                            now_ns=now_ns,
                            detail=ABANDONED_AT_START,
                        )
                    )
                except TransitionError:  # it ended meanwhile: it was not stale after all
                    continue
            last = self._store.last_job_run(name)
            state.cursor_ns = now_ns - 1 if last is None else last.slot_ns
        return abandoned

    # -- one job -------------------------------------------------------------------------
    async def _loop(self, state: _JobState) -> None:
        schedule = state.job.schedule
        while True:
            state.busy = True
            now = self._clock.timestamp_ns()
            try:
                await self._step(state, now)
                wake_ns = schedule.next_slot(state.cursor_ns)
            except Exception:  # a bug must not end the job for good: log, retry later
                self._log.exception(
                    "job %s: the scheduler failed to step it; trying again in %ds",
                    state.job.name,
                    _RETRY_NS // 1_000_000_000,
                    extra={"job": state.job.name},
                )
                wake_ns = now + _RETRY_NS
            finally:
                state.busy = False
            if self._stopping:
                return
            if wake_ns is None:
                self._log.info("job %s: its schedule has no more slots", state.job.name)
                return
            await self._wait_until(wake_ns)

    async def _wait_until(self, ts_ns: int) -> None:
        clock = self._clock
        if isinstance(clock, TestClock):
            if clock.timestamp_ns() >= ts_ns:
                return
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def wake(_: int) -> None:
                if not woken.done():  # a cancelled wait leaves its alert behind
                    woken.set_result(None)

            clock.set_alert(ts_ns, wake)
            await woken
            return
        while (left_ns := ts_ns - clock.timestamp_ns()) > 0:
            await asyncio.sleep(min(left_ns / 1e9, _MAX_NAP_S))

    async def _step(self, state: _JobState, now_ns: int) -> list[JobRun]:
        slots = self._due(state, now_ns)
        state.cursor_ns = max(state.cursor_ns, now_ns)
        runs = []
        for slot in slots:
            run = await self._run_slot(state.job, slot)
            if run is not None:
                runs.append(run)
        return runs

    def _due(self, state: _JobState, now_ns: int) -> list[int]:
        """Return the slots to run now, oldest first; report those the policy skips."""
        job, schedule, cursor = state.job, state.job.schedule, state.cursor_ns
        most = job.max_catch_up if job.catch_up == "all" else 1
        due: list[int] = []
        slot = schedule.latest_slot(now_ns)
        while slot is not None and slot > cursor and len(due) < most:
            due.append(slot)
            slot = schedule.latest_slot(slot - 1)
        due.reverse()
        newest_skipped = slot if slot is not None and slot > cursor else None
        grace_ns = job.grace // _MICROSECOND * 1_000
        if job.catch_up == "none" and due and now_ns - due[-1] > grace_ns:
            newest_skipped, due = due[-1], []
        if newest_skipped is not None:
            first = schedule.next_slot(cursor)
            self._report_skip(job, first, newest_skipped, now_ns)
        return due

    def _report_skip(self, job: RecurringJob, first: int | None, last: int, now_ns: int) -> None:
        first = last if first is None else first
        if job.catch_up == "latest":
            reason = "catch_up='latest' runs only the newest due slot"
        elif job.catch_up == "all":
            reason = f"catch_up='all' runs at most the newest {job.max_catch_up} due slots"
        else:
            reason = f"catch_up='none' runs no slot more than {job.grace} late"
        self._log.warning(
            "job %s: skipping missed slots %s to %s: %s",
            job.name,
            ns_to_iso(first),
            ns_to_iso(last),
            reason,
            extra={"job": job.name, "first_slot_ns": first, "last_slot_ns": last},
        )
        self._emit(JobSlotsSkipped(job.name, first, last, reason, now_ns))

    async def _run_slot(self, job: RecurringJob, slot_ns: int) -> JobRun | None:
        """Claim the slot and, if this scheduler won it, run and record it."""
        started = self._clock.timestamp_ns()
        extra = {"job": job.name, "slot_ns": slot_ns}
        try:
            claimed = await asyncio.to_thread(
                self._store.claim_job_run, job.name, slot_ns, owner=self._owner, now_ns=started
            )
        except Exception:  # unknown whether the claim landed: never risk a second run
            self._log.exception(
                "job %s: could not claim slot %s; it is not run (a slot runs at most once)",
                job.name,
                ns_to_iso(slot_ns),
                extra=extra,
            )
            return None
        if not claimed:
            self._log.debug(
                "job %s: slot %s was claimed by another scheduler",
                job.name,
                ns_to_iso(slot_ns),
                extra=extra,
            )
            return None
        self._log.info("job %s: running slot %s", job.name, ns_to_iso(slot_ns), extra=extra)
        status, detail, error = await self._execute(job, slot_ns, started)
        return await self._finish(job, slot_ns, started, status, detail, error)

    async def _execute(
        self, job: RecurringJob, slot_ns: int, started: int
    ) -> tuple[JobRunStatus, str, Exception | None]:
        """Run the action; return the run's status, its detail and the error if any."""
        timeout = asyncio.timeout(job.timeout_s)
        try:
            async with timeout:
                summary = await job.action(slot_ns)
        except TimeoutError as error:
            if not timeout.expired():  # the action's own TimeoutError: an ordinary failure
                return JobRunStatus.FAILED, f"{type(error).__name__}: {error}", error
            return JobRunStatus.FAILED, f"timed out after {job.timeout_s:g}s", None
        except asyncio.CancelledError:
            await self._finish(job, slot_ns, started, JobRunStatus.ABANDONED, ABANDONED_AT_STOP)
            raise
        except Exception as error:  # a failing action must not stop the scheduler
            return JobRunStatus.FAILED, f"{type(error).__name__}: {error}", error
        if summary is not None and not isinstance(summary, str):
            kind = type(summary).__name__
            return JobRunStatus.FAILED, f"the action must return a str or None, not {kind}", None
        return JobRunStatus.SUCCEEDED, summary or "", None

    async def _finish(
        self,
        job: RecurringJob,
        slot_ns: int,
        started: int,
        status: JobRunStatus,
        detail: str,
        error: Exception | None = None,
    ) -> JobRun:
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 1] + "…"
        now = self._clock.timestamp_ns()
        extra = {"job": job.name, "slot_ns": slot_ns, "status": status.value}
        try:
            run = await asyncio.to_thread(
                self._store.finish_job_run,
                job.name,
                slot_ns,
                status=status,
                now_ns=now,
                detail=detail,
            )
        except Exception:  # the outcome is logged here; the store keeps it RUNNING
            self._log.exception(
                "job %s: could not record slot %s as %s (%s); the store shows it running "
                "until %s starts again",
                job.name,
                ns_to_iso(slot_ns),
                status.value,
                detail,
                self._owner,
                extra=extra,
            )
            run = JobRun(
                job=job.name,
                slot_ns=slot_ns,
                owner=self._owner,
                status=status,
                started_ns=started,
                finished_ns=now,
                detail=detail,
            )
        self._log.log(
            _LOG_LEVELS[status],
            "job %s: slot %s %s%s",
            job.name,
            ns_to_iso(slot_ns),
            status.value,
            f": {detail}" if detail else "",
            exc_info=error,
            extra=extra,
        )
        self._emit(JobRunEnded(run))
        return run

    def _emit(self, event: SchedulerEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # a broken hook must not stop the scheduler
            self._log.exception("scheduler %s: the on_event hook failed", self._owner)
