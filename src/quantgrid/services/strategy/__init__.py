"""The strategy service: the strategy catalogue, configurations, start and stop.

``create_app`` serves ``/strategies`` (every registered strategy with its parameters'
JSON Schema, and a parameter check) and ``/strategy-configs`` (configurations kept in a
``StrategyConfigRepository``, started and stopped on a ``StrategyHost``: the
paper-trading node). See ``docs/backtest-service.md``.
"""

from quantgrid.services.strategy._app import create_app
from quantgrid.services.strategy._catalogue import (
    InstrumentId,
    StrategyInfo,
    check_strategy,
    describe_strategy,
    find_strategy,
    strategy_names,
    validate_params,
)
from quantgrid.services.strategy._configs import (
    ConfigPage,
    InMemoryStrategyConfigs,
    SqlStrategyConfigs,
    StrategyConfig,
    StrategyConfigRepository,
)
from quantgrid.services.strategy._host import (
    InMemoryStrategyHost,
    ReplayProgress,
    ReplayState,
    StrategyHost,
    StrategySignal,
    StrategyStartError,
)

__all__ = [
    "ConfigPage",
    "InMemoryStrategyConfigs",
    "InMemoryStrategyHost",
    "InstrumentId",
    "ReplayProgress",
    "ReplayState",
    "SqlStrategyConfigs",
    "StrategyConfig",
    "StrategyConfigRepository",
    "StrategyHost",
    "StrategyInfo",
    "StrategySignal",
    "StrategyStartError",
    "check_strategy",
    "create_app",
    "describe_strategy",
    "find_strategy",
    "strategy_names",
    "validate_params",
]
