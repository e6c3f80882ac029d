"""A node that starts again on the same store picks up where the last one stopped."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import (
    InMemoryStore,
    OrderRecord,
    PositionRecord,
    SqliteStore,
    Store,
)
from quantgrid.core import NANOS_PER_DAY, TestClock
from quantgrid.model import (
    LiquiditySide,
    OrderAccepted,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    TimeInForce,
)
from quantgrid.node import RecoveryError, TradingNode
from quantgrid.risk import RiskConfig
from tests.unit.node.support import (
    MS,
    START_NS,
    limit_buy,
    make_config,
    market,
    quote,
    running_node,
    trade,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "node.db", auto_migrate=True)


def _history(store: Store, oid: str) -> list[str]:
    return [e.event_type for e in store.order_events(oid)]


async def _first_run(store: Store) -> None:
    """Trade a little, then stop with orders working: a fill, a partial, an amend."""
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await node.submit(market("m-1", quantity=5))  # filled at 100.02
        await node.submit(limit_buy("o-1", quantity=10, price=99.5))
        await node.submit(limit_buy("o-2", quantity=8, price=99.4))
        node.on_trade(trade(node.clock, 99.5, 4))  # 4 of o-1 at its limit
        await node.amend("o-2", quantity=6)
        assert node.execution.order("o-1").filled_qty == 4  # type: ignore[union-attr]


async def test_open_orders_and_positions_come_back_and_nothing_is_sent_twice(
    store: Store,
) -> None:
    await _first_run(store)
    fills_before = [f.trade_id for f in store.list_fills().items]
    histories = {oid: _history(store, oid) for oid in ("m-1", "o-1", "o-2")}
    cash_before = store.cash_balances("paper")

    clock = TestClock(START_NS + 60_000 * MS)
    async with running_node(store, clock=clock, session_id="two") as node:
        report = node.recovery
        assert report.fills == 2
        assert report.replaced == ("o-1", "o-2")
        working = node.venue.working_orders()
        assert Counter(o.client_order_id for o in working) == {"o-1": 1, "o-2": 1}
        o1 = node.execution.order("o-1")
        o2 = node.execution.order("o-2")
        assert o1 is not None and o2 is not None
        assert (o1.quantity, o1.filled_qty, o1.leaves_qty) == (10, 4, 6)
        assert o2.quantity == 6  # the amend came back
        # The re-placement's submission and acceptance were not stored again.
        assert {oid: _history(store, oid) for oid in histories} == histories
        assert [f.trade_id for f in store.list_fills().items] == fills_before
        assert node.portfolio.position_quantity("AAPL") == 9
        assert store.cash_balances("paper") == cash_before
        assert node.portfolio.cash == pytest.approx(float(cash_before["USD"]), abs=1e-9)

        # The remainder fills, and only the remainder: 6 more of o-1, not 10.
        node.on_trade(trade(node.clock, 99.3, 50))
        await node.writer.barrier()
        assert o1.status is OrderStatus.FILLED and o1.filled_qty == 10
        stored = store.get_order("o-1")
        assert stored is not None
        assert (stored.status, stored.filled_qty) == (OrderStatus.FILLED, Decimal("10.0"))
        new_fills = [f for f in store.list_fills().items if f.trade_id not in fills_before]
        assert {f.trade_id.rsplit("-", 1)[0] for f in new_fills} == {"PAPER-two"}
        assert sum(f.quantity for f in new_fills) == Decimal("12.0")  # 6 of o-1, 6 of o-2

    async with running_node(
        store, clock=TestClock(START_NS + 120_000 * MS), session_id="three"
    ) as node:
        assert node.recovery.replaced == ()
        assert node.recovery.fills == 4
        assert node.portfolio.position_quantity("AAPL") == 21
        assert node.venue.working_orders() == []


async def test_a_retry_after_a_restart_returns_the_stored_order(store: Store) -> None:
    await _first_run(store)
    async with running_node(
        store, clock=TestClock(START_NS + MS * 10_000), session_id="two"
    ) as node:
        again = await node.submit(limit_buy("o-1", quantity=10, price=99.5))
        assert not again.created
        assert again.order.filled_qty == Decimal("4.0")
        assert again.order.status is OrderStatus.PARTIALLY_FILLED
        assert len(node.venue.working_orders()) == 2


def _store_order(
    store: Store, oid: str, *events: object, tif: TimeInForce = TimeInForce.GTC
) -> None:
    store.save_order(
        OrderRecord(
            client_order_id=oid,
            strategy_id="manual",
            instrument_id="AAPL",
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=Decimal(10),
            price=Decimal("99.5"),
            time_in_force=tif,
            ts_init=START_NS,
        )
    )
    status = {
        OrderSubmitted: OrderStatus.SUBMITTED,
        OrderAccepted: OrderStatus.ACCEPTED,
        OrderPendingCancel: OrderStatus.PENDING_CANCEL,
        OrderPendingUpdate: OrderStatus.PENDING_UPDATE,
    }
    for event in events:
        store.append_order_event(event, status[type(event)])  # type: ignore[arg-type]


def _sent(oid: str) -> tuple[OrderSubmitted, OrderAccepted]:
    return (
        OrderSubmitted(oid, "manual", "AAPL", START_NS),
        OrderAccepted(oid, "manual", "AAPL", START_NS, f"OLD-{oid}"),
    )


async def test_orders_caught_between_steps_by_a_crash_are_settled() -> None:
    store = InMemoryStore()
    async with running_node(store, session_id="one"):
        pass  # deposits the capital
    _store_order(store, "never-sent")
    _store_order(store, "in-flight", OrderSubmitted("in-flight", "manual", "AAPL", START_NS))
    _store_order(
        store,
        "cancelling",
        *_sent("cancelling"),
        OrderPendingCancel("cancelling", "manual", "AAPL", 1),
    )
    _store_order(
        store, "amending", *_sent("amending"), OrderPendingUpdate("amending", "manual", "AAPL", 1)
    )
    _store_order(store, "yesterday", *_sent("yesterday"), tif=TimeInForce.DAY)

    clock = TestClock(START_NS + NANOS_PER_DAY + MS)
    async with running_node(store, clock=clock, session_id="two") as node:
        report = node.recovery
        assert report.resubmitted == ("never-sent",)
        assert report.canceled == ("cancelling",)
        assert report.amends_lost == ("amending",)
        assert report.expired == ("yesterday",)
        assert sorted(report.replaced) == ["amending", "in-flight"]
        statuses = {
            oid: store.get_order(oid).status  # type: ignore[union-attr]
            for oid in ("never-sent", "in-flight", "cancelling", "amending", "yesterday")
        }
        assert statuses == {
            "never-sent": OrderStatus.ACCEPTED,
            "in-flight": OrderStatus.ACCEPTED,  # its first acceptance is stored
            "cancelling": OrderStatus.CANCELED,
            "amending": OrderStatus.ACCEPTED,
            "yesterday": OrderStatus.EXPIRED,
        }
        assert _history(store, "in-flight") == ["OrderSubmitted", "OrderAccepted"]
        assert _history(store, "amending")[-1] == "OrderModifyRejected"
        assert store.get_order("amending").venue_order_id == "OLD-amending"  # type: ignore[union-attr]
        assert sorted(o.client_order_id for o in node.venue.working_orders()) == [
            "amending",
            "in-flight",
            "never-sent",
        ]


async def test_a_resubmitted_order_goes_through_the_risk_checks() -> None:
    store = InMemoryStore()
    async with running_node(store, session_id="one"):
        pass
    _store_order(store, "never-sent")
    async with running_node(store, session_id="two", risk=RiskConfig(max_order_quantity=5)):
        stored = store.get_order("never-sent")
        assert stored is not None and stored.status is OrderStatus.DENIED


async def test_lagging_snapshots_and_cash_are_repaired_from_the_fills() -> None:
    store = InMemoryStore()
    async with running_node(store, session_id="one") as node:
        node.on_quote(quote(node.clock))
        await node.submit(market("m-1", quantity=5))
    # As if the run died after the fill and before its snapshot and cash were written.
    (snapshot,) = store.positions("paper")
    lagging = InMemoryStore()
    for event in store.account_events("paper")[:1]:
        lagging.append_account_event(event)
    record = store.get_order("m-1")
    assert record is not None
    lagging.save_order(record.order)
    for entry in store.order_events("m-1"):
        lagging.append_order_event(entry.decode(), entry.status)
    lagging.upsert_position(
        PositionRecord(
            account_id="paper",
            instrument_id="AAPL",
            quantity=Decimal(0),
            avg_px_open=Decimal(0),
            realized_pnl=Decimal(0),
            ts_event=START_NS,
        )
    )
    async with running_node(lagging, session_id="two") as node:
        assert node.recovery.positions_repaired == ("AAPL",)
        await node.writer.barrier()
        (repaired,) = lagging.positions("paper")
        assert repaired.quantity == snapshot.quantity == Decimal("5.0")
        assert lagging.cash_balances("paper") == store.cash_balances("paper")


async def test_a_store_of_another_capital_is_refused() -> None:
    store = InMemoryStore()
    async with running_node(store, session_id="one"):
        pass
    node = TradingNode(
        make_config(initial_cash=50_000.0),
        store=store,
        bus=InProcessEventBus(),
        clock=TestClock(START_NS),
        session_id="two",
    )
    with pytest.raises(RecoveryError, match="initial_cash=50000"):
        await node.start()
    assert not node.running


async def test_fills_are_counted_once_by_trade_id() -> None:
    store = InMemoryStore()
    async with running_node(store) as node:
        node.on_quote(quote(node.clock))
        await node.submit(limit_buy("o-1", quantity=10, price=99.5))
        fill = OrderFilled(
            "o-1",
            "manual",
            "AAPL",
            START_NS + 5 * MS,
            "X-1",
            OrderSide.BUY,
            3.0,
            99.5,
            0.0,
            LiquiditySide.MAKER,
        )
        # A venue repeating a fill: the node passes it to the engine once.
        node.bus.send("ExecEngine.process", fill)
        node.bus.send("ExecEngine.process", fill)
        # A fill the store already has (redelivered from elsewhere): stored once.
        node.recorder.record(fill, OrderStatus.PARTIALLY_FILLED)
        await node.writer.barrier()
        assert node.portfolio.position_quantity("AAPL") == 3
        assert [f.trade_id for f in store.list_fills().items] == ["X-1"]
        trades = [e for e in store.account_events("paper") if e.event_id.startswith("X-1")]
        assert len(trades) == 1
        assert node.stats()["duplicate_fills"] == 2
