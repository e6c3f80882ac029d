"""The port for logged predictions and their outcomes (ML-6)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from quantgrid.adapters.storage._records import Page, StoredPrediction
from quantgrid.ml._predictions import Prediction, PredictionOutcome


class PredictionStore(Protocol):
    """Predictions as a model made them, and the outcome the evaluator found for each.

    Notes
    -----
    Writes are atomic batches: a refused item stores nothing of its batch. Predictions
    are keyed by ``prediction_id``: the same prediction again is stored once, and the
    same id with other fields raises ``ConflictError`` naming the fields. Each prediction
    gets at most one outcome, the same way: the same outcome again changes nothing, a
    different one raises ``ConflictError``, and one for a prediction not stored raises
    ``NotFoundError``. A prediction is due from ``due_time_ns(prediction)``, the earliest
    time it could resolve (``quantgrid.ml``), until its outcome is stored.
    """

    def save_predictions(self, predictions: Iterable[Prediction]) -> int:
        """Store a batch of predictions; return how many were not stored before."""
        ...

    def get_prediction(self, prediction_id: str) -> StoredPrediction | None:
        """Return the prediction ``prediction_id`` with its outcome, or ``None``."""
        ...

    def due_predictions(
        self, now_ns: int, *, limit: int = 100, after: str | None = None
    ) -> Page[Prediction]:
        """Return predictions without an outcome, due at ``now_ns``, oldest due first.

        Pass ``next_cursor`` back as ``after`` to go on past predictions the evaluator
        could not resolve yet (they stay due, and would fill every first page).
        """
        ...

    def save_outcomes(self, outcomes: Iterable[PredictionOutcome]) -> int:
        """Store a batch of outcomes of stored predictions; return how many were new."""
        ...

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
        """Return predictions with their outcomes, by ``ts_event`` then id, filtered.

        ``[since_ns, until_ns)`` bounds ``ts_event``; ``resolved`` keeps those with an
        outcome (True) or without one (False).
        """
        ...
