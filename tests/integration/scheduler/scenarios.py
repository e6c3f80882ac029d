"""What the scheduler guarantees, checked the same way on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from quantgrid.adapters.storage import JobRun, JobRunStatus, SqlStore
from quantgrid.core import TestClock
from quantgrid.scheduler import ABANDONED_AT_START, RecurringJob, Scheduler
from tests.integration.scheduler.child import CRASH_MINUTE
from tests.unit.scheduler.support import (
    EVERY_MINUTE,
    WAIT_S,
    Events,
    Recorder,
    at,
    until_waiting_for,
)

OpenStore = Callable[[], SqlStore]
ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("child.py")
JOBS = ("predict", "evaluate")
#: Minutes the two processes step through together.
MINUTES = 40


class RacingStore:
    """A store whose claims wait for ``parties`` claims, so that they always collide."""

    def __init__(self, store: SqlStore, barrier: threading.Barrier) -> None:
        self._store, self._barrier = store, barrier

    def claim_job_run(self, job: str, slot_ns: int, *, owner: str, now_ns: int) -> bool:
        self._barrier.wait()
        return self._store.claim_job_run(job, slot_ns, owner=owner, now_ns=now_ns)

    def finish_job_run(
        self, job: str, slot_ns: int, *, status: JobRunStatus, now_ns: int, detail: str = ""
    ) -> JobRun:
        return self._store.finish_job_run(job, slot_ns, status=status, now_ns=now_ns, detail=detail)

    def last_job_run(self, job: str) -> JobRun | None:
        return self._store.last_job_run(job)

    def list_job_runs(self, job: str | None = None, *, limit: int = 100) -> list[JobRun]:
        return self._store.list_job_runs(job, limit=limit)


async def check_two_schedulers_share_the_slots(open_store: OpenStore) -> None:
    """Two schedulers on two stores (engines) race for every slot; each runs once."""
    stores = [open_store(), open_store()]
    barrier = threading.Barrier(4, timeout=WAIT_S)  # 2 schedulers x 2 jobs per step
    clock = TestClock(at(0, 30))
    actions = {(owner, job): Recorder() for owner in ("host-a", "host-b") for job in JOBS}
    schedulers = [
        Scheduler(
            clock,
            RacingStore(store, barrier),
            owner,
            [RecurringJob(job, EVERY_MINUTE, actions[owner, job]) for job in JOBS],
        )
        for owner, store in zip(("host-a", "host-b"), stores, strict=True)
    ]
    try:
        await asyncio.gather(*(s.run_once() for s in schedulers))
        for minute in range(1, 21):
            clock.advance_to(at(minute))
            await asyncio.gather(*(s.run_once() for s in schedulers))
        every_slot = [at(m) for m in range(1, 21)]
        for job in JOBS:
            ran = actions["host-a", job].slots + actions["host-b", job].slots
            assert sorted(ran) == every_slot
            runs = stores[0].list_job_runs(job, limit=1000)
            assert sorted(r.slot_ns for r in runs) == every_slot
            for run in runs:
                assert run.status is JobRunStatus.SUCCEEDED
                assert run.slot_ns in actions[run.owner, job].slots  # its claimer ran it
    finally:
        for store in stores:
            store.close()


async def check_a_restart_abandons_and_catches_up(open_store: OpenStore) -> None:
    """A process dies mid-run; the next one abandons that run and runs the latest slot."""
    clock, before = TestClock(at(0, 30)), Recorder()
    first_store = open_store()
    first = Scheduler(clock, first_store, "host-a", [RecurringJob("p", EVERY_MINUTE, before)])
    await first.run_once()
    for minute in (1, 2, 3):
        clock.advance_to(at(minute))
        await first.run_once()
    assert first_store.claim_job_run("p", at(4), owner="host-a", now_ns=at(4))  # then died
    first_store.close()

    clock.advance_to(at(7, 30))
    events, after = Events(), Recorder()
    second_store = open_store()  # a new process: a new engine
    second = Scheduler(
        clock, second_store, "host-a", [RecurringJob("p", EVERY_MINUTE, after)], on_event=events
    )
    try:
        ended = await second.run_once()
        runs = {r.slot_ns: r for r in second_store.list_job_runs("p", limit=1000)}
    finally:
        second_store.close()

    assert before.slots == [at(1), at(2), at(3)]
    assert after.slots == [at(7)]  # catch_up="latest": 5 and 6 skipped, 4 not rerun
    assert [(r.slot_ns, r.status) for r in ended] == [(at(7), JobRunStatus.SUCCEEDED)]
    assert sorted(runs) == [at(m) for m in (1, 2, 3, 4, 7)]
    assert (runs[at(4)].status, runs[at(4)].detail) == (
        JobRunStatus.ABANDONED,
        ABANDONED_AT_START,
    )
    assert [(s.first_slot_ns, s.last_slot_ns) for s in events.skips] == [(at(5), at(6))]


async def check_a_started_scheduler_runs_on_the_store(open_store: OpenStore) -> None:
    """``start``/``stop`` with the store's calls in worker threads."""
    store, clock, events, action = open_store(), TestClock(at(0, 30)), Events(), Recorder()
    scheduler = Scheduler(
        clock, store, "host-a", [RecurringJob("p", EVERY_MINUTE, action)], on_event=events
    )
    try:
        await scheduler.start()
        for minute in (1, 2):
            await until_waiting_for(clock, at(minute))
            clock.advance_to(at(minute))
            await events.until_runs(minute)
        await scheduler.stop()
        stored = sorted(store.list_job_runs("p"), key=lambda r: r.slot_ns)
    finally:
        store.close()
    assert stored == sorted(events.runs, key=lambda r: r.slot_ns)
    assert [r.slot_ns for r in stored] == [at(1), at(2)]


