"""Predictions and their outcomes in SQL (mixed into ``SqlStore``)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection, RowMapping
from sqlalchemy.dialects import postgresql, sqlite

from quantgrid.adapters.storage import _engine as eng
from quantgrid.adapters.storage import _prediction_rules as rules
from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._records import Page, StoredPrediction
from quantgrid.adapters.storage._tables import predictions
from quantgrid.ml._predictions import (
    Direction,
    Horizon,
    HorizonKind,
    OutcomeStatus,
    Prediction,
    PredictionOutcome,
    UnresolvableReason,
)

PENDING = "pending"
_CHUNK = 500  # ids per IN (...): far below SQLite's and PostgreSQL's parameter limits
_OUTCOME_COLUMNS = (
    "outcome_status",
    "reason",
    "detail",
    "ts_entry",
    "entry_price",
    "ts_exit",
    "exit_price",
    "realized_return",
    "prior_return",
    "hit",
    "ts_resolved",
)
# Outcomes are written by one executemany of this statement, its values as parameters
# (``new_*``, since a column's own name is reserved for it).
_RESOLVE = (
    sa.update(predictions)
    .where(
        predictions.c.prediction_id == sa.bindparam("of_prediction_id"),
        predictions.c.outcome_status == PENDING,
    )
    .values({name: sa.bindparam(f"new_{name}") for name in _OUTCOME_COLUMNS})
)


class SqlPredictions:
    """``PredictionStore`` on the ``predictions`` table; ``SqlStore`` provides connections."""

    if TYPE_CHECKING:

        def _connection(
            self, *, write: bool, check_schema: bool = True
        ) -> AbstractContextManager[Connection]: ...

    def save_predictions(self, predictions: Iterable[Prediction]) -> int:
        """Store a batch of predictions; return how many were not stored before."""
        batch = rules.prepare_predictions(predictions)
        if not batch:
            return 0
        with self._connection(write=True) as conn:
            stored_ids: set[str] = set()
            for stored in _stored(conn, list(batch)):
                rules.check_same_prediction(stored.prediction, batch[_pid(stored)][0])
                stored_ids.add(_pid(stored))
            # In id order, like the locks of save_outcomes: two batches inserting the
            # same new ids wait on each other's in one order, never in a cycle.
            new = [_prediction_row(*batch[pid]) for pid in sorted(batch) if pid not in stored_ids]
            if not new:
                return 0
            inserted = {row[0] for row in conn.execute(_insert_new(conn.dialect.name), new)}
            # Rows this transaction did not insert were stored by one that committed
            # between the read and the insert: they must be the same predictions too.
            raced = [row["prediction_id"] for row in new if row["prediction_id"] not in inserted]
            for stored in _stored(conn, raced):
                rules.check_same_prediction(stored.prediction, batch[_pid(stored)][0])
            return len(inserted)

    def get_prediction(self, prediction_id: str) -> StoredPrediction | None:
        """Return the prediction ``prediction_id`` with its outcome, or ``None``."""
        with self._connection(write=False) as conn:
            found = list(_stored(conn, [prediction_id]))
        return found[0] if found else None

    def due_predictions(
        self, now_ns: int, *, limit: int = 100, after: str | None = None
    ) -> Page[Prediction]:
        """Return predictions without an outcome, due at ``now_ns``, oldest due first."""
        v.check_ts("listing", "now_ns", now_ns)
        v.check_limit(limit)
        start = v.parse_cursor(after)
        due, pid = predictions.c.due_ns, predictions.c.prediction_id
        query = sa.select(predictions).where(predictions.c.outcome_status == PENDING, due <= now_ns)
        query = eng.after(query, due, pid, start).order_by(due, pid).limit(limit + 1)
        with self._connection(write=False) as conn:
            found = [
                (int(row["due_ns"]), _prediction(row)) for row in conn.execute(query).mappings()
            ]
        page = v.make_page(found, limit, lambda item: (item[0], item[1].prediction_id))
        return Page(tuple(p for _, p in page.items), page.next_cursor)

    def save_outcomes(self, outcomes: Iterable[PredictionOutcome]) -> int:
        """Store a batch of outcomes of stored predictions; return how many were new."""
        batch = rules.prepare_outcomes(outcomes)
        if not batch:
            return 0
        with self._connection(write=True) as conn:
            # Locked (PostgreSQL; SQLite's writer holds the database): a concurrent
            # batch waits, then reads these rows resolved and compares.
            stored = {_pid(s): s for s in _stored(conn, list(batch), lock=True)}
            missing = [pid for pid in batch if pid not in stored]
            if missing:
                raise rules.not_stored(missing)
            new = []
            for pid, outcome in batch.items():
                earlier = stored[pid].outcome
                if earlier is None:
                    new.append(_outcome_params(outcome))
                else:
                    rules.check_same_outcome(earlier, outcome)
            if new:
                conn.execute(_RESOLVE, new)
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
        c = predictions.c
        query = sa.select(predictions)
        if model_name is not None:
            query = query.where(c.model_name == model_name)
        if model_version is not None:
            query = query.where(c.model_version == model_version)
        if instrument_id is not None:
            query = query.where(c.instrument_id == instrument_id)
        if resolved is not None:
            query = query.where(
                (c.outcome_status != PENDING) if resolved else (c.outcome_status == PENDING)
            )
        query = eng.keyset(query, c.ts_event, c.prediction_id, since_ns, until_ns)
        query = eng.after(query, c.ts_event, c.prediction_id, start)
        with self._connection(write=False) as conn:
            found = [_stored_prediction(r) for r in conn.execute(query.limit(limit + 1)).mappings()]
        return v.make_page(
            found, limit, lambda s: (s.prediction.ts_event, s.prediction.prediction_id)
        )


def _stored(conn: Connection, ids: Sequence[str], lock: bool = False) -> Iterator[StoredPrediction]:
    # In id order: concurrent batches lock shared rows in one order, so never deadlock.
    ordered = sorted(ids)
    for k in range(0, len(ordered), _CHUNK):
        chunk = ordered[k : k + _CHUNK]
        query = (
            sa.select(predictions)
            .where(predictions.c.prediction_id.in_(chunk))
            .order_by(predictions.c.prediction_id)
        )
        for row in conn.execute(query.with_for_update() if lock else query).mappings():
            yield _stored_prediction(row)


@functools.cache
def _insert_new(dialect: str) -> Any:
    insert = (
        postgresql.insert(predictions) if dialect == "postgresql" else sqlite.insert(predictions)
    )
    return insert.on_conflict_do_nothing(index_elements=["prediction_id"]).returning(
        predictions.c.prediction_id
    )


def _pid(stored: StoredPrediction) -> str:
    return stored.prediction.prediction_id


def _prediction_row(p: Prediction, due_ns: int) -> dict[str, Any]:
    probabilities = p.probabilities
    return {
        "prediction_id": p.prediction_id,
        "model_name": p.model_name,
        "model_version": p.model_version,
        "instrument_id": p.instrument_id,
        "strategy_id": p.strategy_id,
        "ts_event": p.ts_event,
        "direction": p.direction.value,
        "confidence": float(p.confidence),
        "horizon_kind": p.horizon.kind.value,
        "horizon_value": p.horizon.value,
        "exchange_tz": p.exchange_tz,
        "feature_snapshot": _json(p.feature_snapshot),
        "probabilities": None
        if probabilities is None
        else _json({d.value: x for d, x in probabilities.items()}),
        "due_ns": due_ns,
        "outcome_status": PENDING,
    }


def _json(values: dict[str, float]) -> str:
    # Sorted keys: the same dict is always the same text. Floats in shortest form,
    # which reads back to the same double.
    return msgspec.json.encode(values, order="sorted").decode()


def _outcome_params(o: PredictionOutcome) -> dict[str, Any]:
    values: dict[str, Any] = {
        "outcome_status": o.status.value,
        "reason": None if o.reason is None else o.reason.value,
        "detail": o.detail,
        "ts_entry": o.ts_entry,
        "entry_price": _opt_float(o.entry_price),
        "ts_exit": o.ts_exit,
        "exit_price": _opt_float(o.exit_price),
        "realized_return": _opt_float(o.realized_return),
        "prior_return": _opt_float(o.prior_return),
        "hit": o.hit,
        "ts_resolved": o.ts_resolved,
    }
    params = {f"new_{name}": value for name, value in values.items()}
    params["of_prediction_id"] = o.prediction_id
    return params


def _opt_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _prediction(row: RowMapping) -> Prediction:
    probabilities = row["probabilities"]
    return Prediction(
        prediction_id=row["prediction_id"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        instrument_id=row["instrument_id"],
        ts_event=row["ts_event"],
        direction=Direction(row["direction"]),
        confidence=row["confidence"],
        horizon=Horizon(kind=HorizonKind(row["horizon_kind"]), value=row["horizon_value"]),
        exchange_tz=row["exchange_tz"],
        feature_snapshot=msgspec.json.decode(row["feature_snapshot"], type=dict[str, float]),
        probabilities=None
        if probabilities is None
        else msgspec.json.decode(probabilities, type=dict[Direction, float]),
        strategy_id=row["strategy_id"],
    )


def _stored_prediction(row: RowMapping) -> StoredPrediction:
    prediction = _prediction(row)
    if row["outcome_status"] == PENDING:
        return StoredPrediction(prediction=prediction)
    reason = row["reason"]
    outcome = PredictionOutcome(
        prediction_id=prediction.prediction_id,
        status=OutcomeStatus(row["outcome_status"]),
        ts_resolved=row["ts_resolved"],
        reason=None if reason is None else UnresolvableReason(reason),
        detail=row["detail"],
        ts_entry=row["ts_entry"],
        entry_price=row["entry_price"],
        ts_exit=row["ts_exit"],
        exit_price=row["exit_price"],
        realized_return=row["realized_return"],
        prior_return=row["prior_return"],
        hit=None if row["hit"] is None else bool(row["hit"]),
    )
    return StoredPrediction(prediction=prediction, outcome=outcome)
