"""Order-state invariants of the risk engine under random order flow (Hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from quantgrid.model import CancelAllOrders, OrderSide
from quantgrid.risk import RISK_ENDPOINT, RiskConfig

MAX_POSITION = 1_000.0

actions = st.lists(
    st.tuples(
        st.sampled_from(["market", "limit", "reduce_only", "cash", "cancel"]),
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(1, 700),
        st.floats(90.0, 110.0).map(lambda p: round(p, 2)),
    ),
    max_size=40,
)


@given(steps=actions)
def test_no_accepted_order_takes_a_position_past_max_position(
    make_node_cls: Callable[..., Any], steps: list[tuple[str, OrderSide, int, float]]
) -> None:
    node = make_node_cls(RiskConfig(max_position=MAX_POSITION), cash=10_000_000.0)
    for kind, side, quantity, price in steps:
        if kind == "cancel":
            node.bus.send(RISK_ENDPOINT, CancelAllOrders("S", None, node.clock.timestamp_ns()))
        elif kind == "limit":
            node.submit(node.order(side, quantity, price=price))
        elif kind == "cash":
            node.submit(node.order(side, None))
        else:
            node.submit(node.order(side, quantity, reduce_only=kind == "reduce_only"))
        node.bar(price)  # market orders fill; limits fill once the price reaches them
        position = node.portfolio.position_quantity("X")
        assert abs(position) <= MAX_POSITION + 1e-9
        for rejection in node.risk.rejections:
            if rejection.check == "max_position":
                assert rejection.value > rejection.limit
