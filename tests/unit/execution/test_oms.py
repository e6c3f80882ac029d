"""The OMS on the bar venue: amends, cancels, brackets and OCO groups, end to end.

Each test runs the real execution engine, simulated venue, portfolio and a strategy on
one bus (the node of the venue tests), and checks order states and fills by hand.
"""

from __future__ import annotations

import pytest

from quantgrid.execution import link_bracket
from quantgrid.model import (
    ContingencyType,
    InvalidOrderError,
    LiquiditySide,
    ModifyOrder,
    Order,
    OrderCanceled,
    OrderModifyRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdated,
    SubmitOrder,
    SubmitOrderList,
)
from quantgrid.risk import InstrumentLimits, RiskConfig, RiskEngine
from quantgrid.venues import VenueConfig
from tests.unit.venues.test_simulated import Node

S = OrderStatus
BUY, SELL = OrderSide.BUY, OrderSide.SELL


# -- amend and cancel ----------------------------------------------------------------------
def test_amend_goes_pending_then_updates_and_the_new_price_fills() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(10, price=95.0)
    node.flat(100.0)

    node.strategy.modify(order, price=98.0, quantity=12)

    assert node.kinds(order)[-2:] == ["OrderPendingUpdate", "OrderUpdated"]
    assert (order.status, order.price, order.quantity) == (S.ACCEPTED, 98.0, 12.0)
    node.bar(99.0, 99.5, 97.5, 98.5)
    fill = node.fills(order)[0]
    assert (fill.last_qty, fill.last_px, fill.liquidity_side) == (12.0, 98.0, LiquiditySide.MAKER)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, "the amend changes nothing"),
        ({"quantity": 2.0}, "quantity 2 is not above the filled quantity 4"),
        ({"quantity": 10.5}, "quantity 10.5 is not a whole number of lots"),
        ({"price": 95.001}, "price 95.001 is not a multiple of the tick 0.01"),
        ({"trigger_price": 90.0}, "LIMIT orders take no trigger_price"),
    ],
)
def test_refused_amend_leaves_the_order_working_unchanged(
    changes: dict[str, float], reason: str
) -> None:
    node = Node(VenueConfig(max_volume_fraction=0.004))
    node.flat(100.0)
    order = node.strategy.buy(10, price=95.0)
    node.bar(95.0, 95.0, 95.0, 95.0, volume=1_000.0)  # fills 4 of 10
    assert (order.status, order.filled_qty) == (S.PARTIALLY_FILLED, 4.0)

    node.engine.execute(ModifyOrder(order.client_order_id, "X", order.strategy_id, 0, **changes))

    refused = order.events[-1]
    assert isinstance(refused, OrderModifyRejected)
    assert reason in refused.reason
    assert (order.status, order.quantity, order.price) == (S.PARTIALLY_FILLED, 10.0, 95.0)


def test_amend_that_would_make_a_post_only_order_cross_is_refused() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(5, price=99.0, post_only=True)

    node.strategy.modify(order, price=100.5)

    assert isinstance(order.events[-1], OrderModifyRejected)
    assert "would cross the last price 100.0" in order.events[-1].reason
    assert order.price == 99.0


def test_amend_and_cancel_of_an_ended_order_are_refused_by_the_engine() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(1)
    node.flat(100.0)
    assert order.status is S.FILLED
    n_sent = len(node.events)

    node.strategy.modify(order, quantity=3)
    node.strategy.cancel(order)

    assert node.kinds(order)[-2:] == ["OrderModifyRejected", "OrderCancelRejected"]
    assert order.status is S.FILLED
    assert len(node.events) == n_sent + 2


def test_cancelled_order_never_fills_even_when_the_market_trades_through() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(3, price=99.0)
    node.strategy.cancel(order)

    node.bar(98.0, 98.0, 90.0, 91.0)

    assert node.kinds(order)[-2:] == ["OrderPendingCancel", "OrderCanceled"]
    assert node.fills(order) == []


