"""Orders through the node: durable before acknowledged, idempotent, denied with reasons."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import AccountEventKind, InMemoryStore, StoreUnavailableError
from quantgrid.core import TestClock
from quantgrid.model import OrderSide, OrderStatus, OrderType
from quantgrid.node import (
    InvalidOrderRequestError,
    NodeNotRunningError,
    OrderClosedError,
    OrderConflictError,
    OrderNotFoundError,
    OrderRefusedError,
    OrderRequest,
    StorageFailedError,
    TradingNode,
)
from quantgrid.risk import RiskConfig, TradingState
from tests.unit.node.support import (
    MS,
    RecordingStore,
    limit_buy,
    make_config,
    market,
    quote,
    running_node,
    trade,
)

pytestmark = pytest.mark.anyio


async def test_an_order_is_acknowledged_only_after_the_store_has_it() -> None:
    store = RecordingStore()
    async with running_node(store) as node:
        store.node = node
        result = await node.submit(limit_buy("o-1"))
        # Stored first, before the engine knew the order; its events after it.
        assert store.calls[0] == ("save_order", "o-1", False)
        assert [c[0] for c in store.calls[1:]] == ["OrderSubmitted", "OrderAccepted"]
        stored = store.get_order("o-1")
        assert stored is not None and stored.status is OrderStatus.ACCEPTED
        assert result.created and result.order.status is OrderStatus.ACCEPTED
        assert result.order.venue_order_id == stored.venue_order_id == "PAPER-s1-1"


async def test_the_engine_sees_nothing_until_the_write_returns() -> None:
    store = RecordingStore()
    async with running_node(store) as node:
        store.node = node
        store.gate.clear()
        pending = asyncio.create_task(node.submit(limit_buy("o-1")))
        await asyncio.sleep(0.05)
        assert not pending.done()
        assert node.execution.order("o-1") is None
        assert node.venue.working_orders() == []
        store.gate.set()
        result = await asyncio.wait_for(pending, 5)
        assert result.order.status is OrderStatus.ACCEPTED


async def test_an_order_the_store_cannot_keep_is_not_sent() -> None:
    store = RecordingStore()
    async with running_node(store) as node:
        store.fail_saves = StoreUnavailableError("database is down")
        with pytest.raises(StorageFailedError, match="not stored, so not sent"):
            await node.submit(limit_buy("o-1"))
        assert node.execution.order("o-1") is None
        assert node.venue.working_orders() == []
        store.fail_saves = None
        result = await node.submit(limit_buy("o-1"))  # the retry goes through
        assert result.created


async def test_a_repeated_request_returns_the_first_order_and_makes_no_second() -> None:
    store = InMemoryStore()
    async with running_node(store) as node:
        first = await node.submit(limit_buy("o-1"))
        again = await node.submit(limit_buy("o-1"))
        assert first.created and not again.created
        assert again.order.client_order_id == "o-1"
        assert again.order.status is OrderStatus.ACCEPTED
        assert len(node.venue.working_orders()) == 1
        assert node.execution.duplicate_submissions == 0  # never reached the engine
        assert len(store.list_orders().items) == 1
        assert [e.event_type for e in store.order_events("o-1")] == [
            "OrderSubmitted",
            "OrderAccepted",
        ]


async def test_concurrent_repeats_make_one_order() -> None:
    store = RecordingStore()
    async with running_node(store) as node:
        store.gate.clear()
        tasks = [asyncio.create_task(node.submit(limit_buy("o-1"))) for _ in range(3)]
        await asyncio.sleep(0.02)
        store.gate.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert sorted(r.created for r in results) == [False, False, True]
        assert {r.order.venue_order_id for r in results} == {"PAPER-s1-1"}
        assert [c for c in store.calls if c[0] == "save_order"] == [("save_order", "o-1", False)]


async def test_an_id_reused_with_other_fields_is_a_conflict() -> None:
    async with running_node() as node:
        await node.submit(limit_buy("o-1", quantity=10))
        with pytest.raises(OrderConflictError) as error:
            await node.submit(limit_buy("o-1", quantity=20, price=99.0))
        assert error.value.fields == ["quantity", "price"]


async def test_a_denied_order_is_stored_denied_and_reports_its_numbers() -> None:
    store = InMemoryStore()
    async with running_node(store, risk=RiskConfig(max_order_quantity=5)) as node:
        result = await node.submit(limit_buy("o-1", quantity=10))
        assert result.order.status is OrderStatus.DENIED
        assert result.denial is not None
        assert (result.denial.check, result.denial.value, result.denial.limit) == (
            "max_order_quantity",
            10.0,
            5.0,
        )
        stored = store.get_order("o-1")
        assert stored is not None and stored.status is OrderStatus.DENIED
        again = await node.submit(limit_buy("o-1", quantity=10))
        assert not again.created and again.denial is not None
        assert again.denial.check == "max_order_quantity"
        assert again.denial.value is None  # only the stored reason is known
        assert node.venue.working_orders() == []


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (OrderRequest("o-1", "TSLA", OrderSide.BUY, OrderType.MARKET, 1), "instrument_id"),
        (OrderRequest("o-1", "AAPL", OrderSide.BUY, OrderType.LIMIT, 1), "price"),
        (OrderRequest("o-1", "AAPL", OrderSide.BUY, OrderType.MARKET, 1, price=1.0), "price"),
        (OrderRequest("o-1", "AAPL", OrderSide.BUY, OrderType.STOP, 1), "trigger_price"),
        (OrderRequest("o-1", "AAPL", OrderSide.BUY, OrderType.MARKET, 1.5), "quantity"),
        (OrderRequest("o-1", "AAPL", OrderSide.BUY, OrderType.LIMIT, 1, price=99.001), "price"),
        (OrderRequest("o 1", "AAPL", OrderSide.BUY, OrderType.MARKET, 1), "client_order_id"),
        (
            OrderRequest("o-1", "AAPL", OrderSide.BUY, OrderType.MARKET, 1, post_only=True),
            "post_only",
        ),
    ],
)
async def test_a_request_breaking_a_rule_names_the_field(
    request_: OrderRequest, field: str
) -> None:
    store = InMemoryStore()
    async with running_node(store) as node:
        with pytest.raises(InvalidOrderRequestError) as error:
            await node.submit(request_)
        assert error.value.field == field
        assert store.list_orders().items == ()


async def test_events_are_stored_then_published_in_order() -> None:
    bus = InProcessEventBus()
    seen: list[str] = []

    async def on_event(message: object) -> None:
        seen.append(type(message).__name__)

    await bus.subscribe("events.>", on_event)
    store = InMemoryStore()
    async with running_node(store, bus=bus) as node:
        node.on_quote(quote(node.clock))
        await node.submit(market("o-1"))
    await bus.drain()
    assert seen == ["OrderSubmitted", "OrderAccepted", "OrderFilled", "PositionChanged"]
    assert [e.event_type for e in store.order_events("o-1")] == seen[:3]


async def test_a_fill_stores_the_fill_its_cash_and_the_position() -> None:
    store = InMemoryStore()
    async with running_node(store) as node:
        node.on_quote(quote(node.clock, ask=100.07))
        result = await node.submit(market("o-1", quantity=7))
        assert result.order.status is OrderStatus.FILLED
        assert result.order.avg_px == Decimal("100.07")
        fills = store.list_fills().items
        assert [(f.quantity, f.price) for f in fills] == [(Decimal("7.0"), Decimal("100.07"))]
        kinds = [e.kind for e in store.account_events("paper")]
        assert kinds == [AccountEventKind.DEPOSIT, AccountEventKind.TRADE]
        # Exact: capital less 7 x 100.07, to the cent.
        assert store.cash_balances("paper") == {"USD": Decimal("99299.51")}
        assert node.portfolio.cash == pytest.approx(99299.51, abs=1e-9)
        (position,) = store.positions("paper")
        assert (position.instrument_id, position.quantity) == ("AAPL", Decimal("7.0"))
        cash = await node.cash()
        assert cash.balance == Decimal("99299.51")


async def test_amend_cancel_and_cancel_all() -> None:
    store = InMemoryStore()
    async with running_node(store) as node:
        await node.submit(limit_buy("o-1"))
        await node.submit(limit_buy("o-2", price=99.4))
        await node.submit(
            OrderRequest("o-3", "MSFT", OrderSide.SELL, OrderType.LIMIT, 3, price=300.0)
        )
        amended = await node.amend("o-1", quantity=20, price=99.6)
        assert (amended.quantity, amended.price) == (Decimal("20.0"), Decimal("99.6"))
        assert amended.status is OrderStatus.ACCEPTED
        canceled = await node.cancel("o-2")
        assert canceled.status is OrderStatus.CANCELED
        assert await node.cancel_all(instrument_id="AAPL") == ["o-1"]
        assert [o.client_order_id for o in node.venue.working_orders()] == ["o-3"]
        stored = store.get_order("o-1")
        assert stored is not None and stored.status is OrderStatus.CANCELED
        with pytest.raises(OrderClosedError, match="CANCELED"):
            await node.cancel("o-2")
        with pytest.raises(OrderNotFoundError):
            await node.amend("nope", quantity=1)
        with pytest.raises(InvalidOrderRequestError, match="at least one"):
            await node.amend("o-3")


async def test_a_refused_amend_leaves_the_order_working() -> None:
    async with running_node() as node:
        await node.submit(limit_buy("o-1", quantity=10))
        node.on_trade(trade(node.clock, 99.5, 4))  # fills 4 at our limit
        assert node.execution.order("o-1").filled_qty == 4  # type: ignore[union-attr]
        with pytest.raises(OrderRefusedError, match="filled"):
            await node.amend("o-1", quantity=3)
        detail = await node.get_order("o-1")
        assert detail.order.status is OrderStatus.PARTIALLY_FILLED
        assert detail.order.quantity == Decimal("10.0")
        assert detail.events[-1].event_type == "OrderModifyRejected"


async def test_halt_kill_and_resume() -> None:
    async with running_node() as node:
        await node.submit(limit_buy("o-1"))
        status = await node.halt("test")
        assert status.state is TradingState.HALTED
        denied = await node.submit(limit_buy("o-2"))
        assert denied.denial is not None and denied.denial.check == "halted"
        await node.resume("back")
        await node.submit(limit_buy("o-3"))
        assert sorted(await node.kill("panic")) == ["o-1", "o-3"]
        status = await node.risk_status()
        assert status.state is TradingState.HALTED
        assert "kill switch" in status.reason
        assert node.venue.working_orders() == []


async def test_dry_run_approval_sends_and_records_nothing() -> None:
    store = InMemoryStore()
    async with running_node(store, risk=RiskConfig(max_position=15)) as node:
        assert (await node.approve(limit_buy("x", quantity=10))).approved
        decision = await node.approve(limit_buy("x", quantity=20))
        assert not decision.approved and decision.denial is not None
        assert decision.denial.check == "max_position"
        assert store.list_orders().items == ()
        assert node.risk.denied == 0


async def test_limits_change_while_running() -> None:
    async with running_node() as node:
        await node.set_risk_limits(RiskConfig(max_order_quantity=5, halt_at_drawdown=0.5))
        result = await node.submit(limit_buy("o-1", quantity=10))
        assert result.denial is not None and result.denial.check == "max_order_quantity"
        assert (await node.risk_limits()).max_order_quantity == 5
        await node.set_risk_limits(RiskConfig())
        assert (await node.submit(limit_buy("o-2", quantity=10))).denial is None


async def test_list_orders_and_fills_page_through_the_store() -> None:
    async with running_node() as node:
        node.on_quote(quote(node.clock))
        clock = node.clock
        assert isinstance(clock, TestClock)
        for i in range(3):
            await node.submit(limit_buy(f"o-{i}", price=99.5 - i / 100))
            clock.advance_to(clock.timestamp_ns() + MS)
        await node.submit(market("m-1"))
        await node.amend("o-0", quantity=12)
        first = await node.list_orders(limit=2)
        assert [o.client_order_id for o in first.items] == ["o-0", "o-1"]
        assert first.items[0].quantity == Decimal("12.0")  # the current quantity
        rest = await node.list_orders(limit=2, after=first.next_cursor)
        assert [o.client_order_id for o in rest.items] == ["o-2", "m-1"]
        filled = await node.list_orders(status=[OrderStatus.FILLED])
        assert [o.client_order_id for o in filled.items] == ["m-1"]
        fills = await node.list_fills(client_order_id="m-1")
        assert len(fills.items) == 1
        detail = await node.get_order("m-1")
        assert [f.trade_id for f in detail.fills] == [fills.items[0].trade_id]


async def test_a_node_that_is_not_running_takes_nothing() -> None:
    node = TradingNode(make_config(), store=InMemoryStore(), bus=InProcessEventBus())
    with pytest.raises(NodeNotRunningError, match="not started"):
        await node.submit(limit_buy("o-1"))
    await node.start()
    with pytest.raises(RuntimeError, match="starts once"):
        await node.start()
    await node.stop()
    with pytest.raises(NodeNotRunningError, match="stopped"):
        await node.submit(limit_buy("o-1"))


async def test_a_failed_event_write_halts_trading() -> None:
    class BrokenEvents(InMemoryStore):
        def append_order_event(self, event: object, status: object) -> bool:
            raise StoreUnavailableError("disk full")

    async with running_node(BrokenEvents()) as node:
        await node.submit(limit_buy("o-1"))
        assert node.storage_failures >= 1
        assert node.risk.state is TradingState.HALTED
        with pytest.raises(StorageFailedError):
            await node.check_ready()


async def test_a_caller_that_goes_away_leaves_no_order_stranded() -> None:
    store = RecordingStore()
    async with running_node(store) as node:
        store.gate.clear()
        caller = asyncio.create_task(node.submit(limit_buy("o-1")))
        await asyncio.sleep(0.02)
        caller.cancel()  # the client disconnected while the order was being stored
        store.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await asyncio.wait_for(node.writer.barrier(), 5)
        for _ in range(100):  # the handoff finishes on its own, within a second
            if node.execution.order("o-1") is not None:
                break
            await asyncio.sleep(0.01)
        await node.writer.barrier()
        stored = store.get_order("o-1")
        assert stored is not None and stored.status is OrderStatus.ACCEPTED
        again = await node.submit(limit_buy("o-1"))
        assert not again.created and again.order.status is OrderStatus.ACCEPTED
