"""Train a direction classifier with purged cross-validation and honest out-of-sample figures.

`train_model` scores a `ModelSpec` on out-of-fold forecasts (each made by a model that
never saw the sample's label span, see `PurgedKFold`), then fits the final model on all
the data. The figures describe how the *procedure* does out of sample; the final model
is the one to serve.

A spec chosen by tuning is the best of many tries on the folds, so its cross-validated
figures flatter it. `hold_out_block` then sets the latest rows aside before the search,
and `train_model(..., held_out=...)` reports the forecasts of the block by a model
trained on the rows before it: figures of data nothing was chosen on.
"""

from __future__ import annotations

import math
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
from quantgrid.ml._validation import (
    HOLDOUT_EMBARGO,
    HOLDOUT_FRACTION,
    CrossValidator,
    IndexArray,
    PurgedKFold,
    WalkForward,
    check_label_spans,
)

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
class HeldOutBlock:
    """The latest rows, set aside so that figures after tuning are honest.

    Attributes
    ----------
    train
        Sorted positions of the rows before the block that tuning and the evaluated
        model may use: every one whose label ends before the block starts, less the
        ``embargo`` rows closest to it.
    test
        Positions of the block, the last ``n_test`` rows.
    fraction, embargo
        As asked of `hold_out_block`.
    start_ns, end_ns
        ``ts`` of the block's first and last row.
    train_end_ns
        The latest label end (``t1``) among the ``train`` rows.

    Notes
    -----
    ``train_end_ns < start_ns``: every label learnt from was known before the first
    row of the block was observed, and every row is in exactly one of ``train``,
    ``test`` and the gap between them.
    """

    train: IndexArray
    test: IndexArray
    fraction: float
    embargo: int | float
    start_ns: int
    end_ns: int
    train_end_ns: int

    @property
    def n_train(self) -> int:
        """Rows before the block that training may use."""
        return int(self.train.size)

    @property
    def n_test(self) -> int:
        """Rows in the block."""
        return int(self.test.size)

    @property
    def n_gap(self) -> int:
        """Rows before the block left out: labels still open at its start, the embargo."""
        return int(self.test[0]) - self.n_train

    def as_params(self) -> dict[str, int | float]:
        """Return where the block lies, as lineage parameters (``holdout.*``)."""
        return {
            "holdout.fraction": self.fraction,
            "holdout.embargo": self.embargo,
            "holdout.start_ns": self.start_ns,
            "holdout.end_ns": self.end_ns,
            "holdout.rows": self.n_test,
            "holdout.train_rows": self.n_train,
            "holdout.gap_rows": self.n_gap,
            "holdout.train_end_ns": self.train_end_ns,
        }


@dataclass(frozen=True, slots=True, eq=False)
class TrainingResult:
    """A trained model and how its training procedure did out of sample.

    Attributes
    ----------
    model
        Fitted on every sample.
    metrics
        Scores of the out-of-sample forecasts, with the naive baselines: the pooled
        out-of-fold forecasts, or those of the held-out block when there is one.
    folds
        Per-fold figures; their spread shows how stable the pooled figures are. With a
        held-out block, the folds of the rows before it.
    oof_proba, tested
        The forecasts behind ``metrics`` (see `CrossValidation`): with a held-out block,
        ``tested`` marks the block only.
    cv
        ``repr`` of the validator, for the record.
    n_samples
        Samples the final model was fitted on.
    cv_metrics
        With a held-out block: the pooled out-of-fold figures of the rows before it,
        which tuning chose on and so flatter the spec. ``None`` otherwise.
    held_out
        The held-out block, if any.
    """

    model: TrainedModel
    metrics: OutOfSampleMetrics
    folds: tuple[FoldScore, ...]
    oof_proba: FloatArray
    tested: BoolArray
    cv: str
    n_samples: int
    cv_metrics: OutOfSampleMetrics | None = None
    held_out: HeldOutBlock | None = None

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
    held_out: HeldOutBlock | None = None,
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
    held_out
        A block of these rows from `hold_out_block`: ``spec`` is cross-validated on
        the block's ``train`` rows only, fitted on them, and its forecasts of the block
        are the figures reported; ``None`` cross-validates on every row.

    Returns
    -------
    TrainingResult
        The final model and the out-of-sample figures.

    Raises
    ------
    ValueError
        If an input breaks a rule above (the message names it), a fold's training
        samples lack one of the classes, or the block does not fit these rows or
        holds a class its training rows lack.

    Notes
    -----
    Either way the final model is fitted on every row: the figures judge the
    procedure, and the block is the newest data, the last a served model should miss.
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
    if held_out is not None:
        return _train_held_out(data, spec, validator, held_out, persistence)
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


