"""From bars to a training set and a trained model: the pipeline `quantgrid ml train` runs.

`build_dataset` computes a feature set and labels over the bars of every instrument,
keeps the rows that have both, and stacks them in time order with each row's label span
(``ts`` to ``t1``), so that purged cross-validation works across instruments too.
`train_on_bars` adds the training (optionally tuned) on top. The features are the ones
a strategy streams bar by bar (`FeatureSet.online`), so a model sees in a backtest or in
paper trading exactly the numbers it was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import numpy.typing as npt

from quantgrid.ml._feat_catalogue import RealizedVol, default_feature_set
from quantgrid.ml._features import FeatureSet
from quantgrid.ml._label_barrier import triple_barrier_labels
from quantgrid.ml._labels import Labels, fixed_horizon_labels
from quantgrid.ml._lineage import compute_data_hash
from quantgrid.model import BarSeries, FloatArray, IntArray

if TYPE_CHECKING:
    from quantgrid.ml._model import ModelSpec, ParamValue
    from quantgrid.ml._training import TrainingResult
    from quantgrid.ml._validation import CrossValidator, Fold

Labeling = Literal["fixed", "triple_barrier"]
LABELINGS: tuple[Labeling, ...] = get_args(Labeling)
LabelParam = str | int | float | bool
#: Called with (steps done, steps in all) as training goes; a step is one model fitted.
TrainingProgress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Training rows of one or more instruments, stacked in time order.

    Attributes
    ----------
    features
        float64 of shape ``(n, len(feature_names))``, finite: row ``i`` holds the
        features of instrument ``instrument_ids[i]`` at the close ``ts[i]``.
    labels
        int64 directions in {-1, 0, 1}: what followed the row (see `Labels.label`).
    ts, t1
        int64 ns: when the row was observed and when its label became known.
    instrument_ids
        The instrument of each row (a NumPy string array).
    returns
        The labelled trade's log return, entry at ``ts`` to exit at ``t1``.
    last_direction
        int64 sign of the move over the ``horizon`` bars up to ``ts`` (0 when the
        data does not reach back that far): the persistence baseline.
    feature_names, feature_set_name, feature_set_fingerprint
        The columns and the set they came from, for lineage.
    label_params
        How the labels were made (labeling, horizon, thresholds...), for lineage.
    n_warmup, n_unlabelled, n_flat
        Bars left out: a feature not a number yet (warm-up); no outcome (the data ends
        before it, or the barrier width is unknown); a flat label dropped on request.

    Notes
    -----
    ``ts`` is non-decreasing; rows sharing a ``ts`` are ordered by instrument id, so the
    order (and `data_hash`) does not depend on how the instruments were passed.
    ``ts <= t1`` on every row, and every bar of the input is either a row or counted in
    exactly one of ``n_warmup``, ``n_unlabelled`` and ``n_flat``.
    """

    features: FloatArray
    labels: npt.NDArray[np.int64]
    ts: IntArray
    t1: IntArray
    instrument_ids: npt.NDArray[np.str_]
    returns: FloatArray
    last_direction: npt.NDArray[np.int64]
    feature_names: tuple[str, ...]
    feature_set_name: str
    feature_set_fingerprint: str
    label_params: Mapping[str, LabelParam] = field(default_factory=lambda: MappingProxyType({}))
    n_warmup: int = 0
    n_unlabelled: int = 0
    n_flat: int = 0

    def __post_init__(self) -> None:
        n = self.labels.shape[0]
        if self.features.ndim != 2 or self.features.shape != (n, len(self.feature_names)):
            msg = (
                f"Dataset: features must have shape ({n}, {len(self.feature_names)}), "
                f"got {self.features.shape}"
            )
            raise ValueError(msg)
        for name in ("ts", "t1", "instrument_ids", "returns", "last_direction"):
            if getattr(self, name).shape != (n,):
                msg = f"Dataset: {name} must hold one value per row ({n})"
                raise ValueError(msg)
        if n > 1 and np.any(np.diff(self.ts) < 0):
            msg = "Dataset: ts must be non-decreasing (rows in time order)"
            raise ValueError(msg)
        if np.any(self.t1 < self.ts):
            msg = "Dataset: t1 must not precede ts on any row"
            raise ValueError(msg)
        object.__setattr__(self, "label_params", MappingProxyType(dict(self.label_params)))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def instruments(self) -> tuple[str, ...]:
        """Return the instruments that have rows, sorted."""
        return tuple(sorted({str(i) for i in np.unique(self.instrument_ids)}))

    def data_hash(self) -> str:
        """Return `compute_data_hash` of features, labels, ts, t1 and instruments."""
        return compute_data_hash(self.features, self.labels, self.ts, self.t1, self.instrument_ids)

    def lineage(self) -> dict[str, ParamValue]:
        """Return what a training run on it records of it: labelling and rows.

        ``label.<param>`` for each labelling parameter (the horizon, ...), and
        ``data.instruments``, ``data.rows``, ``data.warmup_rows``,
        ``data.unlabelled_rows``, ``data.flat_rows``.
        """
        params: dict[str, ParamValue] = {
            f"label.{key}": value for key, value in self.label_params.items()
        }
        params.update(
            {
                "data.instruments": ",".join(self.instruments),
                "data.rows": len(self),
                "data.warmup_rows": self.n_warmup,
                "data.unlabelled_rows": self.n_unlabelled,
                "data.flat_rows": self.n_flat,
            }
        )
        return params


