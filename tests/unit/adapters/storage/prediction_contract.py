"""The contracts of the prediction and job-run ports, run against every store.

A test class per store subclasses ``PredictionStoreContract`` and ``JobRunStoreContract``
and provides a ``store`` fixture (a fresh, migrated store): ``InMemoryStore`` here,
``SqliteStore`` and ``PostgresStore`` in ``tests/integration/storage``.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.adapters.storage import (
    ConflictError,
    InvalidRecordError,
    JobRun,
    JobRunStatus,
    JobRunStore,
    NotFoundError,
    PredictionStore,
    StoredPrediction,
    TransitionError,
)
from quantgrid.core import dt_to_ns
from quantgrid.ml._evaluation import due_time_ns
from quantgrid.ml._predictions import (
    Direction,
    Horizon,
    OutcomeStatus,
    Prediction,
    PredictionOutcome,
    UnresolvableReason,
)
from tests.unit.adapters.storage.contract import _ONE_STORE_MANY_EXAMPLES

T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000_000_000
HOUR = 60 * MINUTE


def make_prediction(pid: str = "p-1", **changes: Any) -> Prediction:
    fields: dict[str, Any] = {
        "prediction_id": pid,
        "model_name": "direction-lgbm",
        "model_version": 3,
        "instrument_id": "AAPL",
        "ts_event": T0,
        "direction": Direction.BUY,
        "confidence": 0.1 + 0.2,  # 0.30000000000000004: must read back exactly
        "horizon": Horizon.of_duration(HOUR),
        "exchange_tz": "America/New_York",
        "feature_snapshot": {"rsi_14": 61.5, "log_return_5": -0.0031, "tiny": 5e-324},
        "probabilities": {Direction.BUY: 0.6, Direction.SELL: 0.3, Direction.HOLD: 0.1},
        "strategy_id": "ml-1",
    }
    fields.update(changes)
    return Prediction(**fields)


def resolved(pid: str = "p-1", **changes: Any) -> PredictionOutcome:
    fields: dict[str, Any] = {
        "prediction_id": pid,
        "status": OutcomeStatus.RESOLVED,
        "ts_resolved": T0 + 2 * HOUR,
        "ts_entry": T0,
        "entry_price": 187.25,
        "ts_exit": T0 + HOUR,
        "exit_price": 188.1,
        "realized_return": math.log(188.1 / 187.25),
        "prior_return": -0.1 / 3,
        "hit": True,
    }
    fields.update(changes)
    return PredictionOutcome(**fields)


def unresolvable(pid: str = "p-1") -> PredictionOutcome:
    return PredictionOutcome(
        prediction_id=pid,
        status=OutcomeStatus.UNRESOLVABLE,
        ts_resolved=T0 + 20 * 24 * HOUR,
        reason=UnresolvableReason.DATA_ENDS,
        detail="data ends before the horizon: no bar for 12.0 days",
        ts_entry=T0,
        entry_price=187.25,
    )


def ids(page: Any) -> list[str]:
    return [
        (item.prediction if isinstance(item, StoredPrediction) else item).prediction_id
        for item in page.items
    ]


class PredictionStoreContract:
    """What every ``PredictionStore`` does; subclasses provide the ``store`` fixture."""

    def test_a_saved_prediction_reads_back_exactly(self, store: PredictionStore):
        minimal = make_prediction(
            "p-2", feature_snapshot={}, probabilities=None, strategy_id=None, model_version=0
        )
        assert store.save_predictions([make_prediction(), minimal]) == 2
        assert store.get_prediction("p-1") == StoredPrediction(prediction=make_prediction())
        stored = store.get_prediction("p-2")
        assert stored is not None
        assert stored.prediction == minimal
        assert stored.outcome is None
        assert store.get_prediction("nope") is None

    def test_saving_the_same_predictions_again_changes_nothing(self, store: PredictionStore):
        assert store.save_predictions([make_prediction("p-1"), make_prediction("p-2")]) == 2
        assert store.save_predictions([make_prediction("p-2"), make_prediction("p-3")]) == 1
        assert store.save_predictions([make_prediction("p-1"), make_prediction("p-1")]) == 0
        assert store.save_predictions([]) == 0
        assert ids(store.list_predictions()) == ["p-1", "p-2", "p-3"]

    def test_an_id_with_other_fields_is_a_conflict_and_stores_nothing_of_the_batch(
        self, store: PredictionStore
    ):
        store.save_predictions([make_prediction("p-1")])
        batch = [make_prediction("p-0"), make_prediction("p-1", confidence=0.9)]
        with pytest.raises(
            ConflictError, match=r"prediction p-1 .*confidence: stored 0.3.*given 0.9"
        ):
            store.save_predictions(batch)
        assert store.get_prediction("p-0") is None
        stored = store.get_prediction("p-1")
        assert stored is not None
        assert stored.prediction == make_prediction("p-1")

    def test_a_clash_inside_one_batch_is_a_conflict(self, store: PredictionStore):
        batch = [make_prediction("p-1"), make_prediction("p-1", direction=Direction.SELL)]
        with pytest.raises(
            ConflictError, match=r"prediction p-1 .*direction: stored buy, given sell"
        ):
            store.save_predictions(batch)
        assert store.get_prediction("p-1") is None

    def test_a_bad_prediction_is_refused_and_stores_nothing(self, store: PredictionStore):
        changed = make_prediction("p-2")
        changed.feature_snapshot["rsi_14"] = math.nan  # the dict changed after it was built
        with pytest.raises(
            InvalidRecordError, match=r"prediction p-2: feature_snapshot\['rsi_14'\]"
        ):
            store.save_predictions([make_prediction("p-1"), changed])
        with pytest.raises(InvalidRecordError, match="each item must be a Prediction, got dict"):
            store.save_predictions([{"prediction_id": "p-3"}])  # type: ignore[list-item]
        with pytest.raises(InvalidRecordError, match="predictions: must be an iterable"):
            store.save_predictions(make_prediction())  # type: ignore[arg-type]
        long_tz = make_prediction("p-4", exchange_tz="America/Argentina/ComodRivadavia")
        assert store.save_predictions([long_tz]) == 1  # the longest IANA name fits
        assert store.get_prediction("p-1") is None

    def test_due_predictions_are_the_unresolved_ones_due_oldest_first(self, store: PredictionStore):
        store.save_predictions(
            [
                make_prediction("late", ts_event=T0 + 30 * MINUTE),
                make_prediction("b-early", ts_event=T0),
                make_prediction("a-early", ts_event=T0),
                make_prediction("bars", ts_event=T0 + 5 * MINUTE, horizon=Horizon.of_bars(3)),
            ]
        )
        assert ids(store.due_predictions(T0)) == []
        assert ids(store.due_predictions(T0 + 5 * MINUTE + 1)) == ["bars"]
        assert ids(store.due_predictions(T0 + HOUR)) == ["bars", "a-early", "b-early"]
        store.save_outcomes([resolved("a-early"), unresolvable("bars")])
        assert ids(store.due_predictions(T0 + 2 * HOUR)) == ["b-early", "late"]

    def test_a_session_prediction_is_due_at_the_local_midnight_bound(self, store: PredictionStore):
        ny = ZoneInfo("America/New_York")
        made = dt_to_ns(datetime(2024, 1, 2, 15, 55, tzinfo=ny))
        prediction = make_prediction(ts_event=made, horizon=Horizon.of_sessions(1))
        store.save_predictions([prediction])
        due = dt_to_ns(datetime.combine(date(2024, 1, 3), time(0), tzinfo=ny))
        assert due_time_ns(prediction) == due
        assert ids(store.due_predictions(due - 1)) == []
        assert ids(store.due_predictions(due)) == ["p-1"]

    def test_due_predictions_page_past_the_ones_that_stay_due(self, store: PredictionStore):
        store.save_predictions([make_prediction(f"p-{k}", ts_event=T0 + k // 2) for k in range(7)])
        seen: list[str] = []
        page = store.due_predictions(T0 + 2 * HOUR, limit=3)
        while True:
            seen += ids(page)
            if page.next_cursor is None:
                break
            page = store.due_predictions(T0 + 2 * HOUR, limit=3, after=page.next_cursor)
        assert seen == [f"p-{k}" for k in range(7)]

    def test_an_outcome_is_stored_once(self, store: PredictionStore):
        store.save_predictions([make_prediction("p-1"), make_prediction("p-2")])
        assert store.save_outcomes([resolved("p-1"), unresolvable("p-2")]) == 2
        assert store.save_outcomes([resolved("p-1")]) == 0
        assert store.get_prediction("p-1") == StoredPrediction(
            prediction=make_prediction("p-1"), outcome=resolved("p-1")
        )
        stored = store.get_prediction("p-2")
        assert stored is not None
        assert stored.outcome == unresolvable("p-2")

    def test_another_outcome_for_a_resolved_prediction_is_a_conflict(self, store: PredictionStore):
        store.save_predictions([make_prediction("p-1"), make_prediction("p-2")])
        store.save_outcomes([resolved("p-1")])
        with pytest.raises(
            ConflictError, match=r"outcome of prediction p-1 .*hit: stored True, given False"
        ):
            store.save_outcomes([resolved("p-2"), resolved("p-1", hit=False)])
        stored = store.get_prediction("p-2")
        assert stored is not None
        assert stored.outcome is None  # nothing of the batch

    def test_an_outcome_of_an_unknown_prediction_is_refused(self, store: PredictionStore):
        store.save_predictions([make_prediction("p-1")])
        with pytest.raises(
            NotFoundError, match=r"outcomes: prediction p-9 is not stored \(1 in all\)"
        ):
            store.save_outcomes([resolved("p-1"), resolved("p-9")])
        stored = store.get_prediction("p-1")
        assert stored is not None
        assert stored.outcome is None

    def test_a_bad_outcome_is_refused(self, store: PredictionStore):
        store.save_predictions([make_prediction("p-1")])
        with pytest.raises(InvalidRecordError, match="each item must be a PredictionOutcome"):
            store.save_outcomes([make_prediction("p-1")])  # type: ignore[list-item]
        with pytest.raises(ConflictError, match="outcome of prediction p-1"):
            store.save_outcomes([resolved("p-1"), resolved("p-1", exit_price=1.0)])

    def test_predictions_list_by_model_instrument_time_and_resolution(self, store: PredictionStore):
        store.save_predictions(
            [
                make_prediction("a", ts_event=T0, model_version=1),
                make_prediction("b", ts_event=T0 + 1, model_version=2, instrument_id="MSFT"),
                make_prediction("c", ts_event=T0 + 2, model_name="other"),
                make_prediction("d", ts_event=T0 + 3, model_version=2),
            ]
        )
        store.save_outcomes([resolved("b"), unresolvable("d")])
        assert ids(store.list_predictions()) == ["a", "b", "c", "d"]
        assert ids(store.list_predictions(model_name="direction-lgbm")) == ["a", "b", "d"]
        assert ids(store.list_predictions(model_name="direction-lgbm", model_version=2)) == [
            "b",
            "d",
        ]
        assert ids(store.list_predictions(instrument_id="MSFT")) == ["b"]
        assert ids(store.list_predictions(since_ns=T0 + 1, until_ns=T0 + 3)) == ["b", "c"]
        assert ids(store.list_predictions(resolved=True)) == ["b", "d"]
        assert ids(store.list_predictions(resolved=False)) == ["a", "c"]
        page = store.list_predictions(resolved=True)
        assert [s.outcome for s in page.items] == [resolved("b"), unresolvable("d")]

    def test_prediction_pages_cover_every_prediction_once(self, store: PredictionStore):
        store.save_predictions([make_prediction(f"p-{k}", ts_event=T0 + k // 3) for k in range(8)])
        seen: list[str] = []
        page = store.list_predictions(limit=3)
        while True:
            seen += ids(page)
            if page.next_cursor is None:
                break
            page = store.list_predictions(limit=3, after=page.next_cursor)
        assert seen == [f"p-{k}" for k in range(8)]

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"limit": 0}, "limit must be an integer from 1 to 1000"),
            ({"after": "nope"}, "after must be a next_cursor"),
            ({"model_version": -1}, "model_version must be an integer >= 0"),
            ({"resolved": "yes"}, "resolved must be True or False"),
            ({"instrument_id": "A B"}, "instrument_id must be 1 to 128"),
            ({"since_ns": -1}, "since_ns must be integer nanoseconds"),
        ],
    )
    def test_a_bad_listing_is_refused(
        self, store: PredictionStore, kwargs: dict[str, Any], pattern: str
    ):
        with pytest.raises(InvalidRecordError, match=pattern):
            store.list_predictions(**kwargs)

    def test_a_bad_due_query_is_refused(self, store: PredictionStore):
        with pytest.raises(InvalidRecordError, match="now_ns must be integer nanoseconds"):
            store.due_predictions(-1)
        with pytest.raises(InvalidRecordError, match="limit must be an integer"):
            store.due_predictions(T0, limit=5000)

    @settings(_ONE_STORE_MANY_EXAMPLES, max_examples=25)
    @given(
        confidence=st.floats(0.0, 1.0),
        features=st.dictionaries(
            st.text(min_size=1, max_size=10).filter(lambda s: "\x00" not in s),
            st.floats(allow_nan=False, allow_infinity=False),
            max_size=6,
        ),
        realized=st.floats(-5.0, 5.0),
    )
    def test_floats_read_back_bit_for_bit(
        self,
        store: PredictionStore,
        confidence: float,
        features: dict[str, float],
        realized: float,
    ):
        pid = f"h-{uuid4().hex}"  # examples share the store: each has its own id
        prediction = make_prediction(pid, confidence=confidence, feature_snapshot=features)
        outcome = resolved(pid, realized_return=realized, exit_price=187.25 * math.exp(realized))
        store.save_predictions([prediction])
        store.save_outcomes([outcome])
        assert store.get_prediction(pid) == StoredPrediction(prediction=prediction, outcome=outcome)


class JobRunStoreContract:
    """What every ``JobRunStore`` does; subclasses provide the ``store`` fixture."""

    def test_a_slot_is_claimed_once_and_stays_claimed(self, store: JobRunStore):
        assert store.claim_job_run("evaluate", T0, owner="host-1", now_ns=T0 + 5) is True
        assert store.claim_job_run("evaluate", T0, owner="host-2", now_ns=T0 + 6) is False
        assert store.claim_job_run("evaluate", T0 + HOUR, owner="host-2", now_ns=T0 + 7) is True
        assert store.claim_job_run("predict", T0, owner="sched@host-2 pid 7", now_ns=T0 + 8)
        last_predict = store.last_job_run("predict")
        assert last_predict is not None
        assert last_predict.owner == "sched@host-2 pid 7"
        store.finish_job_run("evaluate", T0, status=JobRunStatus.FAILED, now_ns=T0 + 9)
        assert store.claim_job_run("evaluate", T0, owner="host-1", now_ns=T0 + 10) is False
        assert store.last_job_run("evaluate") == JobRun(
            job="evaluate",
            slot_ns=T0 + HOUR,
            owner="host-2",
            status=JobRunStatus.RUNNING,
            started_ns=T0 + 7,
        )

    def test_finishing_records_how_the_run_ended(self, store: JobRunStore):
        store.claim_job_run("evaluate", T0, owner="host-1", now_ns=T0 + 5)
        run = store.finish_job_run(
            "evaluate", T0, status=JobRunStatus.SUCCEEDED, now_ns=T0 + 50, detail="12 resolved"
        )
        expected = JobRun(
            job="evaluate",
            slot_ns=T0,
            owner="host-1",
            status=JobRunStatus.SUCCEEDED,
            started_ns=T0 + 5,
            finished_ns=T0 + 50,
            detail="12 resolved",
        )
        assert run == expected
        assert store.last_job_run("evaluate") == expected
        again = store.finish_job_run(
            "evaluate", T0, status=JobRunStatus.SUCCEEDED, now_ns=T0 + 99, detail="12 resolved"
        )
        assert again == expected  # a repeat changes nothing, not even the time

    def test_a_run_ends_once(self, store: JobRunStore):
        store.claim_job_run("evaluate", T0, owner="host-1", now_ns=T0)
        store.finish_job_run("evaluate", T0, status=JobRunStatus.ABANDONED, now_ns=T0 + 1)
        with pytest.raises(
            TransitionError, match=r"job run evaluate at \d+: already ended abandoned"
        ):
            store.finish_job_run("evaluate", T0, status=JobRunStatus.SUCCEEDED, now_ns=T0 + 2)
        last = store.last_job_run("evaluate")
        assert last is not None
        assert last.status is JobRunStatus.ABANDONED

    def test_finishing_an_unclaimed_run_is_refused(self, store: JobRunStore):
        with pytest.raises(NotFoundError, match=f"job run evaluate at {T0} was never claimed"):
            store.finish_job_run("evaluate", T0, status=JobRunStatus.FAILED, now_ns=T0)
        assert store.last_job_run("evaluate") is None

    def test_runs_list_latest_slot_first(self, store: JobRunStore):
        for job, slot in [("b", 2), ("a", 2), ("a", 1), ("b", 3), ("a", 0)]:
            store.claim_job_run(job, T0 + slot, owner="host-1", now_ns=T0)
        key = lambda runs: [(r.job, r.slot_ns - T0) for r in runs]  # noqa: E731
        assert key(store.list_job_runs()) == [("b", 3), ("a", 2), ("b", 2), ("a", 1), ("a", 0)]
        assert key(store.list_job_runs("a")) == [("a", 2), ("a", 1), ("a", 0)]
        assert key(store.list_job_runs(limit=2)) == [("b", 3), ("a", 2)]
        assert store.list_job_runs("never") == []

    @pytest.mark.parametrize(
        ("call", "pattern"),
        [
            (
                lambda s: s.claim_job_run("", T0, owner="h", now_ns=T0),
                "job run: job must be 1 to 128",
            ),
            (
                lambda s: s.claim_job_run("j", -1, owner="h", now_ns=T0),
                "job run j: slot_ns must be integer",
            ),
            (
                lambda s: s.claim_job_run("j", T0, owner=" ", now_ns=T0),
                "job run j: owner must be 1 to 128 characters, not all blank",
            ),
            (
                lambda s: s.claim_job_run("j", T0, owner="a\nb", now_ns=T0),
                "without control characters",
            ),
            (
                lambda s: s.claim_job_run("j", T0, owner="x" * 129, now_ns=T0),
                "job run j: owner must be 1 to 128",
            ),
            (
                lambda s: s.claim_job_run("j", T0, owner="h", now_ns=1.5),
                "job run j: now_ns must be integer",
            ),
            (
                lambda s: s.finish_job_run("j", T0, status=JobRunStatus.RUNNING, now_ns=T0),
                "status must be how the run ended",
            ),
            (
                lambda s: s.finish_job_run("j", T0, status="failed", now_ns=T0),
                "status must be one of running, succeeded, failed, abandoned",
            ),
            (
                lambda s: s.finish_job_run(
                    "j", T0, status=JobRunStatus.FAILED, now_ns=T0, detail="x" * 5000
                ),
                "detail must be a string of at most 4096 characters",
            ),
            (lambda s: s.list_job_runs(limit=0), "limit must be an integer from 1 to 1000"),
            (lambda s: s.last_job_run("a\tb"), "job run: job must be 1 to 128"),
        ],
    )
    def test_bad_arguments_are_refused(self, store: JobRunStore, call: Any, pattern: str):
        store.claim_job_run("j", T0, owner="h", now_ns=T0)
        with pytest.raises(InvalidRecordError, match=pattern):
            call(store)
        last = store.last_job_run("j")
        assert last is not None
        assert last.status is JobRunStatus.RUNNING