def hold_out_block(
    ts: npt.ArrayLike,
    t1: npt.ArrayLike,
    fraction: float = HOLDOUT_FRACTION,
    embargo: int | float = HOLDOUT_EMBARGO,
) -> HeldOutBlock:
    """Return the last ``fraction`` of the rows as a block to hold out of tuning.

    Parameters
    ----------
    ts, t1
        Each row's observation time and label end, integer ns, ``ts`` non-decreasing.
    fraction
        Share of the rows in the block, in (0, 1), rounded up to whole rows.
    embargo
        Rows before the block to leave out besides the purged ones, as in
        `WalkForward`: an ``int`` is a number of rows, a ``float`` in [0, 1) a fraction
        of all rows, rounded up.

    Returns
    -------
    HeldOutBlock
        The block and the rows before it that training may use.

    Raises
    ------
    ValueError
        If ``fraction`` is not in (0, 1), ``ts``/``t1`` break the rules of
        `check_label_spans`, or no training row is left before the block.

    Notes
    -----
    This is one `WalkForward` block: rows before the block whose labels end at or
    after its first ``ts`` are purged, so no label learnt from has seen the block.
    """
    check_holdout_fraction(fraction)
    start, end = check_label_spans(ts, t1)
    n = start.size
    size = math.ceil(fraction * n)
    if size >= n:
        msg = f"holdout fraction {fraction} of {n} rows leaves no row before the block"
        raise ValueError(msg)
    try:
        train, test = next(WalkForward(n_splits=1, test_size=size, embargo=embargo).split(ts, t1))
    except ValueError as error:
        msg = (
            f"holding out the last {size} of {n} rows (fraction {fraction}, embargo "
            f"{embargo!r}) leaves no row to tune on: {error}"
        )
        raise ValueError(msg) from None
    return HeldOutBlock(
        train=train,
        test=test,
        fraction=float(fraction),
        embargo=embargo,
        start_ns=int(start[test[0]]),
        end_ns=int(start[test[-1]]),
        train_end_ns=int(end[train].max()),
    )


def check_holdout_fraction(fraction: float) -> None:
    """Raise ValueError unless ``fraction`` is a number in (0, 1)."""
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not (math.isfinite(fraction) and 0.0 < fraction < 1.0)
    ):
        msg = f"holdout fraction must be a number in (0, 1), got {fraction!r}"
        raise ValueError(msg)


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


def _train_held_out(
    data: Samples,
    spec: ModelSpec,
    cv: CrossValidator,
    block: HeldOutBlock,
    persistence: LabelArray | None,
) -> TrainingResult:
    """Cross-validate and fit on the rows before the block, forecast it, fit on all."""
    n = data.y.size
    msg = f"held_out must be a block of these {n} rows (hold_out_block of their ts and t1)"
    if not isinstance(block, HeldOutBlock):
        raise ValueError(msg)
    train, test = block.train, block.test
    # The block must end at the last row, and every training label before it.
    if not (
        test.size
        and train.size
        and int(test[-1]) == n - 1
        and int(train[0]) >= 0
        and int(train[-1]) < int(test[0])
        and data.t1[train].max() < data.ts[test[0]]
    ):
        raise ValueError(msg)
    earlier = _subset(data, train)
    missing = sorted(set(np.unique(data.y[test]).tolist()) - set(np.unique(earlier.y).tolist()))
    if missing:
        msg = (
            f"the held-out block holds class {missing}, which its {train.size} training rows "
            f"lack: hold out a smaller block, or give more data"
        )
        raise ValueError(msg)
    result = train_model(
        earlier.x,
        earlier.y,
        earlier.ts,
        earlier.t1,
        spec,
        cv,
        feature_names=earlier.feature_names,
        last_direction=persistence[train] if persistence is not None else None,
    )
    evaluated = result.model
    proba = np.full((n, len(evaluated.classes)), np.nan)
    proba[test] = evaluated.predict_proba(data.x[test])
    tested = np.zeros(n, dtype=np.bool_)
    tested[test] = True
    metrics = score_forecasts(
        data.y[test],
        proba[test],
        evaluated.classes,
        persistence[test] if persistence is not None else None,
    )
    return TrainingResult(
        model=fit_model(data.x, data.y, spec, data.feature_names),
        metrics=metrics,
        folds=result.folds,
        oof_proba=proba,
        tested=tested,
        cv=result.cv,
        n_samples=n,
        cv_metrics=result.metrics,
        held_out=block,
    )


def _subset(data: Samples, rows: IndexArray) -> Samples:
    return Samples(
        x=data.x[rows],
        y=data.y[rows],
        ts=data.ts[rows],
        t1=data.t1[rows],
        feature_names=data.feature_names,
    )


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
