"""Machine learning: point-in-time features, labels, training, serving and evaluation.

Features are defined once (`Feature`, `FeatureSet`) and computed the same way over a
whole history and bar by bar live; labels (`fixed_horizon_labels`,
`triple_barrier_labels`, `meta_labels`) say what followed each bar and when that became
known. Predictions (`Prediction`) are resolved against the bars that followed them
(`resolve_prediction`) and scored against naive baselines (`evaluate_predictions`);
`feature_drift` compares live features with the training sample.
"""

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
from quantgrid.ml._label_barrier import triple_barrier_labels
from quantgrid.ml._labels import Barrier, Labels, fixed_horizon_labels, meta_labels
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

__all__ = [
    "AverageDirectionalIndex",
    "Barrier",
    "BollingerPercentB",
    "Choppiness",
    "CloseZScore",
    "ConfidenceBin",
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
    "GroupScore",
    "HitRate",
    "Horizon",
    "HorizonKind",
    "InvalidPredictionError",
    "Labels",
    "LogReturn",
    "MACDHistogram",
    "ModelScore",
    "NormalizedATR",
    "OutcomeStatus",
    "Prediction",
    "PredictionOutcome",
    "RealizedVol",
    "RelativeStrengthIndex",
    "UnresolvableReason",
    "VolatilityRatio",
    "VolumeZScore",
    "default_feature_set",
    "due_time_ns",
    "evaluate_predictions",
    "feature_drift",
    "fixed_horizon_labels",
    "meta_labels",
    "population_stability_index",
    "resolve_prediction",
    "triple_barrier_labels",
]
