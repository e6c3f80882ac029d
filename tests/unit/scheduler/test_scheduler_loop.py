"""``Scheduler.start``/``stop``: the tasks wait on the clock, catch up, and stop in bounds."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import anyio
import pytest

from quantgrid.adapters.storage import JobRunStatus
from quantgrid.core import LiveClock, TestClock
from quantgrid.scheduler import (
    ABANDONED_AT_STOP,
    XNYS,
    DuringSession,
    Every,
    RecurringJob,
    Scheduler,
)
from tests.unit.scheduler.conftest import FlakyStore, utc
from tests.unit.scheduler.support import (
    EVERY_MINUTE,
    WAIT_S,
    Blocker,
    Events,
    Recorder,
    at,
    until,
    until_waiting_for,
)

pytestmark = pytest.mark.anyio


def scheduler_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("quantgrid-scheduler-")]


async def test_the_tasks_wait_for_each_slot_on_the_clock(store: FlakyStore) -> None:
    clock, action, events = TestClock(at(0, 30)), Recorder(), Events()
    scheduler = Scheduler(clock, store, "host-a", [RecurringJob("p", EVERY_MINUTE, action)],
                          on_event=events)  # fmt: skip
    await scheduler.start()
    try:
        assert scheduler.running
        for minute in (1, 2, 3):
            await until_waiting_for(clock, at(minute))  # the task is waiting for it
            clock.advance_to(at(minute))
            await events.until_runs(minute)
    finally:
        await scheduler.stop()

    assert action.slots == [at(1), at(2), at(3)]
    assert [run.status for run in events.runs] == [JobRunStatus.SUCCEEDED] * 3
    assert not scheduler.running
    assert scheduler_tasks() == []


async def test_a_market_hours_job_sleeps_over_the_weekend_until_the_open(
    store: FlakyStore,
) -> None:
    cycle = DuringSession(XNYS, every=timedelta(hours=1), include_close=True)
    friday_last, monday_open = utc(2024, 3, 8, 21), utc(2024, 3, 11, 13, 30)
    clock, action, events = TestClock(utc(2024, 3, 8, 20, 45)), Recorder(), Events()
    scheduler = Scheduler(clock, store, "host-a", [RecurringJob("p", cycle, action)],
                          on_event=events)  # fmt: skip
    await scheduler.start()
    try:
        for count, slot in enumerate((friday_last, monday_open), start=1):
            await until_waiting_for(clock, slot)
            clock.advance_to(slot)
            await events.until_runs(count)
    finally:
        await scheduler.stop()

    assert action.slots == [friday_last, monday_open]  # 16:00 EST, then 09:30 EDT


async def test_start_catches_up_at_once_after_a_restart(store: FlakyStore) -> None:
    assert store.claim_job_run("p", at(1), owner="host-a", now_ns=at(1))
    store.finish_job_run("p", at(1), status=JobRunStatus.SUCCEEDED, now_ns=at(1))
    clock, action, events = TestClock(at(9, 10)), Recorder(), Events()
    scheduler = Scheduler(clock, store, "host-a", [RecurringJob("p", EVERY_MINUTE, action)],
                          on_event=events)  # fmt: skip

    await scheduler.start()
    try:
        await events.until_runs(1)
    finally:
        await scheduler.stop()

    assert action.slots == [at(9)]
    assert [(s.first_slot_ns, s.last_slot_ns) for s in events.skips] == [(at(2), at(8))]


async def test_stop_lets_a_running_action_finish_within_its_grace(store: FlakyStore) -> None:
    clock, blocker, events = TestClock(at(1)), Blocker(), Events()
    scheduler = Scheduler(clock, store, "host-a", [RecurringJob("p", EVERY_MINUTE, blocker)],
                          on_event=events, stop_grace_s=WAIT_S)  # fmt: skip
    await scheduler.start()
    with anyio.fail_after(WAIT_S):
        await blocker.started.wait()

    stopping = asyncio.create_task(scheduler.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # waiting for the run
    blocker.release.set()
    with anyio.fail_after(WAIT_S):
        await stopping

    run = store.run("p", at(1))
    assert (run.status, run.detail) == (JobRunStatus.SUCCEEDED, "released")
    assert scheduler_tasks() == []


async def test_stop_cancels_an_action_past_its_grace_and_records_it_abandoned(
    store: FlakyStore,
) -> None:
    clock, blocker, events = TestClock(at(1)), Blocker(), Events()
    scheduler = Scheduler(clock, store, "host-a", [RecurringJob("p", EVERY_MINUTE, blocker)],
                          on_event=events, stop_grace_s=0.01)  # fmt: skip
    await scheduler.start()
    with anyio.fail_after(WAIT_S):
        await blocker.started.wait()

    with anyio.fail_after(WAIT_S):  # a guard: stop returns once the grace is over
        await scheduler.stop()

    run = store.run("p", at(1))
    assert (run.status, run.detail) == (JobRunStatus.ABANDONED, ABANDONED_AT_STOP)
    assert events.runs == [run]
    assert scheduler_tasks() == []


async def test_stop_of_a_waiting_scheduler_ends_at_once_and_it_can_start_again(
    store: FlakyStore,
) -> None:
    clock, action, events = TestClock(at(0, 30)), Recorder(), Events()
    scheduler = Scheduler(clock, store, "host-a", [RecurringJob("p", EVERY_MINUTE, action)],
                          on_event=events, stop_grace_s=3600.0)  # fmt: skip
    await scheduler.start()
    with anyio.fail_after(WAIT_S):  # far within the grace: no run to wait for
        await scheduler.stop()
    await scheduler.stop()  # again: nothing to do

    clock.advance_to(at(1, 30))
    await scheduler.start()
    try:
        await events.until_runs(1)
    finally:
        await scheduler.stop()
    assert action.slots == [at(1)]


async def test_with_the_wall_clock_the_tasks_sleep_until_each_slot(store: FlakyStore) -> None:
    events, action = Events(), Recorder()
    quick = RecurringJob("tick", Every(timedelta(milliseconds=20)), action)
    scheduler = Scheduler(LiveClock(), store, "host-a", [quick], on_event=events)

    await scheduler.start()
    try:
        runs = await events.until_runs(2)
    finally:
        await scheduler.stop()

    slots = [run.slot_ns for run in runs[:2]]
    assert slots[1] > slots[0]
    assert all(slot % 20_000_000 == 0 for slot in slots)  # on the grid of the epoch
    assert all(run.started_ns >= run.slot_ns for run in runs)
    assert action.slots[:2] == slots


class Once:
    """A schedule of one slot, as a user could write one; the first ``bugs`` calls fail."""

    def __init__(self, slot_ns: int, bugs: int = 0) -> None:
        self.slot_ns, self.bugs = slot_ns, bugs

    def _check(self) -> None:
        if self.bugs:
            self.bugs -= 1
            raise ArithmeticError("a bug in the schedule")

    def slots_between(self, start_ns: int, end_ns: int) -> list[int]:
        return [self.slot_ns] if start_ns <= self.slot_ns < end_ns else []

    def next_slot(self, after_ns: int) -> int | None:
        self._check()
        return self.slot_ns if after_ns < self.slot_ns else None

    def latest_slot(self, at_ns: int) -> int | None:
        self._check()
        return self.slot_ns if self.slot_ns <= at_ns else None


async def test_a_schedule_that_ends_ends_its_task(store: FlakyStore) -> None:
    clock, action, events = TestClock(at(0, 30)), Recorder(), Events()
    scheduler = Scheduler(clock, store, "host-a", [RecurringJob("once", Once(at(1)), action)],
                          on_event=events)  # fmt: skip
    await scheduler.start()
    try:
        await until_waiting_for(clock, at(1))
        clock.advance_to(at(1))
        await events.until_runs(1)
        await until(lambda: not scheduler.running)  # the task returns: no slot is left
    finally:
        await scheduler.stop()
    assert action.slots == [at(1)]


async def test_a_failing_step_is_logged_and_tried_again_a_minute_later(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock, action, events = TestClock(at(0, 30)), Recorder(), Events()
    job = RecurringJob("buggy", Once(at(2), bugs=1), action)
    scheduler = Scheduler(clock, store, "host-a", [job], on_event=events)

    with caplog.at_level(logging.ERROR, logger="quantgrid.scheduler"):
        await scheduler.start()
        try:
            await until_waiting_for(clock, at(1, 30))  # the retry, a minute on
            clock.advance_to(at(1, 30))
            await until_waiting_for(clock, at(2))  # working again: the slot
            clock.advance_to(at(2))
            await events.until_runs(1)
        finally:
            await scheduler.stop()

    assert action.slots == [at(2)]
    assert "job buggy: the scheduler failed to step it; trying again in 60s" in caplog.text
