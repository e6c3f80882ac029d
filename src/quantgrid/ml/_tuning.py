"""Hyper-parameter tuning with Optuna on purged cross-validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy.typing as npt
import optuna

from quantgrid.ml._model import MODEL_KINDS, ClassWeight, ModelKind, ModelSpec, ParamValue
from quantgrid.ml._scoring import score_forecasts
from quantgrid.ml._training import check_samples, cross_validate
from quantgrid.ml._validation import CrossValidator, PurgedKFold

TuningMetric = Literal["log_loss", "roc_auc"]
_DIRECTIONS: dict[str, Literal["minimize", "maximize"]] = {
    "log_loss": "minimize",
    "roc_auc": "maximize",
}
Suggest = Callable[[optuna.Trial], ParamValue]


def _int(name: str, low: int, high: int, *, log: bool = False) -> tuple[str, Suggest]:
    return name, lambda trial: trial.suggest_int(name, low, high, log=log)


def _float(name: str, low: float, high: float, *, log: bool = False) -> tuple[str, Suggest]:
    return name, lambda trial: trial.suggest_float(name, low, high, log=log)


# Ranges wide enough to hold a good model of daily to minute bars, narrow enough that a
# few dozen TPE trials cover them; leaves and sample floors set how much a model can fit.
_SPACES: dict[ModelKind, dict[str, Suggest]] = {
    "lightgbm": dict(
        [
            _int("n_estimators", 50, 400),
            _float("learning_rate", 0.01, 0.2, log=True),
            _int("num_leaves", 4, 63, log=True),
            _int("min_child_samples", 10, 300, log=True),
            _float("reg_lambda", 1e-3, 10.0, log=True),
            _float("colsample_bytree", 0.5, 1.0),
        ]
    ),
    "logistic": dict([_float("C", 1e-3, 100.0, log=True)]),
    "random_forest": dict(
        [
            _int("n_estimators", 50, 300),
            _int("max_depth", 2, 16),
            _int("min_samples_leaf", 5, 200, log=True),
            _float("max_features", 0.2, 1.0),
        ]
    ),
    "hist_gradient_boosting": dict(
        [
            _int("max_iter", 50, 300),
            _float("learning_rate", 0.01, 0.2, log=True),
            _int("max_leaf_nodes", 4, 63, log=True),
            _int("min_samples_leaf", 10, 300, log=True),
            _float("l2_regularization", 1e-3, 10.0, log=True),
        ]
    ),
}


@dataclass(frozen=True, slots=True)
class TrialSummary:
    """One Optuna trial: its parameters, its cross-validated metric and how it ended."""

    number: int
    params: Mapping[str, ParamValue]
    value: float | None
    state: str


@dataclass(frozen=True, slots=True)
class TuningResult:
    """The best spec a search found, and what it tried.

    Attributes
    ----------
    best_spec
        The fixed parameters plus the best trial's.
    best_value
        The best trial's cross-validated metric.
    metric
        ``"log_loss"`` (lower is better) or ``"roc_auc"`` (higher is better).
    trials
        Every trial, in order.

    Notes
    -----
    ``best_value`` is the best of many tries on the same folds, so it is optimistic:
    judge the chosen spec on data the search never saw (a later walk-forward block).
    """

    best_spec: ModelSpec
    best_value: float
    metric: TuningMetric
    trials: tuple[TrialSummary, ...]

    @property
    def n_complete(self) -> int:
        """Number of trials that finished with a value."""
        return sum(trial.state == "COMPLETE" for trial in self.trials)


def tune(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    ts: npt.ArrayLike,
    t1: npt.ArrayLike,
    kind: ModelKind,
    n_trials: int,
    cv: CrossValidator | None = None,
    seed: int = 0,
    metric: TuningMetric = "log_loss",
    *,
    timeout_seconds: float | None = 3600.0,
    fixed_params: Mapping[str, ParamValue] | None = None,
    class_weight: ClassWeight = "balanced",
    feature_names: Sequence[str] | None = None,
) -> TuningResult:
    """Search ``kind``'s hyper-parameters with Optuna's seeded TPE sampler.

    Parameters
    ----------
    features, labels, ts, t1, feature_names
        As for `train_model`.
    kind
        The estimator to tune; each has a built-in search space.
    n_trials
        Upper bound on the number of trials, at least 1.
    cv
        The validator scoring each trial; ``PurgedKFold(n_splits=5, embargo=0.01)`` if
        ``None``.
    seed
        Seeds the sampler and every model.
    metric
        ``"log_loss"`` (minimised) or ``"roc_auc"`` (maximised) of the pooled
        out-of-fold forecasts.
    timeout_seconds
        Stop starting trials after this long; ``None`` for no limit.
    fixed_params
        Parameters to hold fixed; they are left out of the search.
    class_weight
        As in `ModelSpec`.

    Returns
    -------
    TuningResult
        The best spec and a summary of every trial.

    Raises
    ------
    ValueError
        If an argument breaks a rule above, or no trial completed.

    Notes
    -----
    The same seed, data and ``n_trials`` give the same trials, provided the timeout
    does not cut the search short. Optuna's log is quietened to warnings while the
    search runs and restored afterwards.
    """
    if kind not in MODEL_KINDS:
        msg = f"kind must be one of {MODEL_KINDS}, got {kind!r}"
        raise ValueError(msg)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        msg = f"n_trials must be an integer of at least 1, got {n_trials!r}"
        raise ValueError(msg)
    if metric not in _DIRECTIONS:
        msg = f"metric must be one of {tuple(_DIRECTIONS)}, got {metric!r}"
        raise ValueError(msg)
    if timeout_seconds is not None and not timeout_seconds > 0:
        msg = f"timeout_seconds must be positive or None, got {timeout_seconds!r}"
        raise ValueError(msg)
    fixed = dict(fixed_params or {})
    # Validates the fixed parameters' names and values before any trial runs.
    ModelSpec(kind, fixed, class_weight, seed)
    data = check_samples(features, labels, ts, t1, feature_names)
    validator = cv if cv is not None else PurgedKFold(n_splits=5, embargo=0.01)
    space = {name: suggest for name, suggest in _SPACES[kind].items() if name not in fixed}

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **{name: suggest(trial) for name, suggest in space.items()}}
        spec = ModelSpec(kind, params, class_weight, seed)
        oof = cross_validate(data, spec, validator)
        scores = score_forecasts(data.y[oof.tested], oof.proba[oof.tested], oof.classes)
        return scores.log_loss if metric == "log_loss" else scores.roc_auc

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction=_DIRECTIONS[metric], sampler=optuna.samplers.TPESampler(seed=seed)
        )
        study.optimize(objective, n_trials=n_trials, timeout=timeout_seconds)
    finally:
        optuna.logging.set_verbosity(verbosity)
    trials = tuple(
        TrialSummary(
            number=trial.number,
            params=MappingProxyType(dict(trial.params)),
            value=trial.value,
            state=trial.state.name,
        )
        for trial in study.trials
    )
    # Optuna fails a trial whose value is NaN, so complete ones have a number.
    if not any(trial.state == "COMPLETE" for trial in trials):
        msg = f"no trial of {kind!r} completed with a {metric} value"
        raise ValueError(msg)
    best_params = {**fixed, **study.best_trial.params}
    return TuningResult(
        best_spec=ModelSpec(kind, best_params, class_weight, seed),
        best_value=float(study.best_value),
        metric=metric,
        trials=trials,
    )
