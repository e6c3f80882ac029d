"""What the model server answers, and a loaded model version ready to predict."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from quantgrid.ml import Direction, ModelVersionInfo
from quantgrid.services.ml._errors import InvalidFeaturesError

if TYPE_CHECKING:  # scikit-learn and LightGBM load with the first model, not at import
    from quantgrid.ml import TrainedModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Registered model names, as the registries accept them.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"

# Direction labels of the training labels: down, flat, up.
_DIRECTIONS = {-1: Direction.SELL, 0: Direction.HOLD, 1: Direction.BUY}


@dataclass(frozen=True, slots=True)
class ServedPrediction:
    """One prediction of a served model version.

    Attributes
    ----------
    model, version
        The registered model and the version that made the prediction.
    direction
        The most probable direction (BUY up, SELL down, HOLD flat).
    confidence
        Its probability, in [0, 1].
    probabilities
        The probability of each direction the model knows (its classes); they sum to 1.
    feature_names
        The features the model used, in its column order.
    ts_event
        When the prediction was made, UTC ns.

    Notes
    -----
    Ties go to the first direction in label order (SELL, HOLD, BUY), as
    `TrainedModel.predict` breaks them.
    """

    model: str
    version: int
    direction: Direction
    confidence: float
    probabilities: Mapping[Direction, float]
    feature_names: tuple[str, ...]
    ts_event: int


@dataclass(frozen=True, slots=True, eq=False)
class ServedBatch:
    """Predictions of one model version for many rows, in the rows' order.

    Attributes
    ----------
    model, version
        The version that made every prediction of the batch.
    feature_names
        The features it used, in its column order.
    ts_event
        When the batch was predicted, UTC ns.
    columns
        The direction of each column of ``probabilities`` (the model's classes).
    probabilities
        Shape ``(n_rows, n_columns)``; each row sums to 1. Read-only.
    choice
        Shape ``(n_rows,)``: the column of each row's most probable direction.

    Notes
    -----
    Indexing or iterating gives each row as a `ServedPrediction`.
    """

    model: str
    version: int
    feature_names: tuple[str, ...]
    ts_event: int
    columns: tuple[Direction, ...]
    probabilities: FloatArray
    choice: IntArray

    def __len__(self) -> int:
        return int(self.choice.shape[0])

    def __getitem__(self, index: int) -> ServedPrediction:
        row = self.probabilities[index].tolist()
        best = int(self.choice[index])
        return ServedPrediction(
            self.model,
            self.version,
            self.columns[best],
            row[best],
            dict(zip(self.columns, row, strict=True)),
            self.feature_names,
            self.ts_event,
        )

    def __iter__(self) -> Iterator[ServedPrediction]:
        return (self[i] for i in range(len(self)))

    @property
    def directions(self) -> tuple[Direction, ...]:
        """The predicted direction of each row."""
        columns = self.columns
        return tuple(columns[c] for c in self.choice.tolist())

    @property
    def confidences(self) -> FloatArray:
        """The probability of each row's predicted direction."""
        rows = np.arange(len(self))
        confidences: FloatArray = self.probabilities[rows, self.choice]
        return confidences


@dataclass(frozen=True, slots=True)
class ServedModelStatus:
    """How a model is being served: its loaded version and its last reload.

    Attributes
    ----------
    name
        The registered model.
    version
        The version being served; None if none is loaded.
    production_version
        The version the registry had in production when last asked; None if none.
    loaded_at_ns
        When the served version was loaded, UTC ns.
    feature_set_name
        The feature set the served version was trained on ("" if not recorded).
    feature_names, classes
        Its feature columns and class labels.
    reloads, reload_failures
        Versions loaded (the first one included) and loads that failed, since start.
    last_error, last_error_at_ns
        The latest failure to read or load the model, and when; None once a load of
        the production version succeeds.
    failed_version
        The version whose load failed, if the failure was a load.
    """

    name: str
    version: int | None
    production_version: int | None
    loaded_at_ns: int | None
    feature_set_name: str
    feature_names: tuple[str, ...]
    classes: tuple[int, ...]
    reloads: int
    reload_failures: int
    last_error: str | None
    last_error_at_ns: int | None
    failed_version: int | None


def directions_of(classes: Sequence[int]) -> tuple[Direction, ...]:
    """Return the direction of each class label.

    Raises
    ------
    ValueError
        Unless the labels are at least two of -1 (SELL), 0 (HOLD) and 1 (BUY).
    """
    if len(classes) < 2 or not set(classes) <= _DIRECTIONS.keys():
        msg = f"classes must be two or three of -1, 0 and 1 (direction labels), got {classes}"
        raise ValueError(msg)
    return tuple(_DIRECTIONS[label] for label in classes)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class LoadedModel:
    """A model version in memory, with what serving it needs precomputed.

    Immutable once built: the server swaps whole instances, so a prediction that has
    one sees a consistent version from start to end.

    Raises
    ------
    ValueError
        If the model's classes are not direction labels or its feature names repeat.
    """

    __slots__ = (
        "classes",
        "directions",
        "feature_names",
        "feature_set_name",
        "info",
        "key",
        "loaded_at_ns",
        "model",
        "n_features",
        "name",
        "version",
    )

    def __init__(self, info: ModelVersionInfo, model: TrainedModel, loaded_at_ns: int) -> None:
        self.directions = directions_of(model.classes)
        names = model.feature_names
        if len(set(names)) != len(names):
            msg = f"model {info.name!r} version {info.version} repeats feature names: {names}"
            raise ValueError(msg)
        self.info = info
        self.model = model
        self.name = info.name
        self.version = info.version
        self.key = (info.name, info.version)
        self.classes = model.classes
        self.feature_names = names
        self.n_features = len(names)
        self.feature_set_name = info.feature_set_name
        self.loaded_at_ns = loaded_at_ns

    def predict(self, features: Mapping[str, float], ts_event: int) -> ServedPrediction:
        """Return the prediction of one row of features by name.

        Raises
        ------
        InvalidFeaturesError
            If a feature is missing, unexpected or not finite.
        """
        names = self.feature_names
        try:
            values = [features[name] for name in names]
            row = np.array(values, dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise self._invalid(features) from None
        if len(features) != self.n_features or not np.isfinite(row).all():
            raise self._invalid(features)
        proba = self.model.predict_one(row).tolist()
        best = proba.index(max(proba))  # the first maximum, as argmax
        directions = self.directions
        return ServedPrediction(
            self.name,
            self.version,
            directions[best],
            proba[best],
            dict(zip(directions, proba, strict=True)),
            names,
            ts_event,
        )

    def predict_batch(self, rows: Sequence[Mapping[str, float]], ts_event: int) -> ServedBatch:
        """Return the predictions of many rows at once, with one model call.

        Raises
        ------
        InvalidFeaturesError
            Naming the first bad row and what is wrong with it, and counting the others.
        ValueError
            If ``rows`` is empty.
        """
        if len(rows) == 0:
            msg = "rows must hold at least one row of features"
            raise ValueError(msg)
        names, n = self.feature_names, self.n_features
        try:
            matrix = np.array([[row[name] for name in names] for row in rows], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise self._invalid_batch(rows) from None
        if any(len(row) != n for row in rows) or not np.isfinite(matrix).all():
            raise self._invalid_batch(rows)
        proba = self.model.predict_proba(matrix)
        proba.flags.writeable = False
        choice = proba.argmax(axis=1)
        choice.flags.writeable = False
        return ServedBatch(self.name, self.version, names, ts_event, self.directions, proba, choice)

    def _problems(self, features: Mapping[str, float]) -> InvalidFeaturesError | None:
        # Not a mapping at all: every feature is missing.
        given = set(features) if isinstance(features, Mapping) else set()
        missing = [name for name in self.feature_names if name not in given]
        unexpected = sorted(map(str, given.difference(self.feature_names)))
        non_finite = [
            name for name in self.feature_names if name in given and not _finite(features[name])
        ]
        if not (missing or unexpected or non_finite):
            return None
        return InvalidFeaturesError(
            self.name, self.version, missing=missing, unexpected=unexpected, non_finite=non_finite
        )

    def _invalid(self, features: Mapping[str, float]) -> InvalidFeaturesError:
        error = self._problems(features)
        if error is None:  # pragma: no cover - every caller found a fault first
            return InvalidFeaturesError(self.name, self.version)
        return error

    def _invalid_batch(self, rows: Sequence[Mapping[str, float]]) -> InvalidFeaturesError:
        bad = [(i, error) for i, row in enumerate(rows) if (error := self._problems(row))]
        if not bad:  # pragma: no cover - every caller found a fault first
            return InvalidFeaturesError(self.name, self.version, row=0)
        first, error = bad[0]
        return InvalidFeaturesError(
            self.name,
            self.version,
            missing=error.missing,
            unexpected=error.unexpected,
            non_finite=error.non_finite,
            row=first,
            bad_rows=len(bad),
        )
