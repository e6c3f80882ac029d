"""The in-memory fake's predictions, outcomes and job runs (mixed into ``InMemoryStore``)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import msgspec

from quantgrid.adapters.storage import _jobs as jobs
from quantgrid.adapters.storage import _prediction_rules as rules
from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._jobs import JobRun, JobRunStatus
from quantgrid.adapters.storage._records import Page, StoredPrediction
from quantgrid.ml._predictions import Prediction, PredictionOutcome


class InMemoryPredictions:
    """``PredictionStore`` in a dict; ``InMemoryStore`` provides the lock and the dicts."""

    _lock: threading.Lock
    _predictions: dict[str, tuple[StoredPrediction, int]]  # with its due time

    def save_predictions(self, predictions: Iterable[Prediction]) -> int:
        """Store a batch of predictions; return how many were not stored before."""
        batch = rules.prepare_predictions(predictions)
        with self._lock:
            for pid, (prediction, _) in batch.items():
                stored = self._predictions.get(pid)
                if stored is not None:
                    rules.check_same_prediction(stored[0].prediction, prediction)
            new = {pid: item for pid, item in batch.items() if pid not in self._predictions}
            for pid, (prediction, due) in new.items():
                self._predictions[pid] = (StoredPrediction(prediction=prediction), due)
        return len(new)

    def get_prediction(self, prediction_id: str) -> StoredPrediction | None:
        """Return the prediction ``prediction_id`` with its outcome, or ``None``."""
        with self._lock:
            stored = self._predictions.get(prediction_id)
        return None if stored is None else stored[0]

    def due_predictions(
        self, now_ns: int, *, limit: int = 100, after: str | None = None
    ) -> Page[Prediction]:
        """Return predictions without an outcome, due at ``now_ns``, oldest due first."""
        v.check_ts("listing", "now_ns", now_ns)
        v.check_limit(limit)
        start = v.parse_cursor(after)
        with self._lock:
            found = [
                (due_ns, s.prediction)
                for s, due_ns in self._predictions.values()
                if s.outcome is None
                and due_ns <= now_ns
                and (start is None or (due_ns, s.prediction.prediction_id) > start)
            ]
        found.sort(key=lambda item: (item[0], item[1].prediction_id))
        page = v.make_page(found, limit, lambda item: (item[0], item[1].prediction_id))
        return Page(tuple(p for _, p in page.items), page.next_cursor)

    def save_outcomes(self, outcomes: Iterable[PredictionOutcome]) -> int:
        """Store a batch of outcomes of stored predictions; return how many were new."""
        batch = rules.prepare_outcomes(outcomes)
        with self._lock:
            missing = [pid for pid in batch if pid not in self._predictions]
            if missing:
                raise rules.not_stored(missing)
            new = {}
            for pid, outcome in batch.items():
                stored = self._predictions[pid][0].outcome
                if stored is None:
                    new[pid] = outcome
                else:
                    rules.check_same_outcome(stored, outcome)
            for pid, outcome in new.items():
                stored_prediction, due = self._predictions[pid]
                resolved = msgspec.structs.replace(stored_prediction, outcome=outcome)
                self._predictions[pid] = (resolved, due)
        return len(new)

    def list_predictions(
        self,
        *,
        model_name: str | None = None,
        model_version: int | None = None,
        instrument_id: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        resolved: bool | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[StoredPrediction]:
        """Return predictions with their outcomes, by ``ts_event`` then id, filtered."""
        rules.check_listing(model_name, model_version, instrument_id, resolved)
        v.check_range(since_ns, until_ns)
        v.check_limit(limit)
        start = v.parse_cursor(after)
        with self._lock:
            found = [s for s, _ in self._predictions.values()]
        found = [
            s
            for s in found
            if (model_name is None or s.prediction.model_name == model_name)
            and (model_version is None or s.prediction.model_version == model_version)
            and (instrument_id is None or s.prediction.instrument_id == instrument_id)
            and (since_ns is None or s.prediction.ts_event >= since_ns)
            and (until_ns is None or s.prediction.ts_event < until_ns)
            and (resolved is None or (s.outcome is not None) is resolved)
            and (start is None or _key(s) > start)
        ]
        found.sort(key=_key)
        return v.make_page(found, limit, _key)


class InMemoryJobRuns:
    """``JobRunStore`` in a dict; ``InMemoryStore`` provides the lock and the dict."""

    _lock: threading.Lock
    _job_runs: dict[tuple[str, int], JobRun]

    def claim_job_run(self, job: str, slot_ns: int, *, owner: str, now_ns: int) -> bool:
        """Claim ``(job, slot_ns)``; True if this call claimed it, False if it was taken."""
        jobs.check_claim(job, slot_ns, owner, now_ns)
        with self._lock:
            if (job, slot_ns) in self._job_runs:
                return False
            self._job_runs[job, slot_ns] = JobRun(
                job=job,
                slot_ns=slot_ns,
                owner=owner,
                status=JobRunStatus.RUNNING,
                started_ns=now_ns,
            )
            return True

    def finish_job_run(
        self, job: str, slot_ns: int, *, status: JobRunStatus, now_ns: int, detail: str = ""
    ) -> JobRun:
        """Record how a claimed run ended; raise NotFoundError if it was never claimed."""
        jobs.check_finish(job, slot_ns, status, now_ns, detail)
        with self._lock:
            run = self._job_runs.get((job, slot_ns))
            if run is None:
                raise jobs.never_claimed(job, slot_ns)
            ended = jobs.finished(run, status, now_ns, detail)
            if ended is None:
                return run
            self._job_runs[job, slot_ns] = ended
            return ended

    def last_job_run(self, job: str) -> JobRun | None:
        """Return the run of ``job`` with the latest slot, or None if it never ran."""
        v.check_id("job run", "job", job)
        with self._lock:
            runs = [run for (name, _), run in self._job_runs.items() if name == job]
        return max(runs, key=lambda run: run.slot_ns, default=None)

    def list_job_runs(self, job: str | None = None, *, limit: int = 100) -> list[JobRun]:
        """Return runs, latest slot first (then by job), of one job or of all."""
        if job is not None:
            v.check_id("job run", "job", job)
        v.check_limit(limit)
        with self._lock:
            runs = [run for run in self._job_runs.values() if job is None or run.job == job]
        runs.sort(key=lambda run: (-run.slot_ns, run.job))
        return runs[:limit]


def _key(stored: StoredPrediction) -> tuple[int, str]:
    return stored.prediction.ts_event, stored.prediction.prediction_id
