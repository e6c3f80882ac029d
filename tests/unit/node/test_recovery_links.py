"""After a restart, linked orders (brackets, OCO pairs) stay linked as they were.

A bracket's exits still waiting for their entry are held again, never sent alone; the
legs of a group cancel each other as before; nothing is sent twice.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from quantgrid.adapters.storage import OrderRecord, SqliteStore, Store
from quantgrid.core import TestClock
from quantgrid.execution import link_bracket, link_group
from quantgrid.model import (
    LiquiditySide,
    Order,
    OrderCanceled,
    OrderFilled,
    OrderPendingCancel,
    OrderSide,
    OrderStatus,
    OrderType,
    SubmitOrderList,
)
from quantgrid.node import TradingNode
from quantgrid.risk import RISK_ENDPOINT
from tests.unit.node.support import MS, START_NS, quote, running_node, trade

pytestmark = pytest.mark.anyio

ENTRY, STOP, TARGET = "b-entry", "b-stop", "b-target"
BRACKET = (ENTRY, STOP, TARGET)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "node.db", auto_migrate=True)


def _order(oid: str, side: OrderSide, order_type: OrderType, **prices: float) -> Order:
    return Order(oid, "dip", "AAPL", side, order_type, 10.0, ts_init=START_NS, **prices)


def _bracket() -> tuple[Order, ...]:
    return link_bracket(
        "bracket-1",
        _order(ENTRY, OrderSide.BUY, OrderType.LIMIT, price=99.5),
        _order(STOP, OrderSide.SELL, OrderType.STOP, trigger_price=98.0),
        _order(TARGET, OrderSide.SELL, OrderType.LIMIT, price=101.0),
    )


def _oco() -> tuple[Order, ...]:
    return link_group(
        "oco-1",
        [
            _order("oco-buy", OrderSide.BUY, OrderType.LIMIT, price=99.5),
            _order("oco-sell", OrderSide.SELL, OrderType.LIMIT, price=101.0),
        ],
    )


def _save(record: OrderRecord, store: Store) -> bool:
    return store.save_order(record)


async def _send_list(node: TradingNode, list_id: str, orders: tuple[Order, ...]) -> None:
    """Store the list's orders, then send it through the risk checks (as the host does)."""
    for order in orders:
        assert await node.writer.submit(partial(_save, OrderRecord.from_order(order)))
    node.bus.send(RISK_ENDPOINT, SubmitOrderList(list_id, orders, node.clock.timestamp_ns()))
    await node.writer.barrier()


def _restart_clock() -> TestClock:
    return TestClock(START_NS + 60_000 * MS)


def _working(node: TradingNode) -> list[str]:
    return sorted(o.client_order_id for o in node.venue.working_orders())


def _submissions(store: Store, *oids: str) -> dict[str, int]:
    return {
        oid: Counter(e.event_type for e in store.order_events(oid))["OrderSubmitted"]
        for oid in oids
    }


def _status(store: Store, oid: str) -> OrderStatus:
    stored = store.get_order(oid)
    assert stored is not None
    return stored.status


async def test_exits_waiting_at_the_restart_wait_for_their_entry_and_stay_linked(
    store: Store,
) -> None:
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await _send_list(node, "bracket-1", _bracket())
        assert _working(node) == [ENTRY]
    assert [_status(store, oid) for oid in BRACKET] == [
        OrderStatus.ACCEPTED,
        OrderStatus.INITIALIZED,
        OrderStatus.INITIALIZED,
    ]

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        report = node.recovery
        assert sorted(report.replaced) == sorted(BRACKET)
        assert report.resubmitted == ()
        assert _working(node) == [ENTRY]  # the exits do not work before the entry fills
        assert node.execution.order(STOP).status is OrderStatus.INITIALIZED  # type: ignore[union-attr]

        node.on_trade(trade(node.clock, 99.5, 10))  # the entry fills
        assert _working(node) == [STOP, TARGET]
        node.on_trade(trade(node.clock, 101.0, 10))  # the take-profit fills
        await node.writer.barrier()
        assert _working(node) == []
        stop = node.execution.order(STOP)
        assert stop is not None and stop.status is OrderStatus.CANCELED
        assert node.portfolio.position_quantity("AAPL") == 0
    assert [_status(store, oid) for oid in BRACKET] == [
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.FILLED,
    ]
    assert _submissions(store, *BRACKET) == dict.fromkeys(BRACKET, 1)


async def test_working_exits_of_a_filled_entry_still_cancel_each_other(store: Store) -> None:
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await _send_list(node, "bracket-1", _bracket())
        node.on_trade(trade(node.clock, 99.5, 10))
        await node.writer.barrier()
        assert _working(node) == [STOP, TARGET]

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        assert sorted(node.recovery.replaced) == [STOP, TARGET]
        assert _working(node) == [STOP, TARGET]
        node.on_trade(trade(node.clock, 101.0, 10))
        await node.writer.barrier()
        assert _working(node) == []
        assert node.portfolio.position_quantity("AAPL") == 0
    assert (_status(store, STOP), _status(store, TARGET)) == (
        OrderStatus.CANCELED,
        OrderStatus.FILLED,
    )
    assert _submissions(store, *BRACKET) == dict.fromkeys(BRACKET, 1)


