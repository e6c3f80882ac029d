"""Model specifications, fitting, and the trained model that serving and the registry hold.

`ModelSpec` names an estimator and its parameters; `fit_model` turns it and data into a
`TrainedModel`, which predicts class probabilities from plain 2-D float arrays and
round-trips through bytes without the training data.
"""

from __future__ import annotations

import json
import math
import pickle
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

import lightgbm
import numpy as np
import numpy.typing as npt
import sklearn  # type: ignore[import-untyped,unused-ignore]
from lightgbm import LGBMClassifier
from scipy.special import expit  # type: ignore[import-untyped]  # scipy ships no stubs
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # type: ignore[import-untyped,unused-ignore]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped,unused-ignore]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped,unused-ignore]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped,unused-ignore]

ModelKind = Literal["lightgbm", "logistic", "random_forest", "hist_gradient_boosting"]
ClassWeight = Literal["balanced"] | None
ParamValue = str | int | float | bool | None
FloatArray = npt.NDArray[np.float64]
LabelArray = npt.NDArray[np.int64]

MODEL_KINDS: tuple[ModelKind, ...] = get_args(ModelKind)
# Direction labels: SELL/down, HOLD/flat, BUY/up.
DIRECTION_LABELS = (-1, 0, 1)

_ESTIMATORS: dict[ModelKind, type[Any]] = {
    "lightgbm": LGBMClassifier,
    "logistic": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}
# Modest defaults that a spec's params override. One thread: results do not depend on
# scheduling, and the machines this runs on are shared.
_DEFAULTS: dict[ModelKind, dict[str, ParamValue]] = {
    "lightgbm": {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_child_samples": 50,
        "n_jobs": 1,
    },
    "logistic": {"C": 1.0, "max_iter": 1000},
    "random_forest": {"n_estimators": 200, "min_samples_leaf": 20, "n_jobs": 1},
    # Its early stopping holds out a *random* validation share, which leaks across time.
    "hist_gradient_boosting": {
        "max_iter": 200,
        "learning_rate": 0.05,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 50,
        "early_stopping": False,
    },
}
# Set from the spec's own fields, so a params entry would contradict them.
_MANAGED = {"class_weight": "ModelSpec.class_weight", "random_state": "ModelSpec.seed"}

