"""``RecurringJob``: what a job may be, refused with the rule it broke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from quantgrid.adapters.storage import JobRun, JobRunStatus
from quantgrid.scheduler import Every, JobRunEnded, JobSlotsSkipped, RecurringJob

HOURLY = Every(timedelta(hours=1))


async def noop(slot_ns: int) -> str:
    return f"slot {slot_ns}"


def test_defaults_run_the_latest_missed_slot_with_a_ten_minute_timeout() -> None:
    job = RecurringJob("drift-check", HOURLY, noop)

    assert (job.catch_up, job.max_catch_up, job.timeout_s) == ("latest", 10, 600.0)
    assert job.grace == timedelta(minutes=1)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"name": ""}, ValueError, "name: give a job name of 1 to 128 characters"),
        ({"name": "drift check"}, ValueError, "without whitespace or control characters, got"),
        ({"name": "x" * 129}, ValueError, "name: give a job name"),
        ({"name": 7}, ValueError, "name: give a job name"),
        ({"action": "retrain"}, TypeError, "action of job 'j': give an async callable"),
        ({"catch_up": "some"}, ValueError, "catch_up of job 'j': give one of 'latest', 'none'"),
        ({"max_catch_up": 0}, ValueError, "max_catch_up of job 'j' must be 1 or more, got 0"),
        ({"max_catch_up": True}, ValueError, "max_catch_up of job 'j' must be 1 or more"),
        ({"timeout_s": 0.0}, ValueError, "timeout_s of job 'j' must be a positive number"),
        ({"timeout_s": float("inf")}, ValueError, "timeout_s of job 'j' must be a positive"),
        ({"grace": timedelta(seconds=-1)}, ValueError, "grace of job 'j' must be a timedelta"),
        ({"grace": 60}, ValueError, "grace of job 'j' must be a timedelta of 0 or more"),
    ],
)
def test_bad_input_is_refused_naming_it(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    fields: dict[str, Any] = {"name": "j", "schedule": HOURLY, "action": noop}

    with pytest.raises(error, match=message):
        RecurringJob(**(fields | changes))


def test_events_are_frozen_messages_that_round_trip() -> None:
    run = JobRun(
        job="j", slot_ns=1, owner="a", status=JobRunStatus.FAILED, started_ns=2, finished_ns=3,
        detail="ValueError: boom",
    )  # fmt: skip
    ended = JobRunEnded(run)
    skipped = JobSlotsSkipped("j", 10, 20, "catch_up='latest' runs only the newest", 30)

    assert msgspec.json.decode(msgspec.json.encode(ended), type=JobRunEnded) == ended
    assert msgspec.json.decode(msgspec.json.encode(skipped), type=JobSlotsSkipped) == skipped
    with pytest.raises(AttributeError):
        skipped.job = "other"  # type: ignore[misc]
