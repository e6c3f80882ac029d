"""Test jobs and an event recorder for the scheduler's tests (unit and integration)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import anyio

from quantgrid.adapters.storage import JobRun
from quantgrid.core import TestClock
from quantgrid.scheduler import Every, JobRunEnded, JobSlotsSkipped, SchedulerEvent
from tests.unit.scheduler.conftest import MINUTE_NS, utc

#: A slot of ``EVERY_MINUTE``: Tuesday 2 January 2024, 10:00 UTC.
T0 = utc(2024, 1, 2, 10)
EVERY_MINUTE = Every(timedelta(minutes=1))
#: The longest a test waits for the scheduler's tasks to do something (a guard, not a
#: timing: the waits end as soon as the awaited event happens).
WAIT_S = 10.0


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds, looking every millisecond (``WAIT_S`` at most)."""
    with anyio.fail_after(WAIT_S):
        while not condition():
            await asyncio.sleep(0.001)


async def until_waiting_for(clock: TestClock, ts_ns: int) -> None:
    """Wait until the scheduler's task waits on ``clock`` for ``ts_ns``."""
    await until(lambda: clock.next_alert_ns() == ts_ns)


def at(minute: int, second: int = 0) -> int:
    """Return ``T0`` plus minutes and seconds."""
    return T0 + minute * MINUTE_NS + second * 1_000_000_000


class Recorder:
    """A job action that records the slots it ran and fails on the ones it is told to."""

    def __init__(self, *, fail_on: tuple[int, ...] = ()) -> None:
        self.slots: list[int] = []
        self.fail_on = fail_on

    async def __call__(self, slot_ns: int) -> str:
        self.slots.append(slot_ns)
        if slot_ns in self.fail_on:
            raise ValueError(f"bad features at {slot_ns}")
        return f"ran {slot_ns}"


class Blocker:
    """A job action that waits, after saying it started, until released (or forever)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.slots: list[int] = []

    async def __call__(self, slot_ns: int) -> str:
        self.slots.append(slot_ns)
        self.started.set()
        await self.release.wait()
        return "released"


class Events:
    """An ``on_event`` hook that keeps what the scheduler reported, and can wait for it."""

    def __init__(self) -> None:
        self.items: list[SchedulerEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: SchedulerEvent) -> None:
        self.items.append(event)
        self._changed.set()

    @property
    def runs(self) -> list[JobRun]:
        return [e.run for e in self.items if isinstance(e, JobRunEnded)]

    @property
    def skips(self) -> list[JobSlotsSkipped]:
        return [e for e in self.items if isinstance(e, JobSlotsSkipped)]

    async def until_runs(self, count: int) -> list[JobRun]:
        """Wait until ``count`` runs have ended; return them."""
        with anyio.fail_after(WAIT_S):
            while True:
                self._changed.clear()
                if len(self.runs) >= count:
                    return self.runs
                await self._changed.wait()
