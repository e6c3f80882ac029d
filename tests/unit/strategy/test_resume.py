"""``Strategy.resume``: a fresh strategy continues the ids and working orders of a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from quantgrid.model import (
    Instrument,
    OrderCanceled,
    OrderEvent,
    OrderPendingCancel,
    OrderSide,
    OrderStatus,
)
from quantgrid.portfolio import PortfolioView
from quantgrid.strategy import Strategy

NodeFactory = Callable[..., Any]


class Watcher(Strategy):
    name: ClassVar[str] = "w"

    def on_start(self) -> None:
        self.events: list[OrderEvent] = []

    def on_order_event(self, event: OrderEvent) -> None:
        self.events.append(event)


def _fresh_twin(node: Any) -> Watcher:
    """Return a new instance of the node's strategy, attached to the same node."""
    twin = Watcher()
    twin.attach(node.clock, node.bus, PortfolioView(node.portfolio), node.instruments)
    twin.on_start()
    return twin


def test_resume_continues_the_ids_and_owns_the_working_orders(make_node: NodeFactory) -> None:
    node = make_node(Watcher())
    node.bar(100.0)
    first = node.strategy.buy(1, price=90.0)
    second = node.strategy.sell(1, price=110.0)
    node.strategy.buy(1)
    node.bar(100.0)  # the market order fills; the limits work on
    assert [o.status for o in node.orders] == [
        OrderStatus.ACCEPTED,
        OrderStatus.ACCEPTED,
        OrderStatus.FILLED,
    ]

    twin = _fresh_twin(node)
    twin.buy(1, price=80.0)  # as a warm-up would: an order the twin believes it holds
    twin.resume(orders_sent=3, working=[first, second])

    assert twin.open_orders() == [first, second]  # the warm-up's order is gone
    assert twin.open_orders("X") == [first, second]
    # The warm-up took w-4 before the resume: it was never sent, so it is issued again.
    assert twin.next_order_id() == "w-4"
    twin.cancel(first)
    assert first.status is OrderStatus.CANCELED
    seen = [type(e) for e in twin.events if e.client_order_id == first.client_order_id]
    assert seen == [OrderPendingCancel, OrderCanceled]
    assert twin.open_orders() == [second]  # its later events close it for the twin


def test_resume_with_nothing_sent_starts_the_ids_again(make_node: NodeFactory) -> None:
    node = make_node(Watcher())
    node.strategy.resume(orders_sent=0)
    assert node.strategy.next_order_id() == "w-1"
    assert node.strategy.open_orders() == []


@pytest.mark.parametrize("count", [-1, True, 2.0, "3", None])
def test_resume_refuses_a_count_that_is_not_a_whole_number(
    make_node: NodeFactory, count: Any
) -> None:
    with pytest.raises(ValueError, match=r"orders_sent must be a whole number >= 0"):
        make_node(Watcher()).strategy.resume(orders_sent=count)


def _refused(node: Any, working: list[Any], orders_sent: int = 5) -> str:
    with pytest.raises(ValueError, match=r"^Strategy\.resume: ") as caught:
        node.strategy.resume(orders_sent=orders_sent, working=working)
    return str(caught.value)


def test_resume_refuses_orders_it_cannot_own(make_node: NodeFactory) -> None:
    node = make_node(Watcher(), (Instrument("X"), Instrument("Y")))
    node.bar(100.0, "X")
    node.strategy._working.clear()
    order = node.strategy.make_order(OrderSide.BUY, 1, "X", price=90.0)  # w-1, never sent
    ended = dataclasses.replace(order, client_order_id="w-2", status=OrderStatus.CANCELED)

    assert "must hold Orders, got str" in _refused(node, ["w-1"])
    other = dataclasses.replace(order, strategy_id="other")
    assert "order w-1 belongs to strategy 'other', not 'w'" in _refused(node, [other])
    assert "order w-2 is CANCELED, not working" in _refused(node, [ended])
    assert "order w-1 is given twice" in _refused(node, [order, order])
    elsewhere = dataclasses.replace(order, instrument_id="Z")
    assert "trades 'Z', which strategy w does not trade" in _refused(node, [elsewhere])
    late = dataclasses.replace(order, client_order_id="w-9")
    assert "order w-9 is working but orders_sent=5" in _refused(node, [late])
    # A refused resume changes nothing: the ids run on from where they were.
    assert node.strategy.next_order_id() == "w-2"


def test_hand_made_ids_are_not_counted(make_node: NodeFactory) -> None:
    node = make_node(Watcher())
    node.bar(100.0)
    order = dataclasses.replace(
        node.strategy.make_order(OrderSide.BUY, 1, price=90.0), client_order_id="w-manual-99"
    )
    node.strategy.resume(orders_sent=1, working=[order])
    assert node.strategy.open_orders() == [order]
    assert node.strategy.next_order_id() == "w-2"
