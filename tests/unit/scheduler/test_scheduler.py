"""``Scheduler`` step by step (``run_once``): at most once per slot, catch-up, failures."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta

import pytest

from quantgrid.adapters.storage import JobRun, JobRunStatus
from quantgrid.core import TestClock
from quantgrid.scheduler import (
    ABANDONED_AT_START,
    CatchUp,
    RecurringJob,
    Scheduler,
)
from quantgrid.scheduler._scheduler import MAX_DETAIL
from tests.unit.scheduler.conftest import FlakyStore
from tests.unit.scheduler.support import EVERY_MINUTE, Events, Recorder, at

pytestmark = pytest.mark.anyio

SUCCEEDED, FAILED = JobRunStatus.SUCCEEDED, JobRunStatus.FAILED


def minute_job(action: Recorder, name: str = "predict", **options: object) -> RecurringJob:
    return RecurringJob(name, EVERY_MINUTE, action, **options)  # type: ignore[arg-type]


def make(
    clock: TestClock, store: FlakyStore, *jobs: RecurringJob, owner: str = "host-a"
) -> tuple[Scheduler, Events]:
    events = Events()
    return Scheduler(clock, store, owner, jobs, on_event=events), events


async def step(scheduler: Scheduler, clock: TestClock, ts: int) -> list[tuple[int, str]]:
    """Move the clock to ``ts``, run one step; return (slot, status) of the runs ended."""
    clock.advance_to(ts)
    return [(run.slot_ns, run.status.value) for run in await scheduler.run_once()]


# -- due slots -----------------------------------------------------------------------------
async def test_a_job_that_never_ran_owes_nothing_from_before_the_start(
    store: FlakyStore,
) -> None:
    clock, action = TestClock(at(0, 30)), Recorder()
    scheduler, _ = make(clock, store, minute_job(action))

    assert await step(scheduler, clock, at(0, 30)) == []
    assert await step(scheduler, clock, at(0, 59)) == []
    assert action.slots == []


async def test_each_due_slot_runs_once_and_is_recorded(store: FlakyStore) -> None:
    clock, action = TestClock(at(0, 30)), Recorder()
    scheduler, events = make(clock, store, minute_job(action))
    await scheduler.run_once()

    assert await step(scheduler, clock, at(1)) == [(at(1), "succeeded")]
    assert await step(scheduler, clock, at(1, 40)) == []  # same slot: nothing more
    assert await step(scheduler, clock, at(2, 5)) == [(at(2), "succeeded")]

    assert action.slots == [at(1), at(2)]
    run = store.run("predict", at(1))
    assert (run.owner, run.status, run.detail) == ("host-a", SUCCEEDED, f"ran {at(1)}")
    assert (run.started_ns, run.finished_ns) == (at(1), at(1))
    assert [r.slot_ns for r in events.runs] == [at(1), at(2)]


async def test_a_slot_exactly_at_the_start_is_due(store: FlakyStore) -> None:
    clock, action = TestClock(at(3)), Recorder()
    scheduler, _ = make(clock, store, minute_job(action))

    assert await step(scheduler, clock, at(3)) == [(at(3), "succeeded")]


async def test_a_run_that_outlasts_the_next_slot_leaves_it_to_the_catch_up() -> None:
    store, clock = FlakyStore(), TestClock(at(0, 30))

    async def slow(slot_ns: int) -> str:
        clock.advance_to(slot_ns + 150 * 1_000_000_000)  # 2.5 minutes
        return "slow"

    scheduler, events = make(clock, store, RecurringJob("slow", EVERY_MINUTE, slow))
    await scheduler.run_once()

    assert await step(scheduler, clock, at(1)) == [(at(1), "succeeded")]
    assert clock.timestamp_ns() == at(3, 30)
    assert await step(scheduler, clock, at(3, 30)) == [(at(3), "succeeded")]
    assert [(s.first_slot_ns, s.last_slot_ns) for s in events.skips] == [(at(2), at(2))]


# -- restarts and catch-up -------------------------------------------------------------------
async def test_a_restarted_scheduler_runs_no_slot_twice(store: FlakyStore) -> None:
    clock, before = TestClock(at(0, 30)), Recorder()
    first, _ = make(clock, store, minute_job(before))
    await first.run_once()
    for minute in (1, 2, 3):
        await step(first, clock, at(minute))

    after = Recorder()
    second, _ = make(clock, store, minute_job(after))  # the process restarted
    assert await step(second, clock, at(3, 30)) == []
    assert await step(second, clock, at(4)) == [(at(4), "succeeded")]

    assert before.slots == [at(1), at(2), at(3)]
    assert after.slots == [at(4)]
    assert store.slots("predict") == [at(m) for m in (1, 2, 3, 4)]


async def crashed_then_restarted(
    store: FlakyStore, catch_up: CatchUp, restart_at: int, **options: object
) -> tuple[Recorder, Events, list[tuple[int, str]]]:
    """Run minute 1, then restart at ``restart_at`` with ``catch_up``; return the second."""
    clock = TestClock(at(0, 30))
    first, _ = make(clock, store, minute_job(Recorder()))
    await first.run_once()
    await step(first, clock, at(1))
    action = Recorder()
    second, events = make(clock, store, minute_job(action, catch_up=catch_up, **options))
    return action, events, await step(second, clock, restart_at)


async def test_latest_runs_only_the_newest_missed_slot_and_logs_the_rest(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="quantgrid.scheduler"):
        action, events, ran = await crashed_then_restarted(store, "latest", at(7, 30))

    assert ran == [(at(7), "succeeded")]
    assert action.slots == [at(7)]
    assert store.slots("predict") == [at(1), at(7)]
    [skip] = events.skips
    assert (skip.job, skip.first_slot_ns, skip.last_slot_ns) == ("predict", at(2), at(6))
    assert skip.ts_event == at(7, 30)
    assert "skipping missed slots 2024-01-02T10:02:00Z to 2024-01-02T10:06:00Z" in caplog.text
    assert "catch_up='latest' runs only the newest due slot" in caplog.text


async def test_all_runs_the_newest_max_catch_up_slots_oldest_first(store: FlakyStore) -> None:
    action, events, ran = await crashed_then_restarted(store, "all", at(7, 30), max_catch_up=3)

    assert ran == [(at(5), "succeeded"), (at(6), "succeeded"), (at(7), "succeeded")]
    assert action.slots == [at(5), at(6), at(7)]
    assert [(s.first_slot_ns, s.last_slot_ns) for s in events.skips] == [(at(2), at(4))]


async def test_all_with_room_runs_every_missed_slot(store: FlakyStore) -> None:
    action, events, _ = await crashed_then_restarted(store, "all", at(7, 30), max_catch_up=100)

    assert action.slots == [at(m) for m in range(2, 8)]
    assert events.skips == []


async def test_none_skips_every_late_slot(store: FlakyStore) -> None:
    action, events, ran = await crashed_then_restarted(
        store, "none", at(7, 30), grace=timedelta(seconds=10)
    )

    assert ran == []
    assert action.slots == []
    assert [(s.first_slot_ns, s.last_slot_ns) for s in events.skips] == [(at(2), at(7))]
    assert "catch_up='none' runs no slot more than 0:00:10 late" in events.skips[0].reason


async def test_none_runs_the_newest_slot_within_its_grace(store: FlakyStore) -> None:
    action, events, ran = await crashed_then_restarted(
        store, "none", at(7, 30), grace=timedelta(seconds=45)
    )

    assert ran == [(at(7), "succeeded")]
    assert action.slots == [at(7)]
    assert [(s.first_slot_ns, s.last_slot_ns) for s in events.skips] == [(at(2), at(6))]


# -- runs a crash left RUNNING ---------------------------------------------------------------
async def test_a_run_this_owner_left_running_is_abandoned_not_rerun(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.claim_job_run("predict", at(3), owner="host-a", now_ns=at(3))  # then died
    clock, action = TestClock(at(3, 40)), Recorder()
    scheduler, events = make(clock, store, minute_job(action), owner="host-a")

    with caplog.at_level(logging.WARNING, logger="quantgrid.scheduler"):
        assert await scheduler.run_once() == []

    stale = store.run("predict", at(3))
    assert (stale.status, stale.detail, stale.finished_ns) == (
        JobRunStatus.ABANDONED,
        ABANDONED_AT_START,
        at(3, 40),
    )
    assert events.runs == [stale]
    assert "slot 2024-01-02T10:03:00Z was running under host-a" in caplog.text
    assert await step(scheduler, clock, at(4)) == [(at(4), "succeeded")]
    assert action.slots == [at(4)]


async def test_a_run_of_another_owner_is_left_running(store: FlakyStore) -> None:
    assert store.claim_job_run("predict", at(3), owner="host-b", now_ns=at(3))
    clock, action = TestClock(at(3, 40)), Recorder()
    scheduler, _ = make(clock, store, minute_job(action), owner="host-a")

    await scheduler.run_once()

    assert store.run("predict", at(3)).status is JobRunStatus.RUNNING
    assert action.slots == []


# -- two schedulers, one store ---------------------------------------------------------------
class RacingStore(FlakyStore):
    """Holds every claim until its rival arrives, so the two always race."""

    def __init__(self) -> None:
        super().__init__()
        self._barrier = threading.Barrier(2, timeout=10)

    def claim_job_run(self, job: str, slot_ns: int, *, owner: str, now_ns: int) -> bool:
        self._barrier.wait()
        return super().claim_job_run(job, slot_ns, owner=owner, now_ns=now_ns)


async def test_two_schedulers_sharing_a_store_run_each_slot_exactly_once() -> None:
    store, clock = RacingStore(), TestClock(at(0, 30))
    actions = {name: Recorder() for name in ("a-predict", "a-evaluate", "b-predict", "b-evaluate")}
    a, _ = make(clock, store, *(minute_job(actions[f"a-{n}"], n) for n in ("predict", "evaluate")))
    b, _ = make(
        clock,
        store,
        *(minute_job(actions[f"b-{n}"], n) for n in ("predict", "evaluate")),
        owner="host-b",
    )
    await asyncio.gather(a.run_once(), b.run_once())

    for minute in range(1, 31):
        clock.advance_to(at(minute))
        await asyncio.gather(a.run_once(), b.run_once())

    every_slot = [at(m) for m in range(1, 31)]
    for job in ("predict", "evaluate"):
        ran = actions[f"a-{job}"].slots + actions[f"b-{job}"].slots
        assert sorted(ran) == every_slot  # each slot once, none lost
        assert store.slots(job) == every_slot
        owners = {store.run(job, s).owner for s in every_slot}
        assert owners <= {"host-a", "host-b"}
    assert store.claims == 4 * 30


# -- failures --------------------------------------------------------------------------------
async def test_a_failing_action_is_recorded_and_stops_nothing(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = TestClock(at(0, 30))
    failing, other = Recorder(fail_on=(at(1),)), Recorder()
    scheduler, _ = make(clock, store, minute_job(failing), minute_job(other, "evaluate"))
    await scheduler.run_once()

    with caplog.at_level(logging.ERROR, logger="quantgrid.scheduler"):
        assert sorted(await step(scheduler, clock, at(1))) == [
            (at(1), "failed"),
            (at(1), "succeeded"),
        ]
    assert await step(scheduler, clock, at(2)) == [(at(2), "succeeded"), (at(2), "succeeded")]

    run = store.run("predict", at(1))
    assert (run.status, run.detail) == (FAILED, f"ValueError: bad features at {at(1)}")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert "job predict: slot 2024-01-02T10:01:00Z failed" in record.getMessage()


async def test_a_run_past_its_timeout_is_failed(store: FlakyStore) -> None:
    async def hangs(slot_ns: int) -> str:
        await asyncio.Event().wait()
        return "never"

    clock = TestClock(at(0, 30))
    scheduler, _ = make(clock, store, RecurringJob("hangs", EVERY_MINUTE, hangs, timeout_s=0.01))
    await scheduler.run_once()

    assert await step(scheduler, clock, at(1)) == [(at(1), "failed")]
    assert store.run("hangs", at(1)).detail == "timed out after 0.01s"


async def test_an_actions_own_timeout_error_is_an_ordinary_failure(store: FlakyStore) -> None:
    async def upstream(slot_ns: int) -> str:
        raise TimeoutError("market-data service did not answer")

    clock = TestClock(at(0, 30))
    scheduler, _ = make(clock, store, RecurringJob("fetch", EVERY_MINUTE, upstream))
    await scheduler.run_once()

    await step(scheduler, clock, at(1))
    assert store.run("fetch", at(1)).detail == ("TimeoutError: market-data service did not answer")


async def test_a_result_that_is_not_text_fails_and_a_long_error_is_clipped(
    store: FlakyStore,
) -> None:
    async def returns_a_number(slot_ns: int) -> int:
        return 42

    async def long_error(slot_ns: int) -> str:
        raise RuntimeError("x" * 5_000)

    clock = TestClock(at(0, 30))
    scheduler, _ = make(
        clock,
        store,
        RecurringJob("number", EVERY_MINUTE, returns_a_number),  # type: ignore[arg-type]
        RecurringJob("long", EVERY_MINUTE, long_error),
    )
    await scheduler.run_once()
    await step(scheduler, clock, at(1))

    assert store.run("number", at(1)).detail == "the action must return a str or None, not int"
    detail = store.run("long", at(1)).detail
    assert len(detail) == MAX_DETAIL
    assert detail.startswith("RuntimeError: xxx") and detail.endswith("…")


async def test_a_claim_the_store_refused_is_neither_run_nor_retried(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock, action = TestClock(at(0, 30)), Recorder()
    scheduler, _ = make(clock, store, minute_job(action))
    await scheduler.run_once()

    store.fail_claims = True
    with caplog.at_level(logging.ERROR, logger="quantgrid.scheduler"):
        assert await step(scheduler, clock, at(1)) == []
    store.fail_claims = False
    assert await step(scheduler, clock, at(1, 30)) == []  # not tried again
    assert await step(scheduler, clock, at(2)) == [(at(2), "succeeded")]

    assert action.slots == [at(2)]
    assert "could not claim slot 2024-01-02T10:01:00Z; it is not run" in caplog.text


async def test_a_run_the_store_could_not_record_is_still_reported(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = TestClock(at(0, 30))
    scheduler, events = make(clock, store, minute_job(Recorder()))
    await scheduler.run_once()

    store.fail_finishes = True
    with caplog.at_level(logging.ERROR, logger="quantgrid.scheduler"):
        assert await step(scheduler, clock, at(1)) == [(at(1), "succeeded")]

    assert store.run("predict", at(1)).status is JobRunStatus.RUNNING
    assert events.runs[0].detail == f"ran {at(1)}"
    assert "could not record slot 2024-01-02T10:01:00Z as succeeded" in caplog.text


async def test_a_broken_event_hook_is_logged_and_ignored(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: object) -> None:
        raise KeyError("metrics registry")

    clock, action = TestClock(at(0, 30)), Recorder()
    scheduler = Scheduler(clock, store, "host-a", [minute_job(action)], on_event=broken)
    await scheduler.run_once()

    with caplog.at_level(logging.ERROR, logger="quantgrid.scheduler"):
        assert await step(scheduler, clock, at(1)) == [(at(1), "succeeded")]
    assert "the on_event hook failed" in caplog.text


async def test_a_logger_of_ones_own_gets_the_log(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.scheduler.own")
    clock = TestClock(at(0, 30))
    scheduler = Scheduler(clock, store, "host-a", [minute_job(Recorder())], logger=logger)
    await scheduler.run_once()

    with caplog.at_level(logging.INFO, logger="tests.scheduler.own"):
        await step(scheduler, clock, at(5, 30))

    messages = [(r.name, r.getMessage()) for r in caplog.records]
    assert ("tests.scheduler.own", "job predict: running slot 2024-01-02T10:05:00Z") in messages
    assert all(name == "tests.scheduler.own" for name, _ in messages)
    assert any("skipping missed slots" in message for _, message in messages)


# -- bad input and misuse --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("owner", "jobs", "options", "error", "message"),
    [
        ("", ["predict"], {}, ValueError, "owner: give a name of 1 to 128 characters"),
        ("  ", ["predict"], {}, ValueError, "not all blank"),
        ("x" * 129, ["predict"], {}, ValueError, "owner: give a name"),
        ("host\n", ["predict"], {}, ValueError, "without control characters, got 'host"),
        ("a", ["predict", "predict"], {}, ValueError, "names must be unique, and 'predict'"),
        ("a", ["predict"], {"stop_grace_s": -1.0}, ValueError, "stop_grace_s must be 0 or more"),
        ("a", [None], {}, TypeError, "jobs: give RecurringJob instances, got None"),
    ],
)
def test_bad_input_is_refused_naming_it(
    store: FlakyStore,
    owner: str,
    jobs: list[str | None],
    options: dict[str, float],
    error: type[Exception],
    message: str,
) -> None:
    made = [None if name is None else minute_job(Recorder(), name) for name in jobs]

    with pytest.raises(error, match=message):
        Scheduler(TestClock(), store, owner, made, **options)  # type: ignore[arg-type]


async def test_run_once_refuses_a_started_scheduler(store: FlakyStore) -> None:
    scheduler, _ = make(TestClock(at(0, 30)), store, minute_job(Recorder()))
    await scheduler.start()
    try:
        with pytest.raises(RuntimeError, match="run_once steps a scheduler that is not started"):
            await scheduler.run_once()
        with pytest.raises(RuntimeError, match="already started"):
            await scheduler.start()
    finally:
        await scheduler.stop()


async def test_a_stale_run_that_ends_meanwhile_is_left_as_it_ended() -> None:
    class EndsMeanwhile(FlakyStore):
        """Another process of the same owner finishes the run between list and finish."""

        def list_job_runs(self, job: str | None = None, *, limit: int = 100) -> list[JobRun]:
            runs = super().list_job_runs(job, limit=limit)
            if any(r.status is JobRunStatus.RUNNING for r in runs):
                super().finish_job_run("predict", at(3), status=SUCCEEDED, now_ns=at(3, 20))
            return runs

    store = EndsMeanwhile()
    assert store.claim_job_run("predict", at(3), owner="host-a", now_ns=at(3))
    scheduler, events = make(TestClock(at(3, 40)), store, minute_job(Recorder()))

    assert await scheduler.run_once() == []
    assert store.run("predict", at(3)).status is SUCCEEDED
    assert events.runs == []
