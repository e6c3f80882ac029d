"""Strategy parameters: validation errors name the parameter and the rule."""

from __future__ import annotations

import pydantic
import pytest

from quantgrid.strategy import (
    CrossParams,
    EmaCross,
    RsiMeanReversion,
    RsiParams,
    SmaCross,
    Strategy,
    StrategyParameterError,
    StrategyParams,
)


def test_defaults() -> None:
    assert SmaCross().params == CrossParams(fast=10, slow=20, size=None)
    assert RsiMeanReversion().params == RsiParams(
        period=14, lower=30.0, upper=70.0, exit=50.0, size=None, allow_short=True
    )


def test_mapping_is_validated_into_the_params_model() -> None:
    strategy = EmaCross({"fast": 3, "slow": 8, "size": 2.5})

    assert strategy.params == CrossParams(fast=3, slow=8, size=2.5)
    assert strategy.id == "ema_cross"


def test_params_instance_is_kept_as_is() -> None:
    params = CrossParams(fast=2, slow=3)

    assert SmaCross(params).params is params


def test_strategy_id_defaults_to_the_name() -> None:
    assert SmaCross().id == "sma_cross"
    assert SmaCross(strategy_id="sma-7").id == "sma-7"


@pytest.mark.parametrize(
    ("params", "name", "rule"),
    [
        ({"fast": 0}, "fast", "greater than or equal to 1"),
        ({"slow": 1}, "slow", "greater than or equal to 2"),
        ({"size": 0}, "size", "greater than 0"),
        ({"size": -5}, "size", "greater than 0"),
        ({"fast": "ten"}, "fast", "valid integer"),
    ],
)
def test_cross_param_rule_is_named(params: dict[str, object], name: str, rule: str) -> None:
    with pytest.raises(StrategyParameterError) as info:
        SmaCross(params)

    message = str(info.value)
    assert message.startswith("sma_cross: invalid parameters: ")
    assert f"parameter {name!r}" in message
    assert rule in message
    assert info.value.strategy == "sma_cross"
    assert [n for n, _ in info.value.problems] == [name]


def test_every_broken_parameter_is_reported() -> None:
    with pytest.raises(StrategyParameterError) as info:
        SmaCross({"fast": 0, "slow": 0})

    assert [n for n, _ in info.value.problems] == ["fast", "slow"]
    assert "(got 0)" in str(info.value)


def test_unknown_parameter_is_rejected() -> None:
    with pytest.raises(StrategyParameterError, match="parameter 'fsat': Extra inputs are not"):
        SmaCross({"fsat": 3})


@pytest.mark.parametrize(("fast", "slow"), [(20, 20), (30, 20)])
def test_fast_must_be_below_slow(fast: int, slow: int) -> None:
    with pytest.raises(
        StrategyParameterError, match=rf"fast \({fast}\) must be smaller than slow \({slow}\)"
    ):
        EmaCross({"fast": fast, "slow": slow})


@pytest.mark.parametrize(
    "levels",
    [
        {"lower": 60.0},  # above exit 50
        {"upper": 40.0},  # below exit 50
        {"exit": 30.0},  # equal to lower
        {"lower": 50.0, "exit": 50.0, "upper": 50.0},
    ],
)
def test_rsi_levels_must_be_ordered(levels: dict[str, float]) -> None:
    with pytest.raises(StrategyParameterError, match="levels must satisfy lower < exit < upper"):
        RsiMeanReversion(levels)


@pytest.mark.parametrize(
    ("params", "name", "rule"),
    [
        ({"period": 1}, "period", "greater than or equal to 2"),
        ({"upper": 100.0}, "upper", "less than 100"),
        ({"lower": 0.0}, "lower", "greater than 0"),
        ({"allow_short": "maybe"}, "allow_short", "valid boolean"),
    ],
)
def test_rsi_param_rule_is_named(params: dict[str, object], name: str, rule: str) -> None:
    with pytest.raises(StrategyParameterError) as info:
        RsiMeanReversion(params)

    assert f"parameter {name!r}" in str(info.value)
    assert rule in str(info.value)
    assert str(info.value).startswith("rsi_mean_reversion: ")


def test_params_of_another_strategy_are_revalidated() -> None:
    with pytest.raises(StrategyParameterError, match="parameter 'fast': Extra inputs"):
        RsiMeanReversion(CrossParams(fast=2, slow=3))


def test_params_are_immutable() -> None:
    params = SmaCross().params

    with pytest.raises(pydantic.ValidationError):
        params.fast = 3  # type: ignore[attr-defined]


def test_base_strategy_takes_no_parameters() -> None:
    assert Strategy().params == StrategyParams()
    with pytest.raises(StrategyParameterError, match="strategy: invalid parameters: parameter 'x'"):
        Strategy({"x": 1})


def test_parameter_error_is_a_value_error() -> None:
    assert issubclass(StrategyParameterError, ValueError)
