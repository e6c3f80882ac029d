"""iceberg (shows a slice, refills) and market (takes liquidity at once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quantgrid.execution.algorithms import ParentOrderCanceled, ParentOrderCompleted
from quantgrid.model import LiquiditySide, OrderSide, OrderType, TimeInForce

NodeFactory = Callable[..., Any]
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SEC = 1_000_000_000


def _iceberg(node: Any, quantity: float = 100.0, **fields: Any) -> Any:
    params = fields.pop("params", {"display_quantity": 30.0})
    return node.execute(
        node.parent(quantity=quantity, algorithm="iceberg", params=params, **fields)
    )


def test_iceberg_shows_display_quantity_and_refills_when_it_fills(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02, bid_size=50)
    _iceberg(node, limit_price=100.01)

    [shown] = node.children()
    assert (shown.price, shown.quantity, shown.post_only) == (100.01, 30.0, False)
    assert node.venue.queue_ahead("P1-1") == 0.0  # a new best bid
    node.trade(1, 100.01, 20.0, SELL)
    assert len(node.children()) == 1  # partly filled: no refill yet
    node.trade(2, 100.01, 15.0, SELL)  # 10 fill the first slice, 5 are not ours

    first, second = node.children()
    assert first.filled_qty == 30.0
    assert (second.client_order_id, second.price, second.quantity) == ("P1-2", 100.01, 30.0)
    node.trade(3, 100.01, 30.0, SELL)
    node.trade(4, 100.01, 30.0, SELL)
    node.trade(5, 100.01, 50.0, SELL)  # the last slice is only the 10 left

    assert [o.quantity for o in node.children()] == [30.0, 30.0, 30.0, 10.0]
    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.filled_quantity, ended.reason) == (100.0, "filled")
    assert {f.liquidity_side for f in ended.fills} == {LiquiditySide.MAKER}


def test_iceberg_without_a_limit_rests_at_the_touch_of_the_start(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02)
    _iceberg(node, side=SELL)
    node.quote(1, 99.90, 99.95)

    assert [o.price for o in node.children()] == [100.02]  # never repriced


def test_iceberg_random_display_sizes_are_seeded_and_in_range(make_node: NodeFactory) -> None:
    def sizes(seed: int) -> list[float]:
        node = make_node()
        node.quote(0, 100.00, 100.02, bid_size=1)
        params = {"display_quantity": 20.0, "display_jitter": 0.5, "seed": seed}
        _iceberg(node, quantity=1_000, limit_price=100.01, params=params)
        for k in range(30):
            node.trade(1 + k, 100.01, 40.0, SELL)
        return [o.quantity for o in node.children()]

    first, again, other = sizes(3), sizes(3), sizes(4)
    assert first == again
    assert first != other
    assert all(10.0 <= q <= 30.0 and q == int(q) for q in first[:-1])
    assert len(set(first)) > 3


def test_iceberg_display_must_be_whole_lots(make_node: NodeFactory) -> None:
    node = make_node(lot=10.0)
    node.quote(0, 100.00, 100.02)

    _iceberg(node, params={"display_quantity": 25.0})

    assert node.rejected().reason == (
        "iceberg: parameter 'display_quantity': 25 is not a whole number of lots of X (lot size 10)"
    )
    assert node.children() == []


def test_iceberg_deadline_only_with_a_horizon(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02)
    _iceberg(node, limit_price=100.00)
    node.advance(3_600)
    assert node.ended() is None  # no horizon given: works until filled or cancelled

    node2 = make_node()
    node2.quote(0, 100.00, 100.02)
    _iceberg(node2, limit_price=100.00, horizon_ns=10 * SEC)
    node2.advance(10)
    ended = node2.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert ended.reason == "deadline: rest not worked"
    assert node2.working() == []


def test_iceberg_deadline_cross(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02)
    params = {"display_quantity": 30.0, "on_deadline": "cross"}
    _iceberg(node, params=params, limit_price=100.00, horizon_ns=10 * SEC)
    node.advance(10)

    assert [o.order_type for o in node.children()] == [OrderType.LIMIT, OrderType.LIMIT]
    crossing = node.children()[1]
    assert (crossing.time_in_force, crossing.price) == (TimeInForce.IOC, 100.00)


def test_market_sends_one_ioc_market_order_and_completes(make_node: NodeFactory) -> None:
    node = make_node(taker_rate=0.0005)
    node.quote(0, 100.00, 100.01)

    node.execute(node.parent(quantity=100, algorithm="market"))

    [child] = node.children()
    assert (child.order_type, child.time_in_force, child.quantity) == (
        OrderType.MARKET,
        TimeInForce.IOC,
        100.0,
    )
    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.filled_quantity, ended.avg_px, ended.reason) == (100.0, 100.01, "filled")
    assert ended.fills[0].liquidity_side is LiquiditySide.TAKER


def test_market_takes_what_is_displayed_and_completes_with_the_rest_unfilled(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01, ask_size=60)

    node.execute(node.parent(quantity=100, algorithm="market"))

    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.filled_quantity, ended.leaves_quantity) == (60.0, 40.0)
    assert ended.reason == "market order ended with the rest unfilled"


def test_market_with_a_limit_price_is_an_ioc_limit(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)

    node.execute(node.parent(side=SELL, quantity=10, algorithm="market", limit_price=100.001))

    [child] = node.children()
    assert (child.order_type, child.time_in_force, child.price) == (
        OrderType.LIMIT,
        TimeInForce.IOC,
        100.01,  # a sell's limit is rounded up: never sell below it
    )
    ended = node.ended()
    assert ended is not None and ended.filled_quantity == 0.0


def test_cancel_stops_an_iceberg_and_reports_its_fills(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02, bid_size=1)
    _iceberg(node, limit_price=100.01)
    node.trade(1, 100.01, 40.0, SELL)  # first slice filled, second shown

    node.cancel()

    ended = node.ended()
    assert isinstance(ended, ParentOrderCanceled)
    assert (ended.filled_quantity, ended.reason) == (30.0, "canceled on request")
    assert ended.child_order_ids == ("P1-1", "P1-2")
    assert node.working() == []
