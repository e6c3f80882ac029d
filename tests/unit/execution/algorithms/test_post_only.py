"""post_only: rests at the touch, follows it, retries after rejections, acts at the deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from quantgrid.execution.algorithms import ParentOrderCompleted, Urgency
from quantgrid.model import (
    LiquiditySide,
    OrderRejected,
    OrderSide,
    OrderType,
    OrderUpdated,
    TimeInForce,
)

NodeFactory = Callable[..., Any]
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SEC = 1_000_000_000
MS = 1_000_000


def _post_only(node: Any, side: OrderSide = BUY, quantity: float = 100.0, **params: Any) -> Any:
    horizon = params.pop("horizon_ns", 60 * SEC)
    urgency = params.pop("urgency", Urgency.NORMAL)
    limit = params.pop("limit_price", None)
    return node.execute(
        node.parent(
            side=side,
            quantity=quantity,
            algorithm="post_only",
            horizon_ns=horizon,
            urgency=urgency,
            limit_price=limit,
            params=params,
        )
    )


@pytest.mark.parametrize(("side", "price"), [(BUY, 100.00), (SELL, 100.01)])
def test_rests_one_post_only_child_at_the_own_side_best(
    make_node: NodeFactory, side: OrderSide, price: float
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)

    _post_only(node, side)

    [child] = node.children()
    assert child.client_order_id == "P1-1"
    assert (child.strategy_id, child.tag, child.side) == ("S", "P1", side)
    assert (child.order_type, child.post_only, child.price, child.quantity) == (
        OrderType.LIMIT,
        True,
        price,
        100.0,
    )
    assert child.time_in_force is TimeInForce.GTC
    assert node.venue.queue_ahead("P1-1") == 500.0  # joined behind the displayed size


def test_fills_as_maker_once_the_queue_ahead_has_traded_and_completes(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _post_only(node)

    node.trade(1, 100.00, 450.0, SELL)  # still 50 ahead of us
    assert node.filled() == 0
    node.trade(2, 100.00, 120.0, SELL)  # 50 ahead, then 70 to us

    assert node.filled() == 70.0
    node.trade(3, 100.00, 30.0, SELL)
    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.reason, ended.filled_quantity, ended.avg_px) == ("filled", 100.0, 100.0)
    assert {f.liquidity_side for f in ended.fills} == {LiquiditySide.MAKER}
    assert ended.child_order_ids == ("P1-1",)
    assert node.algos.running == ()


def test_follows_the_touch_by_amend_once_it_moved_away_by_reprice_ticks(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.03)
    _post_only(node, reprice_ticks=2, reprice_interval_ns=None)

    node.quote(1, 100.01, 100.03)  # one tick away: stays
    assert node.children()[0].price == 100.00
    node.quote(2, 100.02, 100.03)  # two ticks away: follows

    [child] = node.children()  # amended in place, no second child
    assert child.price == 100.02
    updates = [e for e in node.order_events if isinstance(e, OrderUpdated)]
    assert [u.price for u in updates] == [100.02]
    node.quote(3, 100.01, 100.03)  # the touch came back towards us: no chase down
    assert child.price == 100.02
    assert node.algos.algorithm("P1").worker.reprices == 1  # type: ignore[union-attr]


def test_sell_follows_the_ask_down(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.05)
    _post_only(node, SELL)

    node.quote(1, 100.00, 100.03)

    assert node.children()[0].price == 100.03


def test_reprices_to_the_touch_after_the_interval_in_either_direction(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02)
    _post_only(node, reprice_interval_ns=5 * SEC)

    node.quote(1, 99.98, 100.02)  # the bid fell away from under us: not on a quote
    assert node.children()[0].price == 100.00
    node.advance(4.9)
    assert node.children()[0].price == 100.00
    node.advance(5.0)

    assert node.children()[0].price == 99.98
    assert len(node.children()) == 1


def test_replace_method_cancels_then_sends_a_new_child_at_the_new_touch(
    make_node: NodeFactory,
) -> None:
    node = make_node(latency_ns=5 * MS)
    node.quote(0, 100.00, 100.03)
    _post_only(node, reprice_method="replace")
    node.advance(0.01)  # accepted

    node.quote(1, 100.01, 100.03)
    first = node.children()[0]
    assert len(node.children()) == 1  # nothing new until the cancel is confirmed
    node.advance(1.01)

    first, second = node.children()
    assert first.status.value == "CANCELED"
    assert (second.client_order_id, second.price, second.quantity) == ("P1-2", 100.01, 100.0)


def test_a_post_only_rejected_because_the_touch_moved_is_retried_at_the_new_touch(
    make_node: NodeFactory,
) -> None:
    node = make_node(latency_ns=10 * MS)
    node.quote(0, 100.00, 100.01)
    _post_only(node)  # P1-1 at 100.00 is on its way
    node.quote(0.005, 99.99, 100.00)  # the ask drops onto our price before it arrives
    node.advance(0.02)

    rejections = [e for e in node.order_events if isinstance(e, OrderRejected)]
    assert len(rejections) == 1
    assert "would cross the best ask" in rejections[0].reason
    assert len(node.children()) == 1  # retried at the next quote, not at once
    node.quote(0.5, 99.98, 99.99)
    node.advance(0.6)

    retry = node.children()[1]
    assert (retry.client_order_id, retry.price, retry.status.value) == ("P1-2", 99.98, "ACCEPTED")


def test_gives_up_after_max_rejections_in_a_row(make_node: NodeFactory) -> None:
    node = make_node(latency_ns=10 * MS)
    node.quote(0, 100.00, 100.01)
    _post_only(node, max_rejections=2)
    node.quote(0.005, 99.99, 100.00)  # P1-1 will cross
    node.quote(0.05, 100.00, 100.01)  # P1-2 sent at 100.00
    node.quote(0.055, 99.99, 100.00)  # and will cross too
    node.advance(0.1)

    ended = node.ended()
    assert ended is not None and type(ended).__name__ == "ParentOrderCanceled"
    assert "2 child orders in a row were refused" in ended.reason
    assert "would cross" in ended.reason
    assert len(node.children()) == 2


def test_deadline_crosses_the_rest_with_one_marketable_child(make_node: NodeFactory) -> None:
    node = make_node(taker_rate=0.0005)
    node.quote(0, 100.00, 100.01)
    _post_only(node, horizon_ns=10 * SEC)
    node.trade(2, 100.00, 540.0, SELL)  # 40 filled passively

    node.advance(10)

    passive, crossing = node.children()
    assert passive.status.value == "CANCELED" and passive.filled_qty == 40.0
    assert (crossing.order_type, crossing.time_in_force, crossing.quantity) == (
        OrderType.MARKET,
        TimeInForce.IOC,
        60.0,
    )
    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.reason, ended.filled_quantity) == ("filled", 100.0)
    assert [f.liquidity_side for f in ended.fills] == [LiquiditySide.MAKER, LiquiditySide.TAKER]
    assert ended.fills[1].last_px == 100.01
    assert ended.fills[1].commission == pytest.approx(60 * 100.01 * 0.0005)


def test_low_urgency_cancels_at_the_deadline_by_default(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _post_only(node, horizon_ns=10 * SEC, urgency=Urgency.LOW)
    node.trade(2, 100.00, 530.0, SELL)

    node.advance(10)

    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.reason, ended.filled_quantity, ended.leaves_quantity) == (
        "deadline: rest not worked",
        30.0,
        70.0,
    )
    assert len(node.children()) == 1


@pytest.mark.parametrize(
    ("urgency", "on_deadline", "crossed"),
    [
        (Urgency.LOW, "cross", True),
        (Urgency.HIGH, "cancel", False),
        (Urgency.NORMAL, None, True),
        (Urgency.HIGH, None, True),
    ],
)
def test_on_deadline_overrides_the_urgency_default(
    make_node: NodeFactory, urgency: Urgency, on_deadline: str | None, crossed: bool
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _post_only(node, horizon_ns=SEC, urgency=urgency, on_deadline=on_deadline)

    node.advance(1)

    assert (len(node.children()) == 2) is crossed
    assert node.ended() is not None


def test_never_rests_beyond_the_limit_price_and_crosses_only_up_to_it(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _post_only(node, horizon_ns=SEC, limit_price=99.957)  # rounded down for a buy: 99.95

    [child] = node.children()
    assert child.price == 99.95
    node.quote(0.5, 100.05, 100.06)
    assert child.price == 99.95  # the touch moved away, but beyond the limit
    node.advance(1)

    crossing = node.children()[1]
    assert (crossing.order_type, crossing.price, crossing.time_in_force) == (
        OrderType.LIMIT,
        99.95,
        TimeInForce.IOC,
    )
    ended = node.ended()
    assert ended is not None and ended.filled_quantity == 0.0  # nothing offered at 99.95


def test_improve_ticks_rests_inside_a_wide_spread_without_crossing(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.05)
    _post_only(node, improve_ticks=2)
    assert node.children()[0].price == 100.02
    assert node.venue.queue_ahead("P1-1") == 0.0  # a new best level: first in line

    node2 = make_node()
    node2.quote(0, 100.00, 100.02)
    _post_only(node2, improve_ticks=5)
    assert node2.children()[0].price == 100.01  # one tick short of the ask
