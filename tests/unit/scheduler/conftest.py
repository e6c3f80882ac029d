"""The in-memory store with an outage switch, for the scheduler's unit tests; helpers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from quantgrid.adapters.storage import InMemoryStore, JobRun, JobRunStatus, StoreUnavailableError
from quantgrid.core import dt_to_ns

MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS


def utc(*parts: int) -> int:
    """Return UTC nanoseconds of ``datetime(*parts)`` read in UTC."""
    return dt_to_ns(datetime(*parts, tzinfo=UTC))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FlakyStore(InMemoryStore):
    """``InMemoryStore`` that counts claims and can be down, as a database can.

    With ``fail_claims`` or ``fail_finishes`` set, those calls raise
    ``StoreUnavailableError`` without touching anything.
    """

    def __init__(self) -> None:
        super().__init__()
        self._counting = threading.Lock()
        self.claims = 0
        self.fail_claims = False
        self.fail_finishes = False

    def claim_job_run(self, job: str, slot_ns: int, *, owner: str, now_ns: int) -> bool:
        with self._counting:
            self.claims += 1
        if self.fail_claims:
            raise StoreUnavailableError("database is down")
        return super().claim_job_run(job, slot_ns, owner=owner, now_ns=now_ns)

    def finish_job_run(
        self, job: str, slot_ns: int, *, status: JobRunStatus, now_ns: int, detail: str = ""
    ) -> JobRun:
        if self.fail_finishes:
            raise StoreUnavailableError("database is down")
        return super().finish_job_run(job, slot_ns, status=status, now_ns=now_ns, detail=detail)

    def slots(self, job: str) -> list[int]:
        """Return the claimed slots of ``job``, ascending."""
        return sorted(run.slot_ns for run in self.list_job_runs(job, limit=1000))

    def run(self, job: str, slot_ns: int) -> JobRun:
        """Return the run of ``job`` at ``slot_ns``; raise KeyError if never claimed."""
        found = [run for run in self.list_job_runs(job, limit=1000) if run.slot_ns == slot_ns]
        if not found:
            raise KeyError((job, slot_ns))
        return found[0]


@pytest.fixture
def store() -> FlakyStore:
    return FlakyStore()