def build_dataset(
    bars_by_instrument: Mapping[str, BarSeries],
    feature_set: FeatureSet | None = None,
    *,
    horizon: int = 1,
    labeling: Labeling = "fixed",
    threshold: float = 0.0,
    take_profit: float = 2.0,
    stop_loss: float = 2.0,
    volatility_window: int = 20,
    drop_flat: bool = False,
) -> Dataset:
    """Return the features and labels of every instrument's bars as one time-ordered set.

    Parameters
    ----------
    bars_by_instrument
        Bars by instrument id; each series' ``instrument_id`` must be its key.
    feature_set
        The columns; `default_feature_set` if ``None``.
    horizon
        Bars ahead the labels look (the time limit of a triple barrier), at least 1.
    labeling
        ``"fixed"``: the direction of the close ``horizon`` bars later
        (`fixed_horizon_labels`), flat within ``threshold``. ``"triple_barrier"``: the
        first of a take-profit, a stop-loss and the time limit (`triple_barrier_labels`).
    threshold
        ``"fixed"`` only: a log return no larger than this in size is flat (0).
    take_profit, stop_loss
        ``"triple_barrier"`` only: barrier distances in multiples of the realized
        volatility of one-bar log returns over ``volatility_window`` bars, as known at
        the entry bar.
    volatility_window
        ``"triple_barrier"`` only: bars of that volatility, at least 2.
    drop_flat
        Leave out rows labelled flat. With ``threshold=0`` they are the bars whose close
        did not move a tick: too rare to learn and no direction to call.

    Returns
    -------
    Dataset
        The rows whose features are all finite and whose label is valid.

    Raises
    ------
    ValueError
        If no bars are given, a key is not its series' instrument, a label setting
        breaks its rule or belongs to the other labeling, or no row is left.

    Notes
    -----
    Point in time: a row's features use the bars up to its own (`FeatureSet.compute`),
    its label the bars from it to ``t1``. Cross-validating the stacked set with
    `PurgedKFold` purges by time across instruments, which also keeps correlated
    instruments from leaking into each other's test folds.
    """
    features = feature_set if feature_set is not None else default_feature_set()
    if not isinstance(features, FeatureSet):
        msg = f"feature_set must be a FeatureSet or None, got {feature_set!r}"
        raise ValueError(msg)
    params = _label_params(
        horizon, labeling, threshold, take_profit, stop_loss, volatility_window, drop_flat
    )
    series = _check_bars(bars_by_instrument)
    parts = [_rows(bars, features, params) for bars in series]
    pairs = zip(parts, series, strict=True)
    ids = np.concatenate([np.full(len(part.ts), bars.instrument_id) for part, bars in pairs])
    ts = np.concatenate([part.ts for part in parts])
    if ts.size == 0:
        bars_held = ", ".join(f"{bars.instrument_id} {len(bars)}" for bars in series)
        msg = (
            f"no training row is left: every bar is in the features' warm-up "
            f"({features.warmup} bars), has no label {horizon} bars ahead, or is flat "
            f"and dropped; give more bars (bars per instrument: {bars_held})"
        )
        raise ValueError(msg)
    # Instruments are in sorted order already, so a stable sort by time alone puts rows
    # of one timestamp in instrument order.
    order = np.argsort(ts, kind="stable")
    return Dataset(
        features=np.concatenate([part.features for part in parts])[order],
        labels=np.concatenate([part.labels for part in parts])[order],
        ts=ts[order],
        t1=np.concatenate([part.t1 for part in parts])[order],
        instrument_ids=ids[order],
        returns=np.concatenate([part.returns for part in parts])[order],
        last_direction=np.concatenate([part.last_direction for part in parts])[order],
        feature_names=features.names,
        feature_set_name=features.name,
        feature_set_fingerprint=features.fingerprint,
        label_params=params,
        n_warmup=sum(part.n_warmup for part in parts),
        n_unlabelled=sum(part.n_unlabelled for part in parts),
        n_flat=sum(part.n_flat for part in parts),
    )


