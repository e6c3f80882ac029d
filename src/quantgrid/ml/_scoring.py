"""Out-of-sample scores of probability forecasts of a direction, and the naive baselines."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped,unused-ignore]

FloatArray = npt.NDArray[np.float64]
LabelArray = npt.NDArray[np.int64]

# Metric names of a class: "prediction_share_up" reads better than "..._1" in MLflow.
CLASS_NAMES = MappingProxyType({-1: "down", 0: "flat", 1: "up"})
# Probabilities are clipped away from 0 and 1 before the logarithm.
_EPS = 1e-15


@dataclass(frozen=True, slots=True)
class OutOfSampleMetrics:
    """How well out-of-sample probability forecasts of a direction scored.

    Attributes
    ----------
    n_samples
        Forecasts scored.
    accuracy, balanced_accuracy
        Share of correct most-probable classes; the mean of the per-class recalls.
    roc_auc
        ROC AUC of ``P(up)`` for two classes, the macro one-vs-rest mean for three;
        NaN if a class never occurs.
    log_loss
        Mean negative log probability of the true class (natural log).
    brier_score
        Mean over forecasts of ``Σ_k (p_k - o_k)² / 2``: the usual ``(p - y)²`` for two
        classes, 0 (perfect) to 1 (certain and wrong) for any number of classes.
    class_share, prediction_share
        Share of each class among the outcomes and among the most-probable classes.
    majority_accuracy
        Accuracy of always forecasting the most frequent outcome of these very samples:
        a hindsight constant forecast, so an upper bound of what any constant scores.
    always_up_accuracy
        Accuracy of always forecasting up (the share of up outcomes).
    last_direction_accuracy
        Accuracy of forecasting the direction of the last known move, when given.

    Notes
    -----
    `accuracy_margin` is ``accuracy - best_baseline_accuracy``: a model is only worth
    something if it beats every naive forecast, not just a coin.
    """

    n_samples: int
    accuracy: float
    balanced_accuracy: float
    roc_auc: float
    log_loss: float
    brier_score: float
    class_share: Mapping[int, float]
    prediction_share: Mapping[int, float]
    majority_accuracy: float
    always_up_accuracy: float
    last_direction_accuracy: float | None = None

    @property
    def best_baseline_accuracy(self) -> float:
        """The highest accuracy of the naive baselines."""
        candidates = [self.majority_accuracy, self.always_up_accuracy]
        if self.last_direction_accuracy is not None:
            candidates.append(self.last_direction_accuracy)
        return max(candidates)

    @property
    def accuracy_margin(self) -> float:
        """Accuracy minus the best naive baseline's."""
        return self.accuracy - self.best_baseline_accuracy

    def as_dict(self) -> dict[str, float]:
        """Return every figure under a flat name, as a metrics store wants them."""
        figures = {
            "n_samples": float(self.n_samples),
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "roc_auc": self.roc_auc,
            "log_loss": self.log_loss,
            "brier_score": self.brier_score,
            "majority_accuracy": self.majority_accuracy,
            "always_up_accuracy": self.always_up_accuracy,
            "best_baseline_accuracy": self.best_baseline_accuracy,
            "accuracy_margin": self.accuracy_margin,
        }
        if self.last_direction_accuracy is not None:
            figures["last_direction_accuracy"] = self.last_direction_accuracy
        for label, share in self.class_share.items():
            figures[f"class_share_{CLASS_NAMES[label]}"] = share
        for label, share in self.prediction_share.items():
            figures[f"prediction_share_{CLASS_NAMES[label]}"] = share
        return figures


def score_forecasts(
    y: LabelArray,
    proba: FloatArray,
    classes: Sequence[int],
    last_direction: LabelArray | None = None,
) -> OutOfSampleMetrics:
    """Score probability forecasts ``proba`` (columns in ``classes`` order) of ``y``.

    Parameters
    ----------
    y
        Outcomes, each one of ``classes``.
    proba
        Forecast probabilities, shape ``(len(y), len(classes))``, rows summing to 1.
    classes
        Sorted labels of the columns, from {-1, 0, 1}.
    last_direction
        The naive persistence forecast for each sample (its last known move's sign),
        or ``None`` to skip that baseline.

    Raises
    ------
    ValueError
        If there is nothing to score or the shapes disagree.
    """
    labels = np.asarray(classes, dtype=np.int64)
    n = y.size
    if n == 0:
        msg = "y is empty: there are no forecasts to score"
        raise ValueError(msg)
    if proba.shape != (n, labels.size):
        msg = f"proba must have shape ({n}, {labels.size}), got {proba.shape}"
        raise ValueError(msg)
    column = np.searchsorted(labels, y)
    predicted = labels[proba.argmax(axis=1)]
    onehot = np.zeros_like(proba)
    onehot[np.arange(n), column] = 1.0
    true_proba = np.clip(proba[np.arange(n), column], _EPS, 1.0)
    class_share = {int(c): float(np.mean(y == c)) for c in labels}
    baseline_last = None
    if last_direction is not None:
        if last_direction.shape != y.shape:
            msg = f"last_direction must have shape {y.shape}, got {last_direction.shape}"
            raise ValueError(msg)
        baseline_last = float(np.mean(last_direction == y))
    return OutOfSampleMetrics(
        n_samples=n,
        accuracy=float(np.mean(predicted == y)),
        balanced_accuracy=_balanced_accuracy(y, predicted),
        roc_auc=_roc_auc(y, proba, labels),
        log_loss=float(-np.mean(np.log(true_proba))),
        brier_score=float(np.mean(np.sum((proba - onehot) ** 2, axis=1)) / 2.0),
        class_share=MappingProxyType(class_share),
        prediction_share=MappingProxyType({int(c): float(np.mean(predicted == c)) for c in labels}),
        majority_accuracy=max(class_share.values()),
        always_up_accuracy=class_share.get(1, 0.0),
        last_direction_accuracy=baseline_last,
    )


def _roc_auc(y: LabelArray, proba: FloatArray, labels: LabelArray) -> float:
    if np.unique(y).size < labels.size:
        return math.nan  # a class that never occurs has no ROC curve
    if labels.size == 2:
        return float(roc_auc_score(y == labels[1], proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels))


def _balanced_accuracy(y: LabelArray, predicted: LabelArray) -> float:
    # By hand: scikit-learn's warns when a forecast class never occurs in y.
    recalls = [np.mean(predicted[y == c] == c) for c in np.unique(y)]
    return float(np.mean(recalls))
