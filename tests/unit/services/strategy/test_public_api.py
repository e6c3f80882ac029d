"""The strategy service's public API is deliberate: this test changes with it."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API = {
    "quantgrid.services.strategy": (
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
    ),
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_all_is_the_public_api_sorted(module_name: str):
    module = importlib.import_module(module_name)
    assert tuple(module.__all__) == PUBLIC_API[module_name]
    assert list(module.__all__) == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    for name in module.__all__:
        assert getattr(module, name) is not None
