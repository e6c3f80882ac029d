"""The rules every prediction store checks before it writes, shared by the fake and SQL.

Each check runs before anything is written, so a refused batch leaves the store as it
was; errors name the record, the field and the rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._errors import NotFoundError
from quantgrid.ml._evaluation import due_time_ns
from quantgrid.ml._predictions import (
    InvalidPredictionError,
    Prediction,
    PredictionOutcome,
    check_outcome,
    check_prediction,
)

TZ_MAX = 64


def prepare_predictions(predictions: Iterable[Prediction]) -> dict[str, tuple[Prediction, int]]:
    """Return the batch by id, each with its due time; raise on a bad or clashing one.

    The same prediction twice in a batch counts once; the same id with other fields
    raises ``ConflictError``.
    """
    batch: dict[str, tuple[Prediction, int]] = {}
    for prediction in _items("predictions", predictions):
        if not isinstance(prediction, Prediction):
            got = type(prediction).__name__
            raise v.fail("predictions", f"each item must be a Prediction, got {got}")
        try:
            check_prediction(prediction)  # again: its dicts may have changed since
        except InvalidPredictionError as exc:
            raise v.fail("predictions", str(exc)) from None
        pid = prediction.prediction_id
        if len(prediction.exchange_tz) > TZ_MAX:
            raise v.fail(f"prediction {pid}", f"exchange_tz must be at most {TZ_MAX} characters")
        earlier = batch.get(pid)
        if earlier is not None:
            check_same_prediction(earlier[0], prediction)
            continue
        batch[pid] = (prediction, due_time_ns(prediction))
    return batch


def prepare_outcomes(outcomes: Iterable[PredictionOutcome]) -> dict[str, PredictionOutcome]:
    """Return the batch by prediction id; raise on a bad or clashing outcome."""
    batch: dict[str, PredictionOutcome] = {}
    for outcome in _items("outcomes", outcomes):
        if not isinstance(outcome, PredictionOutcome):
            got = type(outcome).__name__
            raise v.fail("outcomes", f"each item must be a PredictionOutcome, got {got}")
        try:
            check_outcome(outcome)
        except InvalidPredictionError as exc:
            raise v.fail("outcomes", str(exc)) from None
        earlier = batch.get(outcome.prediction_id)
        if earlier is not None:
            check_same_outcome(earlier, outcome)
            continue
        batch[outcome.prediction_id] = outcome
    return batch


def check_same_prediction(stored: Prediction, given: Prediction) -> None:
    """Raise ``ConflictError`` unless ``given`` is the prediction stored under its id."""
    if stored != given:
        raise v.conflict(f"prediction {given.prediction_id}", stored, given)


def check_same_outcome(stored: PredictionOutcome, given: PredictionOutcome) -> None:
    """Raise ``ConflictError`` unless ``given`` is the outcome stored for its prediction."""
    if stored != given:
        raise v.conflict(f"outcome of prediction {given.prediction_id}", stored, given)


def not_stored(missing: list[str]) -> NotFoundError:
    """Return the error for outcomes of predictions that are not stored."""
    shown = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
    return NotFoundError(f"outcomes: prediction {shown} is not stored ({len(missing)} in all)")


def check_listing(
    model_name: str | None,
    model_version: int | None,
    instrument_id: str | None,
    resolved: bool | None,
) -> None:
    """Check the filters of a prediction listing."""
    if model_name is not None:
        v.check_id("listing", "model_name", model_name)
    if model_version is not None and (
        isinstance(model_version, bool) or not isinstance(model_version, int) or model_version < 0
    ):
        raise v.fail("listing", f"model_version must be an integer >= 0, got {model_version!r}")
    if instrument_id is not None:
        v.check_id("listing", "instrument_id", instrument_id)
    if resolved is not None:
        v.check_bool("listing", "resolved", resolved)


def _items(name: str, items: object) -> list[object]:
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise v.fail(name, f"must be an iterable of records, got {type(items).__name__}")
    return list(items)
