"""The strategy API: order helpers, instrument selection, hooks and wiring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from quantgrid.model import (
    Bar,
    Instrument,
    Order,
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from quantgrid.strategy import Strategy

NodeFactory = Callable[..., Any]

# A tick of 0.05 shows the helpers rounding prices; lots of 1 show sizes rounding down.
NICKEL = Instrument("X", price_increment=0.05)


class Recorder(Strategy):
    name: ClassVar[str] = "rec"

    def on_start(self) -> None:
        self.fills: list[OrderFilled] = []
        self.events: list[OrderEvent] = []

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)

    def on_order_event(self, event: OrderEvent) -> None:
        self.events.append(event)


def _shape(order: Order) -> tuple[object, ...]:
    return (order.side, order.order_type, order.quantity, order.price, order.trigger_price)


def test_helpers_choose_the_order_type_from_price_and_stop(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))
    s = node.strategy

    assert _shape(s.buy(3)) == (OrderSide.BUY, OrderType.MARKET, 3.0, None, None)
    assert _shape(s.sell(3, price=101.0)) == (OrderSide.SELL, OrderType.LIMIT, 3.0, 101.0, None)
    assert _shape(s.buy(3, stop=102.0)) == (OrderSide.BUY, OrderType.STOP, 3.0, None, 102.0)
    assert _shape(s.sell(3, price=97.5, stop=98.0)) == (
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        3.0,
        97.5,
        98.0,
    )


def test_helpers_round_prices_to_the_tick(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))

    order = node.strategy.buy(1, price=100.02, stop=100.08)

    assert (order.price, order.trigger_price) == (100.0, 100.1)
    assert order.status is OrderStatus.ACCEPTED  # on the tick, so the venue takes it


def test_helpers_round_quantity_down_to_whole_lots(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))

    assert node.strategy.buy(2.7).quantity == 2.0
    # Below one lot the quantity is sent as given, and the venue rejects it.
    tiny = node.strategy.buy(0.5)
    assert tiny.quantity == 0.5
    assert tiny.status is OrderStatus.REJECTED


def test_helpers_pass_the_order_options(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))
    node.bar(100.0)

    order = node.strategy.sell(
        2, price=105.0, time_in_force=TimeInForce.DAY, post_only=True, tag="entry"
    )

    assert order.time_in_force is TimeInForce.DAY
    assert order.post_only is True
    assert order.reduce_only is False
    assert order.tag == "entry"
    assert order.cash_fraction is None
    assert order.strategy_id == "rec"
    assert order.instrument_id == "X"
    assert order.ts_init == node.clock.timestamp_ns()


def test_buy_without_quantity_is_sized_from_cash(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))

    order = node.strategy.buy(cash_fraction=0.25)

    assert (order.order_type, order.quantity, order.cash_fraction) == (
        OrderType.MARKET,
        None,
        0.25,
    )


def test_client_order_ids_are_unique_within_the_strategy(make_node: NodeFactory) -> None:
    node = make_node(Recorder(strategy_id="alpha"), (NICKEL,))

    ids = [node.strategy.buy(1).client_order_id for _ in range(3)]

    assert ids == ["alpha-1", "alpha-2", "alpha-3"]


def test_close_returns_none_when_flat(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))

    assert node.strategy.close() is None
    assert node.orders == ()


@pytest.mark.parametrize(("entry", "closing_side"), [(4.0, OrderSide.SELL), (-4.0, OrderSide.BUY)])
def test_close_sends_a_reduce_only_market_order_for_the_position(
    make_node: NodeFactory, entry: float, closing_side: OrderSide
) -> None:
    node = make_node(Recorder(), (NICKEL,))
    node.bar(100.0)
    (node.strategy.buy if entry > 0 else node.strategy.sell)(abs(entry))
    node.bar(100.0)
    assert node.strategy.position() == entry

    order = node.strategy.close()

    assert order is not None
    assert _shape(order) == (closing_side, OrderType.MARKET, 4.0, None, None)
    assert order.reduce_only is True
    assert order.tag == "close"
    node.bar(101.0)
    assert node.strategy.position() == 0.0


def test_multi_instrument_strategy_must_name_the_instrument(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (Instrument("X"), Instrument("Y")))
    s = node.strategy

    for call in (lambda: s.buy(1), lambda: s.sell(1), s.close, s.position):
        with pytest.raises(ValueError, match="strategy rec trades 2 instruments: name the"):
            call()
    assert s.buy(1, "Y").instrument_id == "Y"
    assert s.instruments == ("X", "Y")


def test_instrument_the_strategy_does_not_trade(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))

    with pytest.raises(ValueError, match="strategy rec does not trade 'Z'"):
        node.strategy.buy(1, "Z")


def test_submit_refuses_an_order_of_another_strategy(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))
    order = Order("o-1", "someone-else", "X", OrderSide.BUY, OrderType.MARKET, 1.0)

    with pytest.raises(ValueError, match="order o-1 belongs to strategy 'someone-else'"):
        node.strategy.submit(order)
    assert node.orders == ()


def test_unattached_strategy_cannot_trade_or_read() -> None:
    s = Recorder()

    with pytest.raises(RuntimeError, match="strategy rec is not attached to an engine"):
        _ = s.portfolio
    with pytest.raises(RuntimeError, match="not attached"):
        s.now_ns()
    with pytest.raises(RuntimeError, match="not attached"):
        s.cancel("rec-1")


def test_hooks_see_only_the_strategys_own_order_events(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))
    other = Recorder(strategy_id="other")
    other.attach(node.clock, node.bus, node.strategy.portfolio, node.instruments)
    other.on_start()
    node.bar(100.0)

    mine = node.strategy.buy(2)
    theirs = other.buy(1)
    node.bar(101.0)

    s = node.strategy
    assert [f.client_order_id for f in s.fills] == [mine.client_order_id]
    assert [type(e).__name__ for e in s.events] == [
        "OrderSubmitted",
        "OrderAccepted",
        "OrderFilled",
    ]
    assert [f.client_order_id for f in other.fills] == [theirs.client_order_id]


def test_strategy_sees_bars_of_its_instruments_only(make_node: NodeFactory) -> None:
    seen: list[Bar] = []

    class Watcher(Strategy):
        def on_bar(self, bar: Bar) -> None:
            seen.append(bar)

    node = make_node(Watcher(), (Instrument("X"),))
    node.bar(100.0, "X")
    node.bus.publish("data.bars.Y", Bar("Y", node.ts, 1.0, 1.0, 1.0, 1.0, 1.0))

    assert [b.instrument_id for b in seen] == ["X"]


def test_cancel_by_id_and_cancel_all(make_node: NodeFactory) -> None:
    node = make_node(Recorder(), (NICKEL,))
    node.bar(100.0)
    a = node.strategy.buy(1, price=90.0)
    b = node.strategy.buy(1, price=91.0)

    node.strategy.cancel(a.client_order_id)
    assert (a.status, b.status) == (OrderStatus.CANCELED, OrderStatus.ACCEPTED)
    node.strategy.cancel_all()
    assert b.status is OrderStatus.CANCELED