# -- brackets ------------------------------------------------------------------------------
def test_bracket_exits_wait_for_the_entry_then_take_profit_cancels_stop_loss() -> None:
    node = Node()
    node.flat(100.0)
    entry, sl, tp = node.strategy.bracket(BUY, 10, stop_loss=95.0, take_profit=105.0)
    assert sl is not None and tp is not None
    assert (sl.status, tp.status) == (S.INITIALIZED, S.INITIALIZED)
    assert (sl.order_type, sl.reduce_only, tp.order_type) == (OrderType.STOP, True, OrderType.LIMIT)

    node.bar(100.0, 101.0, 99.0, 100.0)  # entry fills at the open; exits out of range
    assert entry.status is S.FILLED
    assert (sl.status, tp.status) == (S.ACCEPTED, S.ACCEPTED)
    node.bar(101.0, 106.0, 100.0, 105.5)

    assert tp.status is S.FILLED and node.fills(tp)[0].last_px == 105.0
    assert sl.status is S.CANCELED
    assert node.portfolio.position_quantity("X") == 0.0


def test_exits_work_in_the_entry_bar_and_a_bar_hitting_both_assumes_the_loss() -> None:
    node = Node()
    node.flat(100.0)
    entry, sl, tp = node.strategy.bracket(BUY, 10, stop_loss=97.0, take_profit=103.0)
    assert sl is not None and tp is not None

    node.bar(100.0, 104.0, 96.0, 101.0)  # entry at 100, then both exits are in range

    assert entry.status is S.FILLED
    assert sl.status is S.FILLED and node.fills(sl)[0].last_px == 97.0
    assert tp.status is S.CANCELED
    assert node.portfolio.position_quantity("X") == 0.0


def test_limit_entry_that_never_fills_cancels_its_held_exits() -> None:
    node = Node()
    node.flat(100.0)
    entry, sl, tp = node.strategy.bracket(
        BUY, 5, entry_price=90.0, stop_loss=85.0, take_profit=99.0
    )
    assert sl is not None and tp is not None
    node.flat(100.0)

    node.strategy.cancel(entry)

    assert (entry.status, sl.status, tp.status) == (S.CANCELED, S.CANCELED, S.CANCELED)
    last = sl.events[-1]
    assert isinstance(last, OrderCanceled)
    assert last.reason == f"parent {entry.client_order_id} ended with nothing filled"
    assert all(type(e).__name__ != "OrderSubmitted" for e in sl.events + tp.events)


def test_exits_follow_partial_fills_of_the_entry_and_of_each_other() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.01))
    node.flat(100.0)
    entry, sl, tp = node.strategy.bracket(BUY, 10, stop_loss=90.0, take_profit=110.0)
    assert sl is not None and tp is not None

    node.bar(100.0, 100.0, 100.0, 100.0, volume=400.0)  # entry fills 4
    assert (entry.filled_qty, sl.quantity, tp.quantity) == (4.0, 4.0, 4.0)
    node.bar(100.0, 100.0, 100.0, 100.0, volume=1_000.0)  # entry fills the other 6
    assert (entry.status, sl.quantity, tp.quantity) == (S.FILLED, 10.0, 10.0)
    node.bar(110.0, 110.0, 110.0, 110.0, volume=300.0)  # take-profit fills 3

    assert tp.filled_qty == 3.0
    assert sl.quantity == 7.0  # shrunk so both never close more than the position
    assert any(isinstance(e, OrderUpdated) and e.quantity == 7.0 for e in sl.events)
    node.bar(90.0, 90.0, 90.0, 90.0)
    assert sl.status is S.FILLED and sl.filled_qty == 7.0
    assert tp.status is S.CANCELED
    assert node.portfolio.position_quantity("X") == 0.0


def test_sell_bracket_and_its_price_rules() -> None:
    node = Node()
    node.flat(100.0)
    _, sl, tp = node.strategy.bracket(SELL, 2, stop_loss=104.0, take_profit=96.0)
    assert sl is not None and tp is not None
    node.flat(100.0)
    node.bar(100.0, 105.0, 99.0, 104.5)

    assert sl.status is S.FILLED and node.fills(sl)[0].last_px == 104.0
    with pytest.raises(InvalidOrderError, match="needs stop-loss above the entry"):
        node.strategy.bracket(SELL, 2, entry_price=100.0, stop_loss=99.0, take_profit=90.0)
    with pytest.raises(InvalidOrderError, match="give a stop_loss, a take_profit or both"):
        node.strategy.bracket(SELL, 2)


def test_same_order_list_twice_makes_one_set_of_orders() -> None:
    node = Node()
    node.flat(100.0)
    entry, sl, _ = node.strategy.bracket(BUY, 1, stop_loss=90.0)
    assert sl is not None
    command = SubmitOrderList(entry.order_list_id, (entry, sl), 0)

    node.engine.execute(command)

    assert node.engine.duplicate_submissions == 1
    assert len(node.engine.orders) == 2