async def test_a_partial_fill_of_one_exit_still_shrinks_the_other(store: Store) -> None:
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await _send_list(node, "bracket-1", _bracket())
        node.on_trade(trade(node.clock, 99.5, 10))
        await node.writer.barrier()

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        node.on_trade(trade(node.clock, 101.0, 4))  # 4 of the take-profit
        stop = node.execution.order(STOP)
        assert stop is not None and stop.quantity == 6  # closes only what is left


async def test_an_oco_pair_still_cancels_its_other_leg(store: Store) -> None:
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await _send_list(node, "oco-1", _oco())
        assert _working(node) == ["oco-buy", "oco-sell"]

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        assert sorted(node.recovery.replaced) == ["oco-buy", "oco-sell"]
        node.on_trade(trade(node.clock, 99.5, 10))
        await node.writer.barrier()
        assert _working(node) == []
        assert node.portfolio.position_quantity("AAPL") == 10
    assert (_status(store, "oco-buy"), _status(store, "oco-sell")) == (
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
    )
    assert _submissions(store, "oco-buy", "oco-sell") == {"oco-buy": 1, "oco-sell": 1}


async def test_a_leg_ended_at_the_restart_ends_its_group(store: Store) -> None:
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await _send_list(node, "oco-1", _oco())
    # The node stopped while a cancel of one leg was on its way.
    pending = OrderPendingCancel("oco-buy", "dip", "AAPL", START_NS + MS)
    store.append_order_event(pending, OrderStatus.PENDING_CANCEL)

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        assert sorted(node.recovery.canceled) == ["oco-buy", "oco-sell"]
        assert node.recovery.replaced == ()
        assert _working(node) == []
    assert _submissions(store, "oco-buy", "oco-sell") == {"oco-buy": 1, "oco-sell": 1}
    stored = store.get_order("oco-sell")
    assert stored is not None and stored.status is OrderStatus.CANCELED


async def test_waiting_exits_of_an_entry_that_ended_are_cancelled_never_sent(
    store: Store,
) -> None:
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await _send_list(node, "bracket-1", _bracket())
    store.append_order_event(
        OrderPendingCancel(ENTRY, "dip", "AAPL", START_NS + MS), OrderStatus.PENDING_CANCEL
    )

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        report = node.recovery
        assert sorted(report.canceled) == sorted(BRACKET)
        assert report.replaced == report.resubmitted == ()
        assert _working(node) == []
        node.on_trade(trade(node.clock, 97.0, 50))  # would trigger a stop working alone
        assert node.portfolio.position_quantity("AAPL") == 0
    for oid in (STOP, TARGET):
        events = [e.event_type for e in store.order_events(oid)]
        assert events == ["OrderCanceled"]
        detail = store.get_order(oid)
        assert detail is not None and detail.status is OrderStatus.CANCELED
    assert _submissions(store, STOP, TARGET) == {STOP: 0, TARGET: 0}


async def test_a_list_stored_but_never_sent_is_sent_whole_through_the_risk_checks(
    store: Store,
) -> None:
    async with running_node(store, session_id="one"):
        pass  # deposits the capital
    for order in _bracket():
        store.save_order(OrderRecord.from_order(order))

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        assert node.recovery.resubmitted == BRACKET
        assert node.recovery.replaced == ()
        assert _working(node) == [ENTRY]
        node.on_trade(trade(node.clock, 99.5, 10))
        assert _working(node) == [STOP, TARGET]


def _entry_fill(quantity: float) -> OrderFilled:
    """Return a fill of the bracket's entry at its limit price, made before the restart."""
    return OrderFilled(
        ENTRY,
        "dip",
        "AAPL",
        START_NS + MS,
        "lost-release",
        OrderSide.BUY,
        quantity,
        99.5,
        0.0,
        LiquiditySide.MAKER,
        "USD",
    )


async def _store_waiting_bracket(store: Store) -> None:
    """Store a bracket whose entry works and whose exits wait (as sent in a first run)."""
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await _send_list(node, "bracket-1", _bracket())
        assert _working(node) == [ENTRY]


def _quantities(node: TradingNode, *oids: str) -> list[float | None]:
    orders = [node.execution.order(oid) for oid in oids]
    return [None if o is None else o.quantity for o in orders]


