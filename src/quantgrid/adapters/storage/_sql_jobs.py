"""Runs of recurring jobs in SQL (mixed into ``SqlStore``): a claim is a unique insert."""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Connection, RowMapping
from sqlalchemy.dialects import postgresql, sqlite

from quantgrid.adapters.storage import _jobs as jobs
from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._jobs import JobRun, JobRunStatus
from quantgrid.adapters.storage._tables import job_runs


class SqlJobRuns:
    """``JobRunStore`` on the ``job_runs`` table; ``SqlStore`` provides connections.

    Notes
    -----
    A claim is one ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key
    ``(job, slot_ns)``: the database lets exactly one insert of a key through, whatever
    the number of processes (PostgreSQL makes a concurrent insert of the same key wait
    for the first to commit, then do nothing; SQLite serialises writers).
    """

    if TYPE_CHECKING:

        def _connection(
            self, *, write: bool, check_schema: bool = True
        ) -> AbstractContextManager[Connection]: ...

    def claim_job_run(self, job: str, slot_ns: int, *, owner: str, now_ns: int) -> bool:
        """Claim ``(job, slot_ns)``; True if this call claimed it, False if it was taken."""
        jobs.check_claim(job, slot_ns, owner, now_ns)
        row = {
            "job": job,
            "slot_ns": slot_ns,
            "owner": owner,
            "status": JobRunStatus.RUNNING.value,
            "started_ns": now_ns,
            "finished_ns": None,
            "detail": "",
        }
        with self._connection(write=True) as conn:
            # RETURNING, not rowcount: drivers need not report a rowcount for an INSERT.
            return conn.execute(_claim(conn.dialect.name), row).first() is not None

    def finish_job_run(
        self, job: str, slot_ns: int, *, status: JobRunStatus, now_ns: int, detail: str = ""
    ) -> JobRun:
        """Record how a claimed run ended; raise NotFoundError if it was never claimed."""
        jobs.check_finish(job, slot_ns, status, now_ns, detail)
        key = (job_runs.c.job == job) & (job_runs.c.slot_ns == slot_ns)
        with self._connection(write=True) as conn:
            row = conn.execute(sa.select(job_runs).where(key).with_for_update()).mappings().first()
            if row is None:
                raise jobs.never_claimed(job, slot_ns)
            run = _job_run(row)
            ended = jobs.finished(run, status, now_ns, detail)
            if ended is None:
                return run
            conn.execute(
                sa.update(job_runs)
                .where(key)
                .values(status=status.value, finished_ns=now_ns, detail=detail)
            )
            return ended

    def last_job_run(self, job: str) -> JobRun | None:
        """Return the run of ``job`` with the latest slot, or None if it never ran."""
        v.check_id("job run", "job", job)
        query = (
            sa.select(job_runs)
            .where(job_runs.c.job == job)
            .order_by(job_runs.c.slot_ns.desc())
            .limit(1)
        )
        with self._connection(write=False) as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _job_run(row)

    def list_job_runs(self, job: str | None = None, *, limit: int = 100) -> list[JobRun]:
        """Return runs, latest slot first (then by job), of one job or of all."""
        if job is not None:
            v.check_id("job run", "job", job)
        v.check_limit(limit)
        query = sa.select(job_runs).order_by(job_runs.c.slot_ns.desc(), job_runs.c.job)
        if job is not None:
            query = query.where(job_runs.c.job == job)
        with self._connection(write=False) as conn:
            return [_job_run(row) for row in conn.execute(query.limit(limit)).mappings()]


@functools.cache
def _claim(dialect: str) -> Any:
    insert = postgresql.insert(job_runs) if dialect == "postgresql" else sqlite.insert(job_runs)
    return insert.on_conflict_do_nothing(index_elements=["job", "slot_ns"]).returning(
        job_runs.c.job
    )


def _job_run(row: RowMapping) -> JobRun:
    return JobRun(
        job=row["job"],
        slot_ns=row["slot_ns"],
        owner=row["owner"],
        status=JobRunStatus(row["status"]),
        started_ns=row["started_ns"],
        finished_ns=row["finished_ns"],
        detail=row["detail"],
    )
