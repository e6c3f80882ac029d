"""Order-state invariants of the risk engine under random order flow (Hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.model import CancelAllOrders, CancelOrder, ModifyOrder, OrderSide
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


amends = st.lists(
    st.tuples(
        st.sampled_from(["limit", "market", "cash", "amend", "cancel_one", "cancel_all", "bar"]),
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(1, 300),
        st.floats(95.0, 105.0).map(lambda p: round(p, 2)),
    ),
    max_size=50,
)


@given(steps=amends)
def test_working_totals_equal_the_unfilled_quantity_of_the_open_orders(
    make_node_cls: Callable[..., Any], steps: list[tuple[str, OrderSide, int, float]]
) -> None:
    """The totals kept from order events agree with a scan of the orders after each step."""
    node = make_node_cls(RiskConfig(max_position=100_000.0), cash=10_000_000.0)
    sent: list[Any] = []
    for kind, side, quantity, price in steps:
        now = node.clock.timestamp_ns()
        if kind == "limit":
            sent.append(node.submit(node.order(side, quantity, price=price)))
        elif kind == "market":
            sent.append(node.submit(node.order(side, quantity)))
        elif kind == "cash":
            sent.append(node.submit(node.order(side, None)))
        elif kind == "amend" and sent:
            target = sent[quantity % len(sent)]
            node.bus.send(
                RISK_ENDPOINT, ModifyOrder(target.client_order_id, "X", "S", now, quantity=quantity)
            )
        elif kind == "cancel_one" and sent:
            target = sent[quantity % len(sent)]
            node.bus.send(RISK_ENDPOINT, CancelOrder(target.client_order_id, "X", "S", now))
        elif kind == "cancel_all":
            node.bus.send(RISK_ENDPOINT, CancelAllOrders("S", None, now))
        else:
            node.bar(price)
        for sign in (1, -1):
            scanned = 0.0
            for order in sent:
                tracked = node.execution.order(order.client_order_id)
                if tracked is None or tracked.is_closed or tracked.side.sign != sign:
                    continue
                if tracked.quantity is None:
                    scanned += node.risk._working[order.client_order_id].assumed
                else:
                    scanned += tracked.leaves_qty
            assert node.risk._pending("X", sign) == pytest.approx(scanned, abs=1e-6)
