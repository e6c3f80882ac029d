"""The router: thresholds by notional, urgency steps, horizons, validated configuration."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from quantgrid.core import NANOS_PER_SECOND
from quantgrid.execution.algorithms import (
    ParentOrder,
    Route,
    Router,
    RouterConfig,
    Urgency,
)
from quantgrid.model import OrderSide

NodeFactory = Callable[..., Any]
LOW, NORMAL, HIGH = Urgency.LOW, Urgency.NORMAL, Urgency.HIGH
MINUTE = 60 * NANOS_PER_SECOND


def _parent(quantity: float, urgency: Urgency = NORMAL, **fields: Any) -> ParentOrder:
    return ParentOrder("P", "S", "X", OrderSide.BUY, quantity, urgency, **fields)


@pytest.mark.parametrize(
    ("quantity", "mid", "expected"),
    [
        (9, 100.0, "market"),  # 900
        (9.9999, 100.0, "market"),  # 999.99
        (10, 100.0, "post_only"),  # 1,000: the threshold itself is post-only
        (50, 100.0, "post_only"),  # 5,000: "up to" is inclusive
        (50, 100.0002, "twap"),  # 5,000.01
        (1_000, 100.0, "twap"),
    ],
)
def test_default_thresholds_by_notional(quantity: float, mid: float, expected: str) -> None:
    assert Router().choose(_parent(quantity), mid).algorithm == expected


@pytest.mark.parametrize(
    ("notional", "urgency", "expected"),
    [
        (500, HIGH, "market"),
        (500, NORMAL, "market"),
        (500, LOW, "post_only"),
        (3_000, HIGH, "market"),
        (3_000, NORMAL, "post_only"),
        (3_000, LOW, "twap"),
        (50_000, HIGH, "post_only"),
        (50_000, NORMAL, "twap"),
        (50_000, LOW, "twap"),
    ],
)
def test_urgency_moves_one_step(notional: float, urgency: Urgency, expected: str) -> None:
    assert Router().choose(_parent(notional / 100, urgency), 100.0).algorithm == expected


def test_notional_includes_the_multiplier() -> None:
    router = Router()
    parent = _parent(2)  # 2 contracts at 100 x 50 = 10,000

    assert router.notional(parent, 100.0, 50.0) == 10_000.0
    assert router.choose(parent, 100.0, 50.0).algorithm == "twap"
    assert router.choose(parent, 100.0).algorithm == "market"


def test_params_set_by_the_router() -> None:
    router = Router()

    assert router.choose(_parent(1), 100.0) == Route("market", {})
    assert router.choose(_parent(20), 100.0).params == {"on_deadline": "cross"}
    assert router.choose(_parent(1, LOW), 100.0).params == {"on_deadline": "cancel"}
    # NORMAL: a ten-minute horizon, one slice a minute; LOW: thirty minutes.
    assert router.choose(_parent(100), 100.0).params == {"slices": 10}
    assert router.choose(_parent(100, LOW), 100.0).params == {"slices": 30}
    assert router.choose(_parent(100, horizon_ns=5 * MINUTE), 100.0).params == {"slices": 5}
    assert router.choose(_parent(100, horizon_ns=NANOS_PER_SECOND), 100.0).params == {"slices": 1}
    algorithm, params = router.choose(_parent(100), 100.0)  # unpacks as a pair
    assert (algorithm, params) == ("twap", {"slices": 10})


def test_configurable_thresholds_schedule_and_horizons() -> None:
    config = RouterConfig(
        market_below=100.0,
        post_only_up_to=200.0,
        schedule="vwap",
        horizons_ns={LOW: 60 * MINUTE, NORMAL: 20 * MINUTE, HIGH: 5 * MINUTE},
        slice_interval_ns=2 * MINUTE,
    )
    router = Router(config)

    assert router.choose(_parent(0.99), 100.0).algorithm == "market"
    assert router.choose(_parent(2), 100.0).algorithm == "post_only"
    assert router.choose(_parent(2.01), 100.0) == Route("vwap", {"slices": 10})
    assert config.horizon_for("vwap", LOW) == 60 * MINUTE
    assert config.horizon_for("post_only", HIGH) == 20 * NANOS_PER_SECOND
    assert config.horizon_for("market", NORMAL) is None
    assert config.horizon_for("iceberg", NORMAL) is None


def test_equal_thresholds_leave_no_post_only_band() -> None:
    router = Router(RouterConfig(market_below=1_000.0, post_only_up_to=1_000.0))

    assert router.choose(_parent(9.99), 100.0).algorithm == "market"
    assert router.choose(_parent(10), 100.0).algorithm == "post_only"  # exactly 1,000
    assert router.choose(_parent(10.01), 100.0).algorithm == "twap"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"market_below": -1.0}, "RouterConfig.market_below must be a finite notional >= 0"),
        ({"market_below": math.nan}, "RouterConfig.market_below must be a finite notional"),
        ({"post_only_up_to": True}, "RouterConfig.post_only_up_to must be a finite notional"),
        (
            {"market_below": 6_000.0},
            r"RouterConfig.post_only_up_to must be >= market_below \(6000\), got 5000.0",
        ),
        ({"schedule": "pov"}, "RouterConfig.schedule must be 'twap' or 'vwap', got 'pov'"),
        (
            {"horizons_ns": {LOW: MINUTE, NORMAL: MINUTE}},
            r"RouterConfig.horizons_ns must name every urgency \(missing HIGH\)",
        ),
        (
            {"deadlines_ns": {LOW: MINUTE, NORMAL: 0, HIGH: MINUTE}},
            r"RouterConfig.deadlines_ns\[NORMAL\] must be whole nanoseconds > 0, got 0",
        ),
        ({"slice_interval_ns": 1.5}, "RouterConfig.slice_interval_ns must be whole nanoseconds"),
    ],
)
def test_config_errors_name_the_field_and_rule(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RouterConfig(**fields)


def test_config_horizons_are_read_only() -> None:
    config = RouterConfig()
    with pytest.raises(TypeError):
        config.horizons_ns[LOW] = 1  # type: ignore[index]


def test_choose_refuses_a_bad_mid() -> None:
    with pytest.raises(ValueError, match=r"mid must be a positive finite number, got 0\.0"):
        Router().choose(_parent(1), 0.0)


def test_engine_routes_by_the_arrival_mid_and_uses_the_default_horizon(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 99.99, 100.01)  # mid 100.00

    node.execute(node.parent("small", quantity=9))
    node.execute(node.parent("mid", quantity=10))
    node.execute(node.parent("large", quantity=51))
    node.execute(node.parent("urgent", quantity=51, urgency=HIGH))

    started = {p: node.started(p) for p in ("small", "mid", "large", "urgent")}
    assert {p: s.algorithm for p, s in started.items()} == {
        "small": "market",
        "mid": "post_only",
        "large": "twap",
        "urgent": "post_only",
    }
    assert started["small"].horizon_ns is None
    assert started["mid"].horizon_ns == MINUTE
    assert started["large"].horizon_ns == 10 * MINUTE
    assert started["large"].params["slices"] == 10
    assert started["urgent"].horizon_ns == 20 * NANOS_PER_SECOND
    assert started["mid"].arrival_price == 100.0


def test_engine_with_a_configured_router(make_node: NodeFactory) -> None:
    node = make_node(router=Router(RouterConfig(market_below=10_000.0, post_only_up_to=20_000.0)))
    node.quote(0, 99.99, 100.01)

    node.execute(node.parent(quantity=99))

    assert node.started().algorithm == "market"