def test_inconsistent_order_list_is_refused_before_anything_is_sent() -> None:
    node = Node()
    node.flat(100.0)
    a = node.strategy.make_order(BUY, 1, price=90.0)
    b = node.strategy.make_order(SELL, 1, price=110.0)
    b.parent_order_id = a.client_order_id  # a is not an OTO order

    with pytest.raises(InvalidOrderError, match=f"parent {a.client_order_id} of order"):
        node.engine.execute(SubmitOrderList("L", (a, b), 0))
    assert node.engine.orders == ()


def test_link_bracket_requires_exits_on_the_other_side() -> None:
    entry = Order("E", "S", "X", BUY, OrderType.MARKET, 1.0)
    wrong = Order("W", "S", "X", BUY, OrderType.STOP, 1.0, trigger_price=90.0)

    with pytest.raises(InvalidOrderError, match="on the side opposite the entry"):
        link_bracket("B", entry, wrong, None)


# -- OCO -------------------------------------------------------------------------------------
def test_oco_breakout_pair_fill_of_one_cancels_the_other() -> None:
    node = Node()
    node.flat(100.0)
    up = node.strategy.make_order(BUY, 1, stop=105.0)
    down = node.strategy.make_order(SELL, 1, stop=95.0)
    up, down = node.strategy.submit_oco(up, down)
    assert up.contingency is ContingencyType.OCO

    node.bar(100.0, 106.0, 99.0, 105.0)

    assert up.status is S.FILLED
    assert down.status is S.CANCELED


def test_cancel_of_one_oco_leg_cancels_the_other() -> None:
    node = Node()
    node.flat(100.0)
    legs = node.strategy.submit_oco(
        node.strategy.make_order(BUY, 1, price=95.0),
        node.strategy.make_order(BUY, 1, price=94.0),
    )

    node.strategy.cancel(legs[0])

    assert [o.status for o in legs] == [S.CANCELED, S.CANCELED]


def test_ouo_partial_fill_shrinks_the_other_leg() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.01))
    node.flat(100.0)
    a, b = node.strategy.submit_oco(
        node.strategy.make_order(BUY, 10, price=99.0),
        node.strategy.make_order(BUY, 10, price=90.0),
        one_updates_other=True,
    )

    node.bar(99.0, 99.0, 99.0, 99.0, volume=300.0)

    assert a.filled_qty == 3.0
    assert (b.quantity, b.status) == (7.0, S.ACCEPTED)


# -- risk in front ---------------------------------------------------------------------------
def _risk_node(config: RiskConfig) -> tuple[Node, RiskEngine]:
    node = Node()
    risk = RiskEngine(
        node.bus,
        node.clock,
        node.strategy.portfolio,
        node.instruments,
        config,
        node.engine,
    )
    node.strategy._order_endpoint = "RiskEngine.execute"
    return node, risk


def test_risk_denies_a_whole_bracket_when_its_entry_breaks_a_limit() -> None:
    node, risk = _risk_node(RiskConfig(max_order_quantity=5.0))
    node.flat(100.0)

    entry, sl, tp = node.strategy.bracket(BUY, 10, stop_loss=95.0, take_profit=110.0)

    assert sl is not None and tp is not None
    assert [o.status for o in (entry, sl, tp)] == [S.DENIED] * 3
    assert "order quantity 10 > limit 5" in risk.rejections[0].message


def test_risk_refuses_an_amend_that_takes_the_position_past_its_limit() -> None:
    node, risk = _risk_node(RiskConfig(per_instrument={"X": InstrumentLimits(max_position=10.0)}))
    node.flat(100.0)
    order = node.strategy.buy(8, price=95.0)

    node.strategy.modify(order, quantity=12)
    assert isinstance(order.events[-1], OrderModifyRejected)
    assert "position would be 12 > limit 10" in order.events[-1].reason
    assert order.quantity == 8.0

    risk.halt("test")
    node.strategy.modify(order, quantity=6)
    assert (order.quantity, order.status) == (6.0, S.ACCEPTED)


