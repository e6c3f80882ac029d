"""Machine learning: point-in-time features, labels, training, serving and evaluation.

Features are defined once (`Feature`, `FeatureSet`) and computed the same way over a
whole history and bar by bar live; labels (`fixed_horizon_labels`,
`triple_barrier_labels`, `meta_labels`) say what followed each bar and when that became
known.
"""

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

__all__ = [
    "AverageDirectionalIndex",
    "Barrier",
    "BollingerPercentB",
    "Choppiness",
    "CloseZScore",
    "EMADistance",
    "Feature",
    "FeatureFrame",
    "FeatureLookupError",
    "FeatureRow",
    "FeatureSet",
    "FeatureState",
    "FeatureStream",
    "Labels",
    "LogReturn",
    "MACDHistogram",
    "NormalizedATR",
    "RealizedVol",
    "RelativeStrengthIndex",
    "VolatilityRatio",
    "VolumeZScore",
    "default_feature_set",
    "fixed_horizon_labels",
    "meta_labels",
    "triple_barrier_labels",
]
