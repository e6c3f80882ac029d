"""``ExecutionEngine.resume_list``: taking back a list's open orders after a restart."""

from __future__ import annotations

from dataclasses import replace

import pytest

from quantgrid.core import MessageBus, TestClock
from quantgrid.execution import ExecutionEngine, link_bracket
from quantgrid.model import (
    InvalidOrderError,
    LiquiditySide,
    ModifyOrder,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    SubmitOrder,
)

VENUE = "venue.FAKE.execute"


def _engine() -> tuple[ExecutionEngine, list[object]]:
    bus = MessageBus()
    sent: list[object] = []
    bus.register(VENUE, sent.append)
    return ExecutionEngine(bus, TestClock(1_000), VENUE), sent


def _bracket() -> tuple[Order, ...]:
    return link_bracket(
        "L",
        Order("E", "S", "X", OrderSide.BUY, OrderType.LIMIT, 10.0, price=100.0),
        Order("SL", "S", "X", OrderSide.SELL, OrderType.STOP, 10.0, trigger_price=95.0),
        Order("TP", "S", "X", OrderSide.SELL, OrderType.LIMIT, 10.0, price=105.0),
    )


def test_held_exits_go_out_only_when_the_resumed_entry_fills() -> None:
    engine, sent = _engine()
    entry, stop, target = _bracket()
    engine.resume_list([entry], [stop, target])
    assert [type(c).__name__ for c in sent] == ["SubmitOrder"]
    assert (stop.status, target.status) == (OrderStatus.INITIALIZED, OrderStatus.INITIALIZED)
    engine.process(OrderAccepted("E", "S", "X", 2, "V-E"))
    engine.process(
        OrderFilled(
            "E", "S", "X", 3, "T-1", OrderSide.BUY, 10.0, 100.0, 0.0, LiquiditySide.MAKER, "USD"
        )
    )
    assert (stop.status, target.status) == (OrderStatus.SUBMITTED, OrderStatus.SUBMITTED)
    assert len(sent) == 3


def test_held_exits_of_an_entry_not_resumed_are_cancelled_unsent() -> None:
    engine, sent = _engine()
    _entry, stop, target = _bracket()
    engine.resume_list([], [stop, target])
    assert sent == []
    assert (stop.status, target.status) == (OrderStatus.CANCELED, OrderStatus.CANCELED)
    assert "ended before the restart" in stop.events[-1].reason  # type: ignore[attr-defined]


def test_a_known_id_is_refused_and_nothing_is_taken_back() -> None:
    engine, _sent = _engine()
    entry, stop, target = _bracket()
    engine.execute(SubmitOrder(Order("SL", "S", "X", OrderSide.BUY, OrderType.MARKET, 1.0), 1))
    with pytest.raises(InvalidOrderError, match="SL: client order id is known already"):
        engine.resume_list([entry], [stop, target])
    assert engine.order("E") is None


def test_an_order_not_initialized_is_refused() -> None:
    engine, _sent = _engine()
    entry, stop, target = _bracket()
    entry.apply(OrderSubmitted("E", "S", "X", 1))
    with pytest.raises(InvalidOrderError, match="resumed order E is SUBMITTED, not INITIALIZED"):
        engine.resume_list([entry], [stop, target])


def test_a_held_order_without_a_parent_is_refused() -> None:
    engine, _sent = _engine()
    entry, _stop, _target = _bracket()
    with pytest.raises(InvalidOrderError, match="held order E has no parent"):
        engine.resume_list([], [entry])


def _fill(oid: str, trade_id: str, quantity: float) -> OrderFilled:
    return OrderFilled(
        oid, "S", "X", 3, trade_id, OrderSide.BUY, quantity, 100.0, 0.0, LiquiditySide.MAKER, "USD"
    )


def test_held_exits_of_an_entry_that_filled_are_released_for_its_fill() -> None:
    engine, sent = _engine()
    entry, stop, target = _bracket()
    entry.apply(OrderSubmitted("E", "S", "X", 1))
    entry.apply(_fill("E", "T-1", 4.0))
    entry.apply(OrderCanceled("E", "S", "X", 4, "canceled on request"))
    engine.resume_list([], [stop, target], [entry])
    assert [type(c).__name__ for c in sent] == ["SubmitOrder", "SubmitOrder"]
    assert (stop.status, target.status) == (OrderStatus.SUBMITTED, OrderStatus.SUBMITTED)
    assert (stop.quantity, target.quantity) == (4.0, 4.0)
    assert engine.order("E") is entry  # known again, never sent
    engine.process(OrderAccepted("TP", "S", "X", 5, "V-TP"))
    engine.process(OrderAccepted("SL", "S", "X", 5, "V-SL"))
    engine.process(
        OrderFilled(
            "TP", "S", "X", 6, "T-2", OrderSide.SELL, 4.0, 105.0, 0.0, LiquiditySide.MAKER, "USD"
        )
    )
    assert stop.status is OrderStatus.PENDING_CANCEL  # linked: the take-profit ends it


def test_held_exits_of_a_partly_filled_working_entry_are_released_and_follow_it() -> None:
    engine, sent = _engine()
    entry, stop, target = _bracket()
    entry.apply(OrderSubmitted("E", "S", "X", 1))
    entry.apply(_fill("E", "T-1", 4.0))
    copy = replace(entry, status=OrderStatus.INITIALIZED, events=list(entry.events))
    engine.resume_list([copy], [stop, target])
    assert [type(c).__name__ for c in sent] == ["SubmitOrder"] * 3
    assert (stop.quantity, target.quantity) == (4.0, 4.0)
    assert copy.leaves_qty == 6.0
    engine.process(OrderAccepted("E", "S", "X", 2, "V-E"))
    engine.process(OrderAccepted("SL", "S", "X", 2, "V-SL"))
    engine.process(OrderAccepted("TP", "S", "X", 2, "V-TP"))
    engine.process(_fill("E", "T-2", 6.0))  # the rest of the entry fills
    modifies = [c for c in sent if isinstance(c, ModifyOrder)]
    assert sorted((m.client_order_id, m.quantity) for m in modifies) == [
        ("SL", 10.0),
        ("TP", 10.0),
    ]


def test_held_exits_of_an_entry_ended_with_nothing_filled_are_cancelled_unsent() -> None:
    engine, sent = _engine()
    entry, stop, target = _bracket()
    entry.apply(OrderSubmitted("E", "S", "X", 1))
    entry.apply(OrderCanceled("E", "S", "X", 2, "canceled on request"))
    engine.resume_list([], [stop, target], [entry])
    assert sent == []
    assert (stop.status, target.status) == (OrderStatus.CANCELED, OrderStatus.CANCELED)
    assert "with nothing filled" in stop.events[-1].reason  # type: ignore[attr-defined]


def test_an_ended_order_that_has_not_ended_is_refused() -> None:
    engine, sent = _engine()
    entry, stop, target = _bracket()
    entry.apply(OrderSubmitted("E", "S", "X", 1))
    with pytest.raises(InvalidOrderError, match="ended order E is SUBMITTED, not ended"):
        engine.resume_list([], [stop, target], [entry])
    assert sent == []
    assert engine.order("SL") is None