def test_amend_of_a_bracket_exit_beyond_the_open_position_is_refused() -> None:
    node = Node()
    node.flat(100.0)
    entry, sl, _ = node.strategy.bracket(BUY, 4, stop_loss=90.0)
    assert sl is not None
    node.flat(100.0)
    assert sl.status is S.ACCEPTED

    node.strategy.modify(sl, quantity=6)

    refused = sl.events[-1]
    assert isinstance(refused, OrderModifyRejected)
    assert refused.reason == (
        f"quantity 6 would close more than the 4 that entry {entry.client_order_id} left open"
    )
    node.strategy.modify(sl, quantity=3, stop=91.0)
    assert (sl.quantity, sl.trigger_price, sl.status) == (3.0, 91.0, S.ACCEPTED)


# -- regressions found in review -----------------------------------------------------------
def test_partial_fill_of_an_oco_leg_cancels_the_other_but_keeps_working() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.01))
    node.flat(100.0)
    a, b = node.strategy.submit_oco(
        node.strategy.make_order(BUY, 10, price=99.0),
        node.strategy.make_order(BUY, 10, price=90.0),
    )

    node.bar(99.0, 99.0, 99.0, 99.0, volume=300.0)  # a fills 3 of 10

    assert (a.status, a.filled_qty) == (S.PARTIALLY_FILLED, 3.0)
    assert b.status is S.CANCELED
    assert b.events[-1].reason == f"linked order {a.client_order_id} partially_filled"  # type: ignore[attr-defined]
    node.bar(99.0, 99.0, 99.0, 99.0, volume=1_000.0)
    assert (a.status, a.filled_qty) == (S.FILLED, 10.0)


def test_entry_remainder_is_cancelled_once_its_exits_have_ended() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.01))
    node.flat(100.0)
    entry, sl, tp = node.strategy.bracket(
        BUY, 10, entry_price=100.0, stop_loss=95.0, take_profit=101.0
    )
    assert sl is not None and tp is not None
    node.bar(100.0, 100.0, 100.0, 100.0, volume=500.0)  # entry fills 5 of 10
    assert entry.filled_qty == 5.0

    node.bar(101.0, 101.0, 101.0, 101.0, volume=500.0)  # take-profit closes those 5

    assert tp.status is S.FILLED and sl.status is S.CANCELED
    assert entry.status is S.CANCELED
    assert entry.events[-1].reason == "its exits ended before it filled completely"  # type: ignore[attr-defined]
    node.bar(100.0, 100.0, 90.0, 90.0)
    assert node.portfolio.position_quantity("X") == 0.0  # never left without exits


def test_exit_resized_by_a_later_entry_fill_does_not_trade_the_increase_at_the_open() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.01))
    node.flat(100.0)
    entry, _, tp = node.strategy.bracket(
        BUY, 10, entry_price=99.0, stop_loss=95.0, take_profit=101.0
    )
    assert tp is not None
    node.bar(99.0, 99.0, 99.0, 99.0, volume=500.0)  # entry 5; take-profit works for 5

    node.bar(102.0, 102.0, 98.5, 99.0)  # opens at 102, then the entry buys 5 more at 99

    assert entry.filled_qty == 10.0
    assert [(f.last_qty, f.last_px) for f in node.fills(tp)] == [(5.0, 102.0)]
    assert (tp.quantity, tp.status) == (10.0, S.PARTIALLY_FILLED)


def test_amends_of_held_exits_are_checked_before_they_are_applied() -> None:
    node = Node()
    node.flat(100.0)
    _, sl, tp = node.strategy.bracket(BUY, 10, entry_price=90.0, stop_loss=85.0, take_profit=110.0)
    assert sl is not None and tp is not None

    node.engine.execute(ModifyOrder(sl.client_order_id, "X", sl.strategy_id, 0, price=94.0))
    node.engine.execute(ModifyOrder(tp.client_order_id, "X", tp.strategy_id, 0, price=110.001))
    node.strategy.modify(tp, quantity=3)
    node.strategy.modify(sl, stop=86.0)

    reasons = [e.reason for e in sl.events + tp.events if isinstance(e, OrderModifyRejected)]
    assert reasons == [
        "STOP orders take no price",
        "price 110.001 is not a multiple of the tick 0.01",
        "the quantity of a held exit is set from its entry's fills",
    ]
    assert (sl.price, sl.trigger_price, sl.status) == (None, 86.0, S.INITIALIZED)
    assert (tp.price, tp.quantity) == (110.0, 10.0)