def _spawn(database: str, owner: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), database, owner, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def _wait_ready(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None and child.stderr is not None
    line = child.stdout.readline().strip()
    assert line == "ready", child.stderr.read()


def _step(child: subprocess.Popen[str], minute: int) -> None:
    assert child.stdin is not None
    child.stdin.write(f"{minute}\n")
    child.stdin.flush()


def _ran_until_done(child: subprocess.Popen[str], minute: int) -> list[tuple[str, int]]:
    """Read what the child ran in its step of ``minute``, up to its ``done``."""
    assert child.stdout is not None and child.stderr is not None
    ran = []
    while (line := child.stdout.readline().strip()) != f"done {minute}":
        assert line, child.stderr.read()  # the child ended early
        job, slot = line.split()
        ran.append((job, int(slot)))
    return ran


def check_two_processes_share_the_slots(database: str, open_store: OpenStore) -> None:
    """Two scheduler processes on one database, in lockstep: each slot runs once."""
    children = {owner: _spawn(database, owner, "race") for owner in ("host-a", "host-b")}
    ran: Counter[tuple[str, int]] = Counter()
    by: dict[tuple[str, int], str] = {}
    try:
        for child in children.values():
            _wait_ready(child)
        for minute in range(1, MINUTES + 1):
            for child in children.values():
                _step(child, minute)
            for owner, child in children.items():
                for key in _ran_until_done(child, minute):
                    ran[key] += 1
                    by[key] = owner
        for child in children.values():
            _, err = child.communicate(timeout=WAIT_S)
            assert child.returncode == 0, err
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.communicate()

    every = {(job, at(m)) for job in JOBS for m in range(1, MINUTES + 1)}
    assert set(ran) == every
    assert max(ran.values()) == 1  # no slot ran twice
    with open_store() as store:
        for job in JOBS:
            for run in store.list_job_runs(job, limit=1000):
                assert run.status is JobRunStatus.SUCCEEDED
                assert run.owner == by[job, run.slot_ns]  # its claimer ran it


async def check_a_killed_process_is_not_rerun(database: str, open_store: OpenStore) -> None:
    """A process killed inside a run leaves it RUNNING; its restart abandons it."""
    child = _spawn(database, "host-a", "crash")
    _wait_ready(child)
    out, err = child.communicate("".join(f"{m}\n" for m in range(1, 7)), timeout=120)
    assert child.returncode == 0, err
    assert f"done {CRASH_MINUTE - 1}" in out
    assert f"done {CRASH_MINUTE}" not in out  # it died in that step
    assert f"predict {at(CRASH_MINUTE)}" not in out

    clock, action = TestClock(at(CRASH_MINUTE, 40)), Recorder()
    store = open_store()
    try:
        stale = store.last_job_run("predict")
        assert stale is not None
        assert (stale.slot_ns, stale.status) == (at(CRASH_MINUTE), JobRunStatus.RUNNING)
        job = RecurringJob("predict", EVERY_MINUTE, action)
        restarted = Scheduler(clock, store, "host-a", [job])
        await restarted.run_once()
        clock.advance_to(at(CRASH_MINUTE + 1))
        await restarted.run_once()
        abandoned = store.list_job_runs("predict", limit=2)[1]
    finally:
        store.close()
    assert (abandoned.slot_ns, abandoned.status) == (at(CRASH_MINUTE), JobRunStatus.ABANDONED)
    assert action.slots == [at(CRASH_MINUTE + 1)]  # the killed run is never run again
