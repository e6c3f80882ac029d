"""The port for recurring-job runs: one row per (job, slot), claimed once."""

from __future__ import annotations

from enum import Enum
from typing import Protocol

import msgspec

from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._errors import NotFoundError, TransitionError


class JobRunStatus(Enum):
    """Where a run of a recurring job stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"


class JobRun(msgspec.Struct, frozen=True, kw_only=True):
    """One run of a recurring job for one schedule slot.

    Attributes
    ----------
    job
        The job's name, unique within a deployment.
    slot_ns
        The scheduled time this run is for (UTC ns); with ``job`` it is the run's key.
    owner
        Who claimed the slot (process or host name), for operators reading the table.
    status
        RUNNING from the claim until ``finish_job_run``.
    started_ns, finished_ns
        When the slot was claimed and when it finished (None while running).
    detail
        What happened: an error message on failure, a short summary otherwise.
    """

    job: str
    slot_ns: int
    owner: str
    status: JobRunStatus
    started_ns: int
    finished_ns: int | None = None
    detail: str = ""


class JobRunStore(Protocol):
    """Claims of recurring-job slots, so a slot never runs twice.

    Notes
    -----
    ``claim_job_run`` is atomic: of any number of callers, in any number of processes,
    claiming the same ``(job, slot_ns)``, exactly one gets True, and a slot once
    claimed stays claimed (whatever its status), so a restart never runs it again.
    """

    def claim_job_run(self, job: str, slot_ns: int, *, owner: str, now_ns: int) -> bool:
        """Claim ``(job, slot_ns)``; True if this call claimed it, False if it was taken."""
        ...

    def finish_job_run(
        self, job: str, slot_ns: int, *, status: JobRunStatus, now_ns: int, detail: str = ""
    ) -> JobRun:
        """Record how a claimed run ended; raise NotFoundError if it was never claimed."""
        ...

    def last_job_run(self, job: str) -> JobRun | None:
        """Return the run of ``job`` with the latest slot, or None if it never ran."""
        ...

    def list_job_runs(self, job: str | None = None, *, limit: int = 100) -> list[JobRun]:
        """Return runs, latest slot first, of one job or of all."""
        ...


# -- the rules every store checks ----------------------------------------------------------
def check_claim(job: object, slot_ns: object, owner: object, now_ns: object) -> None:
    """Check a claim's arguments; raise ``InvalidRecordError`` naming the one that breaks."""
    v.check_id("job run", "job", job)
    v.check_ts(f"job run {job}", "slot_ns", slot_ns)
    _check_owner(f"job run {job}", owner)
    v.check_ts(f"job run {job}", "now_ns", now_ns)


def _check_owner(what: str, owner: object) -> None:
    # Free text for operators ("scheduler@host-1 pid 42"): spaces allowed, not control
    # characters, and not only blanks.
    if (
        not isinstance(owner, str)
        or not owner.strip()
        or len(owner) > v.ID_MAX
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in owner)
    ):
        rule = f"1 to {v.ID_MAX} characters, not all blank, without control characters"
        raise v.fail(what, f"owner must be {rule}, got {owner!r}")


def check_finish(
    job: object, slot_ns: object, status: object, now_ns: object, detail: object
) -> None:
    """Check a finish's arguments: a final status (not RUNNING), a time, a short detail."""
    v.check_id("job run", "job", job)
    what = f"job run {job} at {slot_ns}"
    v.check_ts(f"job run {job}", "slot_ns", slot_ns)
    v.check_enum(what, "status", status, JobRunStatus)
    if status is JobRunStatus.RUNNING:
        raise v.fail(what, "status must be how the run ended (succeeded, failed or abandoned)")
    v.check_ts(what, "now_ns", now_ns)
    v.check_text(what, "detail", detail)


def finished(run: JobRun, status: JobRunStatus, now_ns: int, detail: str) -> JobRun | None:
    """Return ``run`` as finished now, or None if it already ended just so (a repeat).

    Raises
    ------
    TransitionError
        If the run already ended otherwise: how a run ended is written once.
    """
    if run.status is JobRunStatus.RUNNING:
        return msgspec.structs.replace(run, status=status, finished_ns=now_ns, detail=detail)
    if run.status is status and run.detail == detail:
        return None
    msg = (
        f"job run {run.job} at {run.slot_ns}: already ended {run.status.value} "
        f"({run.detail!r}), cannot become {status.value} ({detail!r})"
    )
    raise TransitionError(msg)


def never_claimed(job: str, slot_ns: int) -> NotFoundError:
    """Return the error for finishing a run that was never claimed."""
    return NotFoundError(f"job run {job} at {slot_ns} was never claimed")
