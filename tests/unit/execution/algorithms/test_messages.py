"""Parent orders and their messages: validation that names the field, frozen, encodable."""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec
import pytest

from quantgrid.execution.algorithms import (
    AlgorithmParameterError,
    CancelParentOrder,
    ExecuteParentOrder,
    IcebergParams,
    InvalidParentOrderError,
    ParentOrder,
    ParentOrderCompleted,
    TwapParams,
    Urgency,
    VwapParams,
    algo_event_topic,
)
from quantgrid.model import LiquiditySide, OrderFilled, OrderSide

BUY = OrderSide.BUY


def _parent(**fields: Any) -> ParentOrder:
    values: dict[str, Any] = {
        "parent_id": "P1",
        "strategy_id": "S",
        "instrument_id": "X",
        "side": BUY,
        "quantity": 100.0,
    }
    values.update(fields)
    return ParentOrder(**values)


def test_defaults() -> None:
    parent = _parent()

    assert (parent.urgency, parent.algorithm, parent.limit_price) == (Urgency.NORMAL, None, None)
    assert (parent.horizon_ns, parent.params) == (None, {})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"parent_id": ""}, "parent_id must be a non-empty string, got ''"),
        ({"strategy_id": " "}, "strategy_id must be a non-empty string"),
        ({"instrument_id": None}, "instrument_id must be a non-empty string, got None"),
        ({"side": "BUY"}, "side must be an OrderSide, got 'BUY'"),
        ({"urgency": "HIGH"}, "urgency must be an Urgency, got 'HIGH'"),
        ({"quantity": 0.0}, "quantity must be a positive finite number, got 0.0"),
        ({"quantity": math.inf}, "quantity must be a positive finite number, got inf"),
        ({"quantity": True}, "quantity must be a positive finite number, got True"),
        ({"limit_price": -1.0}, "limit_price must be a positive finite price or None, got -1.0"),
        ({"horizon_ns": 0}, "horizon_ns must be a whole number of nanoseconds > 0 or None"),
        ({"horizon_ns": 1.5}, "horizon_ns must be a whole number of nanoseconds > 0 or None"),
        ({"algorithm": ""}, "algorithm must be an algorithm name or None"),
        ({"params": {"slices": 3}}, "params need an algorithm: the router sets the parameters"),
        ({"algorithm": "x", "params": {1: 2}}, "params must be a dict with string keys"),
    ],
)
def test_field_errors_name_the_parent_the_field_and_the_rule(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParentOrderError, match=message) as raised:
        _parent(**fields)
    assert str(raised.value).startswith("ParentOrder ")


@pytest.mark.parametrize(
    ("algorithm", "params", "message"),
    [
        (
            "twap",
            {"slices": 0},
            "twap: invalid parameters: parameter 'slices': Input should be greater than or "
            "equal to 1 (got 0)",
        ),
        ("twap", {"slice": 3}, "parameter 'slice': Extra inputs are not permitted (got 3)"),
        (
            "post_only",
            {"on_deadline": "wait"},
            "parameter 'on_deadline': Input should be 'cross' or 'cancel' (got 'wait')",
        ),
        ("post_only", {"reprice_ticks": 0}, "parameter 'reprice_ticks': Input should be greater"),
        ("post_only", {"reprice_method": "x"}, "Input should be 'amend' or 'replace'"),
        (
            "iceberg",
            {},
            "iceberg: invalid parameters: parameter 'display_quantity': Field required",
        ),
        ("iceberg", {"display_quantity": 10, "display_jitter": 1.0}, "'display_jitter'"),
        ("vwap", {"profile": []}, "profile must hold at least one weight"),
        ("vwap", {"profile": [1.0, -1.0]}, "profile weight 1 must be finite and >= 0, got -1.0"),
        ("vwap", {"profile": [0.0, 0.0]}, "profile weights must not all be 0"),
        (
            "vwap",
            {"profile": [1.0, 2.0], "slices": 3},
            "slices (3) must equal the number of profile weights (2)",
        ),
        ("market", {"x": 1}, "market: invalid parameters: parameter 'x': Extra inputs"),
    ],
)
def test_builtin_params_are_checked_when_the_parent_is_built(
    algorithm: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(AlgorithmParameterError, match=re.escape(message)) as raised:
        _parent(algorithm=algorithm, params=params)
    assert raised.value.algorithm == algorithm


def test_params_models_keep_their_defaults() -> None:
    twap = TwapParams()
    assert (twap.slices, twap.on_slice_end, twap.on_deadline) == (10, None, None)
    assert (twap.reprice_ticks, twap.reprice_interval_ns, twap.reprice_method) == (
        1,
        5_000_000_000,
        "amend",
    )
    assert VwapParams(profile=[1, 2]).profile == (1.0, 2.0)
    assert IcebergParams(display_quantity=5).display_quantity == 5.0


def test_unknown_algorithm_names_are_left_to_the_engine() -> None:
    assert _parent(algorithm="mine", params={"anything": 1}).algorithm == "mine"


def test_parent_orders_are_frozen() -> None:
    parent = _parent()
    with pytest.raises(AttributeError):
        parent.quantity = 5.0  # type: ignore[misc]


def test_commands_and_events_cross_a_network_bus_unchanged() -> None:
    parent = _parent(algorithm="vwap", urgency=Urgency.HIGH, params={"profile": [1.0, 2.0]})
    command = ExecuteParentOrder(parent, 5)
    fill = OrderFilled("P1-1", "S", "X", 7, "T1", BUY, 10.0, 100.0, 0.0, LiquiditySide.MAKER)
    ended = ParentOrderCompleted(
        "P1", "S", "X", 9, side=BUY, quantity=100.0, filled_quantity=10.0, avg_px=100.0,
        algorithm="vwap", child_order_ids=("P1-1",), arrival_price=100.0, ts_arrival=5,
        end_price=100.5, reason="deadline: rest not worked", fills=(fill,),
    )  # fmt: skip

    for message in (command, CancelParentOrder("P1", 6), ended):
        encoded = msgspec.msgpack.encode(message)
        assert msgspec.msgpack.decode(encoded, type=type(message)) == message
    assert ended.leaves_quantity == 90.0
    assert algo_event_topic(ended) == "events.algo.completed"


def test_decoding_validates_too() -> None:
    encoded = msgspec.json.encode(
        {"parent_id": "P1", "strategy_id": "S", "instrument_id": "X", "side": "BUY",
         "quantity": -1.0}
    )  # fmt: skip
    with pytest.raises(msgspec.ValidationError, match="quantity must be a positive"):
        msgspec.json.decode(encoded, type=ParentOrder)