async def test_exits_of_an_entry_that_filled_before_the_restart_are_released_linked(
    store: Store,
) -> None:
    await _store_waiting_bracket(store)
    # The entry's fill was stored, but the node died before the exits' release was.
    store.append_order_event(_entry_fill(10), OrderStatus.FILLED)
    assert [_status(store, oid) for oid in (STOP, TARGET)] == [OrderStatus.INITIALIZED] * 2

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        assert sorted(node.recovery.replaced) == [STOP, TARGET]
        assert node.recovery.canceled == ()
        assert _working(node) == [STOP, TARGET]
        assert _quantities(node, STOP, TARGET) == [10, 10]
        assert node.portfolio.position_quantity("AAPL") == 10
    assert _submissions(store, *BRACKET) == dict.fromkeys(BRACKET, 1)

    # A second restart finds the exits stored as sent: placed again, never sent twice.
    async with running_node(store, clock=_restart_clock(), session_id="three") as node:
        assert sorted(node.recovery.replaced) == [STOP, TARGET]
        assert _working(node) == [STOP, TARGET]
        node.on_trade(trade(node.clock, 101.0, 10))  # the take-profit fills
        await node.writer.barrier()
        assert _working(node) == []
        stop = node.execution.order(STOP)
        assert stop is not None and stop.status is OrderStatus.CANCELED
        assert node.portfolio.position_quantity("AAPL") == 0
    assert [_status(store, oid) for oid in BRACKET] == [
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.FILLED,
    ]
    assert _submissions(store, *BRACKET) == dict.fromkeys(BRACKET, 1)


async def test_released_exits_protect_the_position_they_were_released_for(store: Store) -> None:
    await _store_waiting_bracket(store)
    store.append_order_event(_entry_fill(10), OrderStatus.FILLED)

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        node.on_quote(quote(node.clock, bid=97.0, ask=97.02))  # through the stop-loss
        await node.writer.barrier()
        assert _working(node) == []
        assert node.portfolio.position_quantity("AAPL") == 0
    assert (_status(store, STOP), _status(store, TARGET)) == (
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
    )


async def test_exits_of_a_partly_filled_entry_are_released_for_the_fill_and_follow_it(
    store: Store,
) -> None:
    await _store_waiting_bracket(store)
    store.append_order_event(_entry_fill(4), OrderStatus.PARTIALLY_FILLED)

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        assert sorted(node.recovery.replaced) == sorted(BRACKET)
        assert _working(node) == sorted(BRACKET)
        assert _quantities(node, STOP, TARGET) == [4, 4]
        entry = node.execution.order(ENTRY)
        assert entry is not None and entry.leaves_qty == 6  # the rest still works
        assert node.portfolio.position_quantity("AAPL") == 4
    assert _submissions(store, *BRACKET) == dict.fromkeys(BRACKET, 1)

    async with running_node(store, clock=_restart_clock(), session_id="three") as node:
        assert _working(node) == sorted(BRACKET)
        assert _quantities(node, STOP, TARGET) == [4, 4]
        node.on_trade(trade(node.clock, 99.5, 6))  # the rest of the entry fills
        await node.writer.barrier()
        assert _working(node) == [STOP, TARGET]
        assert _quantities(node, STOP, TARGET) == [10, 10]  # the exits grew with it
        node.on_trade(trade(node.clock, 101.0, 10))
        await node.writer.barrier()
        assert _working(node) == []
        assert node.portfolio.position_quantity("AAPL") == 0
    assert [_status(store, oid) for oid in BRACKET] == [
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.FILLED,
    ]
    assert _submissions(store, *BRACKET) == dict.fromkeys(BRACKET, 1)


@pytest.mark.parametrize("cancel_pending_at_restart", [False, True])
async def test_exits_of_an_entry_cancelled_after_a_partial_fill_close_that_fill(
    store: Store, cancel_pending_at_restart: bool
) -> None:
    await _store_waiting_bracket(store)
    store.append_order_event(_entry_fill(4), OrderStatus.PARTIALLY_FILLED)
    if cancel_pending_at_restart:
        pending = OrderPendingCancel(ENTRY, "dip", "AAPL", START_NS + 2 * MS)
        store.append_order_event(pending, OrderStatus.PENDING_CANCEL)
    else:
        canceled = OrderCanceled(ENTRY, "dip", "AAPL", START_NS + 2 * MS, "canceled on request")
        store.append_order_event(canceled, OrderStatus.CANCELED)

    async with running_node(store, clock=_restart_clock(), session_id="two") as node:
        assert _working(node) == [STOP, TARGET]
        assert _quantities(node, STOP, TARGET) == [4, 4]
        node.on_trade(trade(node.clock, 101.0, 4))
        await node.writer.barrier()
        assert _working(node) == []
        assert node.portfolio.position_quantity("AAPL") == 0
    assert [_status(store, oid) for oid in BRACKET] == [
        OrderStatus.CANCELED,
        OrderStatus.CANCELED,
        OrderStatus.FILLED,
    ]
    assert _submissions(store, STOP, TARGET) == {STOP: 1, TARGET: 1}
