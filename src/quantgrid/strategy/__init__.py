"""The strategy API, the built-in strategies and the strategy loader."""

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
