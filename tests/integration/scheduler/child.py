"""A scheduler process for the integration tests: ``python child.py DATABASE OWNER MODE``.

``DATABASE`` is a SQLite path or a PostgreSQL URL. The process prints ``ready``, then
for each line ``M`` it reads on stdin moves its ``TestClock`` to minute ``M`` after
``T0``, runs one step of two jobs, prints ``<job> <slot_ns>`` for each slot its actions
ran and then ``done M``; it ends at the end of stdin. The test feeds two processes the
same minutes in lockstep, so that they claim every slot at the same time. ``MODE``
``crash`` dies with ``os._exit`` inside the action of ``predict`` at minute 4, as a
killed process would.
"""

from __future__ import annotations

import asyncio
import os
import sys

from quantgrid.adapters.storage import PostgresStore, SqliteStore, SqlStore
from quantgrid.core import TestClock
from quantgrid.scheduler import JobAction, RecurringJob, Scheduler
from tests.unit.scheduler.support import EVERY_MINUTE, at

CRASH_MINUTE = 4


def open_store(database: str) -> SqlStore:
    return PostgresStore(database) if "://" in database else SqliteStore(database)


async def main(database: str, owner: str, mode: str) -> None:
    store = open_store(database)
    clock = TestClock(at(0, 30))

    def action(job: str) -> JobAction:
        async def run(slot_ns: int) -> str:
            if mode == "crash" and job == "predict" and slot_ns == at(CRASH_MINUTE):
                os._exit(0)  # no finish recorded: the run stays RUNNING in the store
            print(job, slot_ns, flush=True)
            return f"{owner} ran it"

        return run

    jobs = [RecurringJob(name, EVERY_MINUTE, action(name)) for name in ("predict", "evaluate")]
    scheduler = Scheduler(clock, store, owner, jobs)
    await scheduler.run_once()
    print("ready", flush=True)
    for line in sys.stdin:
        clock.advance_to(at(int(line)))
        await scheduler.run_once()
        print("done", line.strip(), flush=True)
    store.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
