"""Train a direction classifier with purged cross-validation and honest out-of-sample figures.

`train_model` scores a `ModelSpec` on out-of-fold forecasts (each made by a model that
never saw the sample's label span, see `PurgedKFold`), then fits the final model on all
the data. The figures describe how the *procedure* does out of sample; the final model
is the one to serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantgrid.ml._model import (
    DIRECTION_LABELS,
    FloatArray,
    LabelArray,
    ModelSpec,
    TrainedModel,
    fit_model,
)
from quantgrid.ml._scoring import OutOfSampleMetrics, score_forecasts
from quantgrid.ml._validation import CrossValidator, PurgedKFold, check_label_spans

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FoldScore:
    """How the model trained on one fold's training samples did on its test samples.

    Attributes
    ----------
    fold
        Position of the fold, 0 first.
    n_train, n_test
        Samples trained on (after purging and the embargo) and tested.
    test_start_ns, test_end_ns
        ``ts`` of the first and last test sample.
    accuracy, roc_auc, log_loss
        As in `OutOfSampleMetrics`, on this fold's test samples only (ROC AUC is NaN
        when a class is missing from them).
    """

    fold: int
    n_train: int
    n_test: int
    test_start_ns: int
    test_end_ns: int
    accuracy: float
    roc_auc: float
    log_loss: float


@dataclass(frozen=True, slots=True, eq=False)
class CrossValidation:
    """Out-of-fold forecasts of a spec.

    Attributes
    ----------
    proba
        Shape ``(n, n_classes)``: each tested row's forecast by the model of its fold;
        NaN rows for samples no fold tested (walk-forward's first training window).
    tested
        Which rows have a forecast.
    classes
        Labels of the columns of ``proba``.
    folds
        Per-fold figures.
    """

    proba: FloatArray
    tested: BoolArray
    classes: tuple[int, ...]
    folds: tuple[FoldScore, ...]


@dataclass(frozen=True, slots=True, eq=False)
class TrainingResult:
    """A trained model and how its training procedure did out of sample.

    Attributes
    ----------
    model
        Fitted on every sample.
    metrics
        Scores of the pooled out-of-fold forecasts, with the naive baselines.
    folds
        Per-fold figures; their spread shows how stable the pooled figures are.
    oof_proba, tested
        The out-of-fold forecasts behind ``metrics`` (see `CrossValidation`).
    cv
        ``repr`` of the validator, for the record.
    n_samples
        Samples the final model was fitted on.
    """

    model: TrainedModel
    metrics: OutOfSampleMetrics
    folds: tuple[FoldScore, ...]
    oof_proba: FloatArray
    tested: BoolArray
    cv: str
    n_samples: int

    @property
    def spec(self) -> ModelSpec:
        """The spec trained."""
        return self.model.spec

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the feature columns."""
        return self.model.feature_names

    @property
    def classes(self) -> tuple[int, ...]:
        """Labels of the probability columns."""
        return self.model.classes


def train_model(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    ts: npt.ArrayLike,
    t1: npt.ArrayLike,
    spec: ModelSpec,
    cv: CrossValidator | None = None,
    *,
    feature_names: Sequence[str] | None = None,
    last_direction: npt.ArrayLike | None = None,
) -> TrainingResult:
    """Cross-validate ``spec`` without leakage, then fit it on all the data.

    Parameters
    ----------
    features
        Shape ``(n, n_features)``, finite; row ``i`` uses only what was known at
        ``ts[i]``.
    labels
        Direction labels in {-1, 0, 1} or {-1, 1}, at least two classes.
    ts, t1
        Each sample's observation time and label end, integer ns (see `PurgedKFold`).
    spec
        What to train.
    cv
        The validator; ``PurgedKFold(n_splits=5, embargo=0.01)`` if ``None``.
    feature_names
        Names of the columns of ``features``; ``f0, f1, ...`` if ``None``.
    last_direction
        The sign of the last known move at each ``ts`` (in {-1, 0, 1}), scored as the
        persistence baseline; skipped if ``None``.

    Returns
    -------
    TrainingResult
        The final model and the out-of-sample figures.

    Raises
    ------
    ValueError
        If an input breaks a rule above (the message names it), or a fold's training
        samples lack one of the classes.
    """
    data = check_samples(features, labels, ts, t1, feature_names)
    persistence = None
    if last_direction is not None:
        persistence = np.asarray(last_direction)
        if persistence.shape != data.y.shape or not np.isin(persistence, DIRECTION_LABELS).all():
            msg = f"last_direction must hold {data.y.size} values in {{-1, 0, 1}}"
            raise ValueError(msg)
        persistence = persistence.astype(np.int64)
    validator = cv if cv is not None else PurgedKFold(n_splits=5, embargo=0.01)
    oof = cross_validate(data, spec, validator)
    tested = oof.tested
    metrics = score_forecasts(
        data.y[tested],
        oof.proba[tested],
        oof.classes,
        persistence[tested] if persistence is not None else None,
    )
    model = fit_model(data.x, data.y, spec, data.feature_names)
    return TrainingResult(
        model=model,
        metrics=metrics,
        folds=oof.folds,
        oof_proba=oof.proba,
        tested=tested,
        cv=repr(validator),
        n_samples=data.y.size,
    )


def cross_validate(data: Samples, spec: ModelSpec, cv: CrossValidator) -> CrossValidation:
    """Return out-of-fold forecasts of ``spec`` over the folds of ``cv``.

    Raises
    ------
    ValueError
        If a fold's training samples lack a class that occurs in the labels.
    """
    x, y, ts = data.x, data.y, data.ts
    classes = tuple(int(c) for c in np.unique(y))
    proba = np.full((y.size, len(classes)), np.nan)
    tested = np.zeros(y.size, dtype=np.bool_)
    folds: list[FoldScore] = []
    for fold, (train, test) in enumerate(cv.split(ts, data.t1)):
        missing = sorted(set(classes) - set(np.unique(y[train]).tolist()))
        if missing:
            msg = (
                f"fold {fold} has no training sample of class {missing}: too few of them, or "
                f"all in one stretch of time; use fewer folds or more data"
            )
            raise ValueError(msg)
        model = fit_model(x[train], y[train], spec, data.feature_names)
        proba[test] = model.predict_proba(x[test])
        tested[test] = True
        scores = score_forecasts(y[test], proba[test], classes)
        folds.append(
            FoldScore(
                fold=fold,
                n_train=int(train.size),
                n_test=int(test.size),
                test_start_ns=int(ts[test[0]]),
                test_end_ns=int(ts[test[-1]]),
                accuracy=scores.accuracy,
                roc_auc=scores.roc_auc,
                log_loss=scores.log_loss,
            )
        )
    return CrossValidation(proba=proba, tested=tested, classes=classes, folds=tuple(folds))


@dataclass(frozen=True, slots=True, eq=False)
class Samples:
    """Checked training data: float64 features, int64 labels, label spans, column names."""

    x: FloatArray
    y: LabelArray
    ts: npt.NDArray[np.int64]
    t1: npt.NDArray[np.int64]
    feature_names: tuple[str, ...]


def check_samples(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    ts: npt.ArrayLike,
    t1: npt.ArrayLike,
    feature_names: Sequence[str] | None = None,
) -> Samples:
    """Return the training data as `Samples` after checking every rule.

    Raises
    ------
    ValueError
        If ``features`` is not 2-D and finite, ``labels`` does not match it or holds a
        label outside {-1, 0, 1} or a single class, the names do not match the columns,
        or ``ts``/``t1`` break the rules of `check_label_spans` or have another length.
    """
    x, y, names = _check_features_labels(features, labels, feature_names)
    start, end = check_label_spans(ts, t1)
    if start.size != y.size:
        msg = f"ts and t1 must have one entry per row of features ({y.size}), got {start.size}"
        raise ValueError(msg)
    return Samples(x=x, y=y, ts=start, t1=end, feature_names=names)


def _check_features_labels(
    values: npt.ArrayLike,
    labels: npt.ArrayLike,
    feature_names: Sequence[str] | None,
) -> tuple[FloatArray, LabelArray, tuple[str, ...]]:
    features = np.asarray(values, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        msg = f"features must be a non-empty 2-D array (samples × columns), got {features.shape}"
        raise ValueError(msg)
    names = (
        tuple(f"f{j}" for j in range(features.shape[1]))
        if feature_names is None
        else tuple(feature_names)
    )
    if len(names) != features.shape[1] or len(set(names)) != len(names):
        msg = f"feature_names must name the {features.shape[1]} columns once each, got {names}"
        raise ValueError(msg)
    bad = np.argwhere(~np.isfinite(features))
    if bad.size:
        row, column = (int(v) for v in bad[0])
        msg = (
            f"features must be finite, but row {row}, column {names[column]!r} is "
            f"{features[row, column]} (drop the warm-up rows of the features first)"
        )
        raise ValueError(msg)
    raw = np.asarray(labels)
    if raw.shape != (features.shape[0],):
        msg = f"labels must hold one per row of features ({len(features)}), got {raw.shape}"
        raise ValueError(msg)
    outside = ~np.isin(raw, DIRECTION_LABELS)
    if outside.any():
        i = int(np.argmax(outside))
        msg = f"labels must be directions in {{-1, 0, 1}}, but labels[{i}] = {raw[i]}"
        raise ValueError(msg)
    y = raw.astype(np.int64)
    if np.unique(y).size < 2:
        msg = f"labels must hold at least two classes, got only {np.unique(y).tolist()}"
        raise ValueError(msg)
    return features, y, names