_MAGIC = b"QGMODEL\x01"
_HEADER_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What to train: an estimator kind, its parameters, class weights and a seed.

    Parameters
    ----------
    kind
        ``"lightgbm"`` (`lightgbm.LGBMClassifier`), ``"logistic"`` (standardised
        features then `~sklearn.linear_model.LogisticRegression`), ``"random_forest"``
        or ``"hist_gradient_boosting"`` (scikit-learn's).
    params
        Constructor arguments of that estimator (for ``"logistic"``, of the logistic
        regression), JSON scalars only; they override modest defaults.
    class_weight
        ``"balanced"`` (the default) weighs each class by the inverse of its frequency,
        so a rare BUY or SELL is not drowned by HOLD; ``None`` weighs samples equally.
    seed
        Seed of every random choice of the estimator.

    Raises
    ------
    ValueError
        If ``kind`` is unknown, a parameter is not one of the estimator's, is set by a
        field of the spec (``class_weight``, ``random_state``), or is not a JSON scalar.

    Notes
    -----
    LightGBM always runs with ``deterministic=True`` and row-wise histograms, so a spec
    and the data determine the model bit for bit.
    """

    kind: ModelKind
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    class_weight: ClassWeight = "balanced"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            msg = f"ModelSpec.kind must be one of {MODEL_KINDS}, got {self.kind!r}"
            raise ValueError(msg)
        if self.class_weight not in ("balanced", None):
            msg = f"ModelSpec.class_weight must be 'balanced' or None, got {self.class_weight!r}"
            raise ValueError(msg)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            msg = f"ModelSpec.seed must be a non-negative int, got {self.seed!r}"
            raise ValueError(msg)
        allowed = set(_ESTIMATORS[self.kind]().get_params()) - set(_MANAGED)
        for name, value in self.params.items():
            if name in _MANAGED:
                msg = f"ModelSpec.params[{name!r}] is not allowed: set {_MANAGED[name]} instead"
                raise ValueError(msg)
            if name not in allowed:
                msg = (
                    f"ModelSpec.params[{name!r}] is not a parameter of {self.kind!r}; "
                    f"valid ones: {sorted(allowed)}"
                )
                raise ValueError(msg)
            if value is not None and not isinstance(value, str | int | float | bool):
                msg = f"ModelSpec.params[{name!r}] must be a JSON scalar, got {value!r}"
                raise ValueError(msg)
            if isinstance(value, float) and not math.isfinite(value):
                msg = f"ModelSpec.params[{name!r}] must be finite, got {value}"
                raise ValueError(msg)
        # Frozen all the way down: the spec is hashed into lineage and shared.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def estimator_params(self) -> dict[str, Any]:
        """Return the estimator's constructor arguments: defaults, params, spec fields."""
        params: dict[str, Any] = {**_DEFAULTS[self.kind], **self.params}
        params["class_weight"] = self.class_weight
        if self.kind == "lightgbm":
            params.update(
                random_state=self.seed, deterministic=True, force_row_wise=True, verbose=-1
            )
        elif self.kind != "logistic":  # lbfgs has nothing random to seed
            params["random_state"] = self.seed
        return params

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-ready data; `from_dict` reverses it."""
        return {
            "kind": self.kind,
            "params": dict(self.params),
            "class_weight": self.class_weight,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Rebuild a spec from `to_dict` output."""
        return cls(
            kind=data["kind"],
            params=data.get("params", {}),
            class_weight=data.get("class_weight", "balanced"),
            seed=data.get("seed", 0),
        )


class TrainedModel:
    """A fitted classifier: class probabilities from a 2-D float array of features.

    Build one with `fit_model` (or `train_model`, which also validates it) or
    `from_bytes`; the constructor is not public API.

    Notes
    -----
    Columns of every probability array follow `classes` (sorted). Rows sum to 1.
    `predict_one` is the serving path: it checks only the row's length and skips
    scikit-learn's input validation. LightGBM predicts with `lightgbm.Booster.predict`
    on one thread (tens of microseconds a row) and logistic regression with its
    standardise-then-softmax arithmetic in NumPy (a few microseconds). The two forests
    fall back to scikit-learn's ``predict_proba``, which costs milliseconds a row:
    fine for research, too slow for a sub-2 ms serving budget.
    """

    __slots__ = ("_batch", "_classes", "_feature_names", "_model", "_spec")

    def __init__(
        self,
        spec: ModelSpec,
        classes: Sequence[int],
        feature_names: Sequence[str],
        model: Any,
    ) -> None:
        self._spec = spec
        self._classes = tuple(int(c) for c in classes)
        self._feature_names = tuple(feature_names)
        self._model = model
        self._batch = _batch_predictor(spec.kind, model, len(self._classes))

    @property
    def spec(self) -> ModelSpec:
        """The spec the model was trained from."""
        return self._spec

    @property
    def classes(self) -> tuple[int, ...]:
        """Labels of the probability columns, sorted (e.g. ``(-1, 0, 1)``)."""
        return self._classes

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the feature columns, in the order the model expects them."""
        return self._feature_names

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return len(self._feature_names)

    def predict_proba(self, features: npt.ArrayLike) -> FloatArray:
        """Return the class probabilities of each feature row, shape ``(n, n_classes)``.

        Raises
        ------
        ValueError
            If ``features`` is not 2-D with `n_features` columns.
        """
        rows = np.asarray(features, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            msg = f"features must have shape (n, {self.n_features}), got {rows.shape}"
            raise ValueError(msg)
        return self._batch(rows)

    def predict(self, features: npt.ArrayLike) -> LabelArray:
        """Return the most probable class of each feature row."""
        proba = self.predict_proba(features)
        labels: LabelArray = np.asarray(self._classes, dtype=np.int64)[proba.argmax(axis=1)]
        return labels

    def predict_one(self, row: npt.ArrayLike) -> FloatArray:
        """Return the class probabilities of one feature row, shape ``(n_classes,)``.

        Raises
        ------
        ValueError
            If ``row`` does not hold `n_features` values.
        """
        values = np.asarray(row, dtype=np.float64)
        if values.size != len(self._feature_names):
            msg = f"row must hold {len(self._feature_names)} features, got shape {values.shape}"
            raise ValueError(msg)
        proba: FloatArray = self._batch(values.reshape(1, -1))[0]
        return proba

    def to_bytes(self) -> bytes:
        """Serialise the model: a JSON header, then LightGBM's model text or a pickle.

        Notes
        -----
        Loading a scikit-learn model unpickles it, which can run code: load only
        artefacts this platform wrote (the registry's). A LightGBM model is plain text.
        """
        payload: bytes
        if self._spec.kind == "lightgbm":
            payload = self._model.model_to_string().encode()
        else:
            payload = pickle.dumps(self._model, protocol=pickle.HIGHEST_PROTOCOL)
        header = json.dumps(
            {
                "spec": self._spec.to_dict(),
                "classes": list(self._classes),
                "feature_names": list(self._feature_names),
                "versions": {"lightgbm": lightgbm.__version__, "sklearn": sklearn.__version__},
            },
            sort_keys=True,
        ).encode()
        return _MAGIC + _HEADER_LENGTH.pack(len(header)) + header + payload

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedModel:
        """Rebuild a model from `to_bytes` output; no training data is needed.

        Raises
        ------
        ValueError
            If ``data`` is not a serialised `TrainedModel`.
        """
        start = len(_MAGIC) + _HEADER_LENGTH.size
        if not data.startswith(_MAGIC) or len(data) < start:
            msg = "data is not a serialised TrainedModel (wrong magic bytes)"
            raise ValueError(msg)
        (length,) = _HEADER_LENGTH.unpack_from(data, len(_MAGIC))
        try:
            header = json.loads(data[start : start + length])
            spec = ModelSpec.from_dict(header["spec"])
            classes, names = header["classes"], header["feature_names"]
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"data is not a serialised TrainedModel (bad header: {exc})"
            raise ValueError(msg) from exc
        payload = data[start + length :]
        if spec.kind == "lightgbm":
            model: Any = lightgbm.Booster(model_str=payload.decode())
        else:
            model = pickle.loads(payload)  # our own artefact: see to_bytes
        return cls(spec, classes, names, model)

    def __repr__(self) -> str:
        return (
            f"TrainedModel(kind={self._spec.kind!r}, classes={self._classes}, "
            f"n_features={self.n_features})"
        )


def fit_model(
    features: FloatArray,
    labels: LabelArray,
    spec: ModelSpec,
    feature_names: Sequence[str],
) -> TrainedModel:
    """Fit ``spec`` on checked arrays and return the model.

    ``features`` must be finite float64 of shape ``(n, len(feature_names))`` and
    ``labels`` hold at least two classes; `train_model` checks both, this does not.
    """
    estimator = build_estimator(spec)
    estimator.fit(features, labels)
    classes = [int(c) for c in estimator.classes_]
    if spec.kind == "lightgbm":
        # Keep only the booster: it predicts from a NumPy array with least overhead.
        return TrainedModel(spec, classes, feature_names, estimator.booster_)
    return TrainedModel(spec, classes, feature_names, estimator)


def build_estimator(spec: ModelSpec) -> Any:
    """Return an unfitted estimator for ``spec``."""
    params = spec.estimator_params()
    if spec.kind == "logistic":
        return Pipeline([("scale", StandardScaler()), ("logistic", LogisticRegression(**params))])
    return _ESTIMATORS[spec.kind](**params)


def _batch_predictor(kind: ModelKind, model: Any, n_classes: int) -> Callable[[Any], FloatArray]:
    if kind == "lightgbm":
        booster: lightgbm.Booster = model
        # One thread: a parallel region for a handful of rows only adds a barrier, and on
        # a busy machine waiting there for a descheduled thread is what makes the p99.
        if n_classes == 2:

            def lightgbm_binary(rows: FloatArray) -> FloatArray:
                up = np.asarray(booster.predict(rows, num_threads=1), dtype=np.float64)
                return np.column_stack([1.0 - up, up])

            return lightgbm_binary

        def lightgbm_multi(rows: FloatArray) -> FloatArray:
            return np.asarray(booster.predict(rows, num_threads=1), dtype=np.float64)

        return lightgbm_multi
    if kind == "logistic":
        scaler: StandardScaler = model.named_steps["scale"]
        logistic: LogisticRegression = model.named_steps["logistic"]
        # Fold the scaling into the weights: x' = (x - m) / s, so x' W = x (W / s) - m W / s.
        weights = (logistic.coef_ / scaler.scale_).T.copy()
        intercept = logistic.intercept_ - scaler.mean_ @ weights
        if n_classes == 2:

            def logistic_binary(rows: FloatArray) -> FloatArray:
                # expit: the logistic function without overflow at extreme scores.
                up = np.asarray(expit(rows @ weights + intercept), dtype=np.float64)
                return np.column_stack([1.0 - up[:, 0], up[:, 0]])

            return logistic_binary

        def logistic_multi(rows: FloatArray) -> FloatArray:
            scores: FloatArray = rows @ weights + intercept
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
            return scores

        return logistic_multi

    def forest(rows: FloatArray) -> FloatArray:
        return np.asarray(model.predict_proba(rows), dtype=np.float64)

    return forest