def train_on_bars(
    bars_by_instrument: Mapping[str, BarSeries],
    feature_set: FeatureSet | None = None,
    spec: ModelSpec | None = None,
    cv: CrossValidator | None = None,
    *,
    horizon: int = 1,
    labeling: Labeling = "fixed",
    threshold: float = 0.0,
    take_profit: float = 2.0,
    stop_loss: float = 2.0,
    volatility_window: int = 20,
    drop_flat: bool = False,
    tune_trials: int = 0,
    holdout: float = 0.2,
    holdout_embargo: int | float = 0.01,
    progress: TrainingProgress | None = None,
) -> tuple[TrainingResult, Dataset]:
    """Build the dataset of the bars, then train (and first tune) a model on it.

    Parameters
    ----------
    bars_by_instrument, feature_set, horizon, labeling, threshold, take_profit, stop_loss,
    volatility_window, drop_flat
        As for `build_dataset`.
    spec
        What to train; ``ModelSpec("lightgbm")`` if ``None``. With ``tune_trials`` its
        parameters are held fixed and the others searched.
    cv
        The validator; ``PurgedKFold(n_splits=5, embargo=0.01)`` if ``None``.
    tune_trials
        Optuna trials to run first (`tune`, minimising the out-of-fold log loss); the
        best spec is then trained. 0 trains ``spec`` as it is.
    holdout, holdout_embargo
        With ``tune_trials``: the share of the rows, the latest, that tuning never sees,
        and the rows left out just before them (`hold_out_block`). Ignored otherwise.
    progress
        Called with (models fitted, models to fit) after every fold's model, every
        tuning trial's fold models and the final model (with tuning, the last step
        also fits the model that forecast the held-out block).

    Returns
    -------
    tuple of TrainingResult and Dataset
        The trained model with its out-of-sample figures (the persistence baseline is
        the dataset's ``last_direction``), and the data it was trained on.

    Raises
    ------
    ValueError
        If an argument breaks a rule of `build_dataset`, `train_model`, `tune` or
        `hold_out_block`.

    Notes
    -----
    The best of many trials on the same folds is optimistic, so with tuning the
    figures reported (``metrics``) are the forecasts of the held-out block by the
    chosen spec trained on the rows before it, every one of whose labels ended before
    the block began; the cross-validated figures of those rows are ``cv_metrics`` and
    ``folds``. Without tuning they are the pooled out-of-fold figures of every row.
    The model returned is fitted on every row either way.
    """
    # Training loads scikit-learn, LightGBM and Optuna: only when a model is trained.
    from quantgrid.ml._model import ModelSpec  # noqa: PLC0415 - see above
    from quantgrid.ml._training import (  # noqa: PLC0415
        check_holdout_fraction,
        hold_out_block,
        train_model,
    )
    from quantgrid.ml._tuning import tune  # noqa: PLC0415
    from quantgrid.ml._validation import PurgedKFold  # noqa: PLC0415

    if isinstance(tune_trials, bool) or not isinstance(tune_trials, int) or tune_trials < 0:
        msg = f"tune_trials must be a whole number >= 0, got {tune_trials!r}"
        raise ValueError(msg)
    check_holdout_fraction(holdout)
    dataset = build_dataset(
        bars_by_instrument,
        feature_set,
        horizon=horizon,
        labeling=labeling,
        threshold=threshold,
        take_profit=take_profit,
        stop_loss=stop_loss,
        volatility_window=volatility_window,
        drop_flat=drop_flat,
    )
    chosen = spec if spec is not None else ModelSpec("lightgbm")
    validator: CrossValidator = cv if cv is not None else PurgedKFold(n_splits=5, embargo=0.01)
    if progress is not None:
        total = (tune_trials + 1) * validator.get_n_splits() + 1
        validator = _CountingValidator(validator, _Counter(progress, total))
    block = None
    if tune_trials:
        block = hold_out_block(dataset.ts, dataset.t1, holdout, holdout_embargo)
        rows = block.train
        chosen = tune(
            dataset.features[rows],
            dataset.labels[rows],
            dataset.ts[rows],
            dataset.t1[rows],
            chosen.kind,
            tune_trials,
            validator,
            seed=chosen.seed,
            fixed_params=chosen.params,
            class_weight=chosen.class_weight,
            feature_names=dataset.feature_names,
        ).best_spec
    result = train_model(
        dataset.features,
        dataset.labels,
        dataset.ts,
        dataset.t1,
        chosen,
        validator,
        feature_names=dataset.feature_names,
        last_direction=dataset.last_direction,
        held_out=block,
    )
    if isinstance(validator, _CountingValidator):
        validator.counter.finish()
    return result, dataset


