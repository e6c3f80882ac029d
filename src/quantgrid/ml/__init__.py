"""Machine learning: point-in-time features, labels, training, serving and evaluation.

Features are defined once (`Feature`, `FeatureSet`) and computed the same way over a
whole history and bar by bar live; labels (`fixed_horizon_labels`,
`triple_barrier_labels`, `meta_labels`) say what followed each bar and when that became
known. Predictions (`Prediction`) are resolved against the bars that followed them
(`resolve_prediction`) and scored against naive baselines (`evaluate_predictions`);
`feature_drift` compares live features with the training sample.
"""

import importlib
from typing import TYPE_CHECKING, Any

from quantgrid.ml._drift import (
    DriftReport,
    DriftStatus,
    FeatureDrift,
    feature_drift,
    population_stability_index,
)
from quantgrid.ml._evaluation import (
    ConfidenceBin,
    EvaluationReport,
    GroupScore,
    HitRate,
    ModelScore,
    due_time_ns,
    evaluate_predictions,
    resolve_prediction,
)
from quantgrid.ml._feat_catalogue import (
    AverageDirectionalIndex,
    BollingerPercentB,
    Choppiness,
    CloseZScore,
    EMADistance,
    LogReturn,
    MACDHistogram,
    NormalizedATR,
    RealizedVol,
    RelativeStrengthIndex,
    VolatilityRatio,
    VolumeZScore,
    default_feature_set,
)
from quantgrid.ml._features import (
    Feature,
    FeatureFrame,
    FeatureLookupError,
    FeatureRow,
    FeatureSet,
    FeatureState,
    FeatureStream,
)
from quantgrid.ml._governance import (
    Approval,
    ApprovalCheck,
    ApprovalPolicy,
    ApprovalRejected,
    ModelStage,
    ModelSummary,
    ModelVersionInfo,
    StageTransitionError,
    review_promotion,
)
from quantgrid.ml._label_barrier import triple_barrier_labels
from quantgrid.ml._labels import Barrier, Labels, fixed_horizon_labels, meta_labels
from quantgrid.ml._lineage import compute_data_hash
from quantgrid.ml._pipeline import Dataset, build_dataset, train_on_bars
from quantgrid.ml._predictions import (
    Direction,
    Horizon,
    HorizonKind,
    InvalidPredictionError,
    OutcomeStatus,
    Prediction,
    PredictionOutcome,
    UnresolvableReason,
)
from quantgrid.ml._validation import (
    CrossValidator,
    PurgedKFold,
    WalkForward,
    walk_forward_splits,
)

if TYPE_CHECKING:
    from quantgrid.ml._model import ModelKind, ModelSpec, TrainedModel
    from quantgrid.ml._scoring import OutOfSampleMetrics, score_forecasts
    from quantgrid.ml._training import (
        FoldScore,
        HeldOutBlock,
        TrainingResult,
        hold_out_block,
        train_model,
    )
    from quantgrid.ml._tuning import TrialSummary, TuningResult, tune

_LAZY = {
    "FoldScore": "quantgrid.ml._training",
    "HeldOutBlock": "quantgrid.ml._training",
    "ModelKind": "quantgrid.ml._model",
    "ModelSpec": "quantgrid.ml._model",
    "OutOfSampleMetrics": "quantgrid.ml._scoring",
    "TrainedModel": "quantgrid.ml._model",
    "TrainingResult": "quantgrid.ml._training",
    "TrialSummary": "quantgrid.ml._tuning",
    "TuningResult": "quantgrid.ml._tuning",
    "hold_out_block": "quantgrid.ml._training",
    "score_forecasts": "quantgrid.ml._scoring",
    "train_model": "quantgrid.ml._training",
    "tune": "quantgrid.ml._tuning",
}

__all__ = [
    "Approval",
    "ApprovalCheck",
    "ApprovalPolicy",
    "ApprovalRejected",
    "AverageDirectionalIndex",
    "Barrier",
    "BollingerPercentB",
    "Choppiness",
    "CloseZScore",
    "ConfidenceBin",
    "CrossValidator",
    "Dataset",
    "Direction",
    "DriftReport",
    "DriftStatus",
    "EMADistance",
    "EvaluationReport",
    "Feature",
    "FeatureDrift",
    "FeatureFrame",
    "FeatureLookupError",
    "FeatureRow",
    "FeatureSet",
    "FeatureState",
    "FeatureStream",
    "FoldScore",
    "GroupScore",
    "HeldOutBlock",
    "HitRate",
    "Horizon",
    "HorizonKind",
    "InvalidPredictionError",
    "Labels",
    "LogReturn",
    "MACDHistogram",
    "ModelKind",
    "ModelScore",
    "ModelSpec",
    "ModelStage",
    "ModelSummary",
    "ModelVersionInfo",
    "NormalizedATR",
    "OutOfSampleMetrics",
    "OutcomeStatus",
    "Prediction",
    "PredictionOutcome",
    "PurgedKFold",
    "RealizedVol",
    "RelativeStrengthIndex",
    "StageTransitionError",
    "TrainedModel",
    "TrainingResult",
    "TrialSummary",
    "TuningResult",
    "UnresolvableReason",
    "VolatilityRatio",
    "VolumeZScore",
    "WalkForward",
    "build_dataset",
    "compute_data_hash",
    "default_feature_set",
    "due_time_ns",
    "evaluate_predictions",
    "feature_drift",
    "fixed_horizon_labels",
    "hold_out_block",
    "meta_labels",
    "population_stability_index",
    "resolve_prediction",
    "review_promotion",
    "score_forecasts",
    "train_model",
    "train_on_bars",
    "triple_barrier_labels",
    "tune",
    "walk_forward_splits",
]


def __getattr__(name: str) -> Any:
    # Training and tuning load scikit-learn, LightGBM and Optuna (about a second): only
    # when first asked for, so the storage and services that read predictions don't.
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'quantgrid.ml' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
