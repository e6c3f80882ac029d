"""The strategy API, the built-in strategies, the ML strategy and the strategy loader."""

from quantgrid.strategy._base import (
    Bracket,
    Strategy,
    StrategyError,
    StrategyParameterError,
    StrategyParams,
)
from quantgrid.strategy._builtins import (
    CrossParams,
    EmaCross,
    RsiMeanReversion,
    RsiParams,
    SmaCross,
)
from quantgrid.strategy._ml import (
    InMemoryPredictionSink,
    MLParams,
    MLStrategy,
    ModelPredictor,
    PredictionSink,
    Predictor,
)
from quantgrid.strategy._registry import (
    BUILTIN_STRATEGIES,
    StrategyNotFoundError,
    load_strategy,
    register_strategy,
)

__all__ = [
    "BUILTIN_STRATEGIES",
    "Bracket",
    "CrossParams",
    "EmaCross",
    "InMemoryPredictionSink",
    "MLParams",
    "MLStrategy",
    "ModelPredictor",
    "PredictionSink",
    "Predictor",
    "RsiMeanReversion",
    "RsiParams",
    "SmaCross",
    "Strategy",
    "StrategyError",
    "StrategyNotFoundError",
    "StrategyParameterError",
    "StrategyParams",
    "load_strategy",
    "register_strategy",
]