# -- internals ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class _Rows:
    """The kept rows of one instrument, and how many of its bars were left out why."""

    features: FloatArray
    labels: npt.NDArray[np.int64]
    ts: IntArray
    t1: IntArray
    returns: FloatArray
    last_direction: npt.NDArray[np.int64]
    n_warmup: int
    n_unlabelled: int
    n_flat: int


def _rows(bars: BarSeries, feature_set: FeatureSet, params: Mapping[str, LabelParam]) -> _Rows:
    frame = feature_set.compute(bars)
    labels = _labels(bars, params)
    horizon = int(params["horizon"])
    complete = np.isfinite(frame.values).all(axis=1)
    labelled = complete & labels.valid
    keep = labelled & (labels.label != 0) if params["drop_flat"] else labelled
    last = np.zeros(len(bars), dtype=np.int64)
    if len(bars) > horizon:
        last[horizon:] = np.sign(np.log(bars.close[horizon:] / bars.close[:-horizon]))
    return _Rows(
        features=frame.values[keep],
        labels=labels.label[keep].astype(np.int64),
        ts=labels.ts[keep],
        t1=labels.t1[keep],
        returns=labels.ret[keep],
        last_direction=last[keep],
        n_warmup=int(np.count_nonzero(~complete)),
        n_unlabelled=int(np.count_nonzero(complete & ~labels.valid)),
        n_flat=int(np.count_nonzero(labelled & ~keep)),
    )


def _labels(bars: BarSeries, params: Mapping[str, LabelParam]) -> Labels:
    horizon = int(params["horizon"])
    if params["labeling"] == "fixed":
        return fixed_horizon_labels(bars, horizon, float(params["threshold"]))
    window = int(params["volatility_window"])
    return triple_barrier_labels(
        bars,
        horizon,
        float(params["take_profit"]),
        float(params["stop_loss"]),
        volatility=RealizedVol(window).compute(bars),
    )


