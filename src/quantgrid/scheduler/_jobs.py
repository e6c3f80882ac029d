"""Recurring jobs and what the scheduler reports about them."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

import msgspec

from quantgrid.adapters.storage import JobRun
from quantgrid.scheduler._schedules import Schedule

CatchUp = Literal["latest", "none", "all"]
"""What a job does with slots it missed; see ``RecurringJob``."""

JobAction = Callable[[int], Awaitable[str | None]]
"""A job's body: called with the slot (UTC ns), returns a short summary or None."""

#: The longest job name: it is a key in the job-runs table and a label of metrics.
MAX_JOB_NAME = 128
#: A job name: no whitespace or control characters (the store's rule for keys).
_JOB_NAME = re.compile(r"[^\s\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class RecurringJob:
    """A job the scheduler runs once per slot of its schedule.

    Parameters
    ----------
    name
        Unique among the scheduler's jobs and stable across restarts: with the slot it
        is the key of each run in the store (1 to 128 characters, no whitespace, e.g.
        ``"predict-asx-banks"``).
    schedule
        When the job is due.
    action
        The job's body, awaited with the slot's time; what it returns is stored as the
        run's detail.
    catch_up
        Which due slots run when more than one is due at once (after a restart, or
        after a run that lasted past the next slot); older ones are skipped, and
        logged:

        - ``"latest"`` (default): only the newest due slot;
        - ``"none"``: only the newest, and only if it is on time (at most ``grace``
          late), so slots missed while the process was down never run;
        - ``"all"``: the newest ``max_catch_up`` due slots, oldest first.
    max_catch_up
        With ``"all"``, how many due slots run at most at once (1 or more).
    timeout_s
        Seconds a run may take; a run still going then is cancelled and FAILED.
    grace
        How late a slot may start and still be on time (``"none"`` only).

    Notes
    -----
    Runs of one job never overlap: a slot that comes while the job runs waits for
    the run to end, then counts as due.
    """

    name: str
    schedule: Schedule
    action: JobAction
    catch_up: CatchUp = "latest"
    max_catch_up: int = 10
    timeout_s: float = 600.0
    grace: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str)
            or len(self.name) > MAX_JOB_NAME
            or not _JOB_NAME.fullmatch(self.name)
        ):
            msg = (
                f"name: give a job name of 1 to {MAX_JOB_NAME} characters without "
                f"whitespace or control characters, got {self.name!r}"
            )
            raise ValueError(msg)
        if not callable(self.action):
            msg = f"action of job {self.name!r}: give an async callable, got {self.action!r}"
            raise TypeError(msg)
        if self.catch_up not in get_args(CatchUp):
            msg = (
                f"catch_up of job {self.name!r}: give one of "
                f"{', '.join(repr(c) for c in get_args(CatchUp))}, got {self.catch_up!r}"
            )
            raise ValueError(msg)
        if isinstance(self.max_catch_up, bool) or not (
            isinstance(self.max_catch_up, int) and self.max_catch_up >= 1
        ):
            msg = f"max_catch_up of job {self.name!r} must be 1 or more, got {self.max_catch_up!r}"
            raise ValueError(msg)
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            msg = f"timeout_s of job {self.name!r} must be a positive number of seconds"
            raise ValueError(f"{msg}, got {self.timeout_s!r}")
        if not isinstance(self.grace, timedelta) or self.grace < timedelta(0):
            msg = f"grace of job {self.name!r} must be a timedelta of 0 or more"
            raise ValueError(f"{msg}, got {self.grace!r}")


class JobRunEnded(msgspec.Struct, frozen=True, gc=False):
    """A run of a recurring job ended: SUCCEEDED, FAILED or ABANDONED (see ``run``)."""

    run: JobRun


class JobSlotsSkipped(msgspec.Struct, frozen=True, gc=False):
    """Due slots of a job were skipped by its catch-up policy; none of them will run.

    Attributes
    ----------
    job
        The job's name.
    first_slot_ns, last_slot_ns
        The oldest and newest slot skipped (every slot of the schedule between them
        was skipped too).
    reason
        Why, for the log.
    ts_event
        When the scheduler skipped them.
    """

    job: str
    first_slot_ns: int
    last_slot_ns: int
    reason: str
    ts_event: int


SchedulerEvent = JobRunEnded | JobSlotsSkipped
"""What the scheduler reports to its ``on_event`` hook."""