def test_risk_passes_repeated_submissions_through_unchecked() -> None:
    node, risk = _risk_node(RiskConfig(per_instrument={"X": InstrumentLimits(max_position=25.0)}))
    node.flat(100.0)
    order = node.strategy.buy(10, price=90.0)

    node.bus.send("RiskEngine.execute", SubmitOrder(order, 0))
    second = node.strategy.buy(10, price=90.0)
    risk.halt("test")
    node.bus.send("RiskEngine.execute", SubmitOrder(order, 0))

    assert node.engine.duplicate_submissions == 2
    assert (order.status, second.status) == (S.ACCEPTED, S.ACCEPTED)
    assert risk.rejections == ()


def test_risk_refuses_an_inconsistent_list_without_counting_it() -> None:
    node, _ = _risk_node(RiskConfig(per_instrument={"X": InstrumentLimits(max_position=15.0)}))
    node.flat(100.0)
    a = node.strategy.make_order(BUY, 10, price=90.0)
    b = node.strategy.make_order(BUY, 10, price=89.0)
    a.contingency, a.linked_order_ids = ContingencyType.OCO, (b.client_order_id,)
    b.contingency = ContingencyType.OCO

    with pytest.raises(InvalidOrderError, match="but not the other way"):
        node.bus.send("RiskEngine.execute", SubmitOrderList("L", (a, b), 0))

    assert node.strategy.buy(10, price=90.0).status is S.ACCEPTED  # nothing phantom pending


def test_risk_refuses_amends_the_venue_would_refuse_and_checks_the_new_quantity() -> None:
    node, _ = _risk_node(RiskConfig(max_order_quantity=10.0))
    node.flat(100.0)
    stop = node.strategy.buy(5, stop=105.0)
    limit = node.strategy.buy(10, price=95.0)

    node.bus.send(
        "RiskEngine.execute",
        ModifyOrder(stop.client_order_id, "X", stop.strategy_id, 0, price=106.0),
    )
    node.strategy.modify(limit, quantity=18)

    assert stop.events[-1].reason == "STOP orders take no price"  # type: ignore[attr-defined]
    assert "order quantity 18 > limit 10" in limit.events[-1].reason  # type: ignore[attr-defined]
    assert (stop.status, limit.status, limit.quantity) == (S.ACCEPTED, S.ACCEPTED, 10.0)


def test_cancel_all_over_an_oco_pair_refuses_nothing() -> None:
    node = Node()
    node.flat(100.0)
    legs = node.strategy.submit_oco(
        node.strategy.make_order(BUY, 1, price=95.0),
        node.strategy.make_order(BUY, 1, price=94.0),
    )

    node.strategy.cancel_all()

    assert [o.status for o in legs] == [S.CANCELED, S.CANCELED]
    assert not any(type(e).__name__ == "OrderCancelRejected" for o in legs for e in o.events)


def test_risk_counts_the_entries_of_a_list_together_but_one_leg_of_an_oco_group() -> None:
    node, risk = _risk_node(RiskConfig(max_position=100.0))
    node.flat(100.0)
    a = node.strategy.make_order(BUY, 60, price=99.0)
    b = node.strategy.make_order(BUY, 60, price=98.0)

    node.bus.send("RiskEngine.execute", SubmitOrderList("L", (a, b), 0))

    assert (a.status, b.status) == (S.DENIED, S.DENIED)  # 120 together > 100
    assert "position would be 120" in risk.rejections[-1].message
    # Nothing of the denied list stays counted: one buy of 100 still fits.
    assert node.strategy.buy(100, price=97.0).status is S.ACCEPTED

    node2, risk2 = _risk_node(RiskConfig(max_position=100.0))
    node2.flat(100.0)
    up = node2.strategy.make_order(BUY, 60, stop=105.0)
    down = node2.strategy.make_order(SELL, 60, stop=95.0)
    legs = node2.strategy.submit_oco(up, down)
    # Only one leg of an OCO group can fill: each is held to the limit alone.
    assert [o.status for o in legs] == [S.ACCEPTED, S.ACCEPTED]
    same_side = node2.strategy.submit_oco(
        node2.strategy.make_order(BUY, 30, price=90.0),
        node2.strategy.make_order(BUY, 30, price=89.0),
    )
    # 60 of the breakout buy is counted (as working) and one 30 leg: 90 <= 100.
    assert [o.status for o in same_side] == [S.ACCEPTED, S.ACCEPTED], risk2.rejections