def _check_bars(bars_by_instrument: Mapping[str, BarSeries]) -> list[BarSeries]:
    """Return the series sorted by instrument id after checking keys and types."""
    if not isinstance(bars_by_instrument, Mapping) or not bars_by_instrument:
        msg = "bars_by_instrument must map at least one instrument id to its BarSeries"
        raise ValueError(msg)
    for key, bars in bars_by_instrument.items():
        if not isinstance(bars, BarSeries):
            msg = f"bars_by_instrument[{key!r}] must be a BarSeries, got {type(bars).__name__}"
            raise ValueError(msg)
        if bars.instrument_id != key:
            msg = (
                f"bars_by_instrument[{key!r}] holds the bars of {bars.instrument_id!r}: "
                f"key each series by its own instrument id"
            )
            raise ValueError(msg)
    return [bars_by_instrument[key] for key in sorted(bars_by_instrument)]


def _label_params(
    horizon: int,
    labeling: str,
    threshold: float,
    take_profit: float,
    stop_loss: float,
    volatility_window: int,
    drop_flat: bool,
) -> dict[str, LabelParam]:
    """Return the label settings as lineage after checking the rules the labels don't."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        msg = f"horizon must be a whole number of bars >= 1, got {horizon!r}"
        raise ValueError(msg)
    if labeling not in LABELINGS:
        msg = f"labeling must be one of {', '.join(LABELINGS)}, got {labeling!r}"
        raise ValueError(msg)
    if not isinstance(drop_flat, bool):
        msg = f"drop_flat must be True or False, got {drop_flat!r}"
        raise ValueError(msg)
    if labeling == "fixed":
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            msg = f"threshold must be a number >= 0, got {threshold!r}"
            raise ValueError(msg)
        if not (math.isfinite(threshold) and threshold >= 0):
            msg = f"threshold must be a finite number >= 0, got {threshold!r}"
            raise ValueError(msg)
        return {
            "labeling": labeling,
            "horizon": horizon,
            "threshold": float(threshold),
            "drop_flat": drop_flat,
        }
    if threshold != 0:
        msg = (
            f"threshold applies to labeling='fixed' only, got {threshold!r} with "
            f"'triple_barrier' (set take_profit and stop_loss instead)"
        )
        raise ValueError(msg)
    for name, value in (("take_profit", take_profit), ("stop_loss", stop_loss)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value > 0)
        ):
            msg = f"{name} must be a finite number > 0 (volatilities), got {value!r}"
            raise ValueError(msg)
    if (
        isinstance(volatility_window, bool)
        or not isinstance(volatility_window, int)
        or volatility_window < 2
    ):
        msg = f"volatility_window must be a whole number of bars >= 2, got {volatility_window!r}"
        raise ValueError(msg)
    return {
        "labeling": labeling,
        "horizon": horizon,
        "take_profit": float(take_profit),
        "stop_loss": float(stop_loss),
        "volatility_window": volatility_window,
        "drop_flat": drop_flat,
    }


class _Counter:
    """Counts fitted models and reports them to a progress callback."""

    __slots__ = ("done", "progress", "total")

    def __init__(self, progress: TrainingProgress, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def step(self) -> None:
        # Tuning may stop early on its timeout: never report past the total.
        self.done = min(self.done + 1, self.total - 1)
        self.progress(self.done, self.total)

    def finish(self) -> None:
        self.done = self.total
        self.progress(self.done, self.total)


class _CountingValidator:
    """A validator that counts a step each time a fold's model is done with.

    The trainer asks for the next fold only after fitting and scoring the last one, so
    resuming the generator marks that fold done.
    """

    __slots__ = ("counter", "inner")

    def __init__(self, inner: CrossValidator, counter: _Counter) -> None:
        self.inner = inner
        self.counter = counter

    def split(self, ts: npt.ArrayLike, t1: npt.ArrayLike) -> Iterator[Fold]:
        for fold in self.inner.split(ts, t1):
            yield fold
            self.counter.step()

    def get_n_splits(self) -> int:
        return self.inner.get_n_splits()

    def __repr__(self) -> str:
        # The trainer records repr(cv) as lineage: the same with progress or without.
        return repr(self.inner)
