"""The order desk of a node: new orders, amends and cancels, and reading them back.

Every answer comes once what it reports is durable: a new order is written to the store
and the write awaited before any check or venue sees it; the events a request causes
on the loop are awaited in the store before the answer goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from functools import partial
from typing import Any, TypeVar

from quantgrid.adapters.storage import (
    ConflictError,
    FillRecord,
    InvalidRecordError,
    OrderRecord,
    Page,
    Store,
    StoredOrder,
    StoreError,
)
from quantgrid.core import Clock, MessageBus
from quantgrid.execution import ExecutionEngine
from quantgrid.model import (
    CancelAllOrders,
    CancelOrder,
    Instrument,
    ModifyOrder,
    Order,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderModifyRejected,
    OrderStatus,
    SubmitOrder,
)
from quantgrid.node import _orders
from quantgrid.node._errors import (
    NodeNotRunningError,
    OrderClosedError,
    OrderConflictError,
    OrderNotFoundError,
    OrderRefusedError,
    StorageFailedError,
)
from quantgrid.node._risk import NodeRiskEngine
from quantgrid.node._views import (
    Denial,
    OrderDetail,
    OrderRequest,
    OrderView,
    RiskDecision,
    SubmitResult,
)
from quantgrid.node._writer import SaveOrder, StoreWriter
from quantgrid.risk import RISK_ENDPOINT

_log = logging.getLogger("quantgrid.node")
T = TypeVar("T")


class OrderDesk:
    """Takes a node's orders and requests, and reads its orders back from the store.

    Parameters
    ----------
    bus, clock, instruments, execution, risk
        The node's core: requests go to the risk engine's endpoint, which checks them
        and passes them on to the execution engine.
    store, writer
        Where orders are kept, and the node's writer thread.
    require_running
        Raises ``NodeNotRunningError`` when the node does not take requests.
    kick
        Wakes the node's alert loop after a command (a venue latency sets an alert).

    Notes
    -----
    All methods run on the node's event loop; the store is read on worker threads and
    written on the writer's thread.
    """

    def __init__(
        self,
        *,
        bus: MessageBus,
        clock: Clock,
        instruments: dict[str, Instrument],
        execution: ExecutionEngine,
        risk: NodeRiskEngine,
        store: Store,
        writer: StoreWriter,
        require_running: Callable[[], None],
        kick: Callable[[], None],
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.instruments = instruments
        self.execution = execution
        self.risk = risk
        self.store = store
        self._writer = writer
        self._require_running = require_running
        self._kick = kick
        self._submitting: dict[str, asyncio.Future[bool]] = {}

    async def submit(self, request: OrderRequest) -> SubmitResult:
        """Check, store, then work a new order; return it once it is durable.

        A repeated request (same client order id, same fields) returns the order the
        first one made, with ``created=False``, and never makes a second one.

        Raises
        ------
        InvalidOrderRequestError
            If the request breaks a rule of its instrument or order type.
        OrderConflictError
            If the client order id already names an order with other fields.
        StorageFailedError
            If the store could not keep the order; nothing was sent.
        NodeNotRunningError
            If the node is not running.

        Notes
        -----
        In order: the order is written to the store and the write awaited; then, on
        one turn of the loop, the risk checks run and a passing order goes to the
        execution engine and the venue; then the events that caused are awaited in
        the store. Checking after the durable write (not before) means no other order
        can slip between an order's check and its entry in the engine.
        """
        self._require_running()
        order = _orders.new_order(self.instruments, request, self.clock.timestamp_ns())
        oid = order.client_order_id
        record = OrderRecord.from_order(order)
        first = self._submitting.get(oid)
        if first is not None:
            if not await asyncio.shield(first):
                return await self.submit(request)  # the first failed: try again as new
            return await self._repeated(record)
        if self.execution.order(oid) is not None:
            return await self._repeated(record)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._submitting[oid] = done
        # Shielded: a caller that goes away (a client disconnecting) must not leave an
        # order stored but never handed to the engine.
        work = asyncio.create_task(self._submit_new(order, record))

        def finished(task: asyncio.Task[SubmitResult]) -> None:
            del self._submitting[oid]
            done.set_result(not task.cancelled() and task.exception() is None)

        work.add_done_callback(finished)
        return await asyncio.shield(work)

    async def _submit_new(self, order: Order, record: OrderRecord) -> SubmitResult:
        try:
            created = await self._writer.submit(SaveOrder(record))
        except ConflictError:
            created = False
        except InvalidRecordError as error:
            raise _orders.invalid_record(error) from error
        except StoreError as error:
            msg = f"order {order.client_order_id} was not stored, so not sent: {error}"
            raise StorageFailedError(msg) from error
        if not created:
            return await self._repeated(record)
        self._require_running()  # stored; if the node stopped meanwhile, a restart sends it
        risk = self.risk
        try:
            self.bus.send(RISK_ENDPOINT, SubmitOrder(order, self.clock.timestamp_ns()))
        except Exception:
            _log.exception("order %s failed in the engine", order.client_order_id)
            if self.execution.order(order.client_order_id) is None:
                self.execution.deny(order, "node_error: the order failed in the engine")
            raise
        self._kick()
        rejection = risk.last_rejection if order.status is OrderStatus.DENIED else None
        view = OrderView.from_order(order)
        await self._durable()
        return SubmitResult(view, created=True, denial=Denial.of(rejection))

    async def _repeated(self, record: OrderRecord) -> SubmitResult:
        await self._durable()  # what the first request wrote
        oid = record.client_order_id
        stored = await self._read(partial(_get_order, oid))
        if stored is None:
            raise OrderNotFoundError(oid)  # pragma: no cover - the store said it had it
        differing = _orders.differing_fields(stored.order, record)
        if differing:
            raise OrderConflictError(oid, differing)
        events = await self._read(partial(_events, oid))
        view = OrderView.from_stored(stored, events, live=self.execution.order(oid))
        denial = next(
            (Denial.from_reason(e.reason) for e in events if isinstance(e, OrderDenied)), None
        )
        return SubmitResult(view, created=False, denial=denial)

    async def amend(
        self,
        client_order_id: str,
        *,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> OrderView:
        """Change a working order's quantity or prices; return it once durable.

        Raises
        ------
        OrderNotFoundError, OrderClosedError
            If there is no such order, or it has ended.
        InvalidOrderRequestError
            If nothing is changed, or a value breaks the instrument's lot or tick.
        OrderRefusedError
            If the risk checks, the engine or the venue refused the amend (the order
            works on unchanged).
        """
        self._require_running()
        order = await self._working(client_order_id)
        instrument = self.instruments[order.instrument_id]
        _orders.check_amend(instrument, quantity, price, trigger_price)
        command = ModifyOrder(
            client_order_id,
            order.instrument_id,
            order.strategy_id,
            self.clock.timestamp_ns(),
            quantity,
            price,
            trigger_price,
        )
        return await self._request(order, command, OrderModifyRejected)

    async def cancel(self, client_order_id: str) -> OrderView:
        """Cancel a working order; return it (PENDING_CANCEL or CANCELED) once durable.

        Raises
        ------
        OrderNotFoundError, OrderClosedError
            If there is no such order, or it has ended.
        OrderRefusedError
            If the venue refused the cancel (the order filled first, say).
        """
        self._require_running()
        order = await self._working(client_order_id)
        command = CancelOrder(
            client_order_id, order.instrument_id, order.strategy_id, self.clock.timestamp_ns()
        )
        return await self._request(order, command, OrderCancelRejected)

    async def _request(
        self, order: Order, command: object, refusal_type: type[OrderEvent]
    ) -> OrderView:
        seen = len(order.events)
        self.bus.send(RISK_ENDPOINT, command)
        self._kick()
        refusal = next((e for e in order.events[seen:] if type(e) is refusal_type), None)
        view = OrderView.from_order(order)
        await self._durable()
        if refusal is not None:
            assert isinstance(refusal, OrderModifyRejected | OrderCancelRejected)
            raise OrderRefusedError(order.client_order_id, refusal.reason)
        return view

    async def _working(self, client_order_id: str) -> Order:
        order = self.execution.order(client_order_id)
        if order is None:
            stored = await self._read(partial(_get_order, client_order_id))
            if stored is None:
                raise OrderNotFoundError(client_order_id)
            raise OrderClosedError(client_order_id, stored.status)
        if order.is_closed:
            raise OrderClosedError(client_order_id, order.status)
        return order

    async def cancel_all(
        self, strategy_id: str | None = None, instrument_id: str | None = None
    ) -> list[str]:
        """Cancel every working order (of one strategy, of one instrument, if given).

        Returns the client order ids of the orders now cancelled or pending cancel.
        """
        self._require_running()
        before = self._open_ids(strategy_id, instrument_id)
        strategies = sorted({self._order(oid).strategy_id for oid in before})
        ts = self.clock.timestamp_ns()
        for strategy in strategies:
            self.bus.send(RISK_ENDPOINT, CancelAllOrders(strategy, instrument_id, ts))
        self._kick()
        return await self._canceled(before)

    async def _canceled(self, before: list[str]) -> list[str]:
        gone = (OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED)
        canceled = [oid for oid in before if self._order(oid).status in gone]
        await self._durable()
        return canceled

    def _open_ids(self, strategy_id: str | None, instrument_id: str | None) -> list[str]:
        return [
            o.client_order_id
            for o in self.execution.open_orders(strategy_id)
            if instrument_id in (None, o.instrument_id)
        ]

    def _order(self, client_order_id: str) -> Order:
        order = self.execution.order(client_order_id)
        assert order is not None
        return order

    async def get_order(self, client_order_id: str) -> OrderDetail:
        """Return an order as stored, with its history and fills.

        Raises
        ------
        OrderNotFoundError
            If no order has this id.
        """
        self._require_running()
        stored = await self._read(partial(_get_order, client_order_id))
        if stored is None:
            raise OrderNotFoundError(client_order_id)
        history, fills = await self._read(partial(_history, client_order_id))
        events = [e.decode() for e in history]
        view = OrderView.from_stored(stored, events, live=self.execution.order(client_order_id))
        return OrderDetail(view, tuple(history), tuple(fills))

    async def list_orders(
        self,
        *,
        strategy_id: str | None = None,
        status: Collection[OrderStatus] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[OrderView]:
        """Return stored orders by ``ts_init`` then id, ``limit`` at a time.

        Raises
        ------
        InvalidRecordError
            For a bad ``limit``, range or cursor (the message names it).
        """
        self._require_running()
        page = await self._read(
            partial(
                _orders.read_orders,
                strategy_id=strategy_id,
                status=status,
                since_ns=since_ns,
                until_ns=until_ns,
                limit=limit,
                after=after,
            )
        )
        # Orders the engine holds give their current quantity and prices; the others
        # (ended in an earlier run) get them from their stored amends.
        unknown = [
            s.order.client_order_id
            for s in page.items
            if self.execution.order(s.order.client_order_id) is None
        ]
        histories = await self._read(partial(_orders.read_histories, client_order_ids=unknown))
        views = tuple(
            OrderView.from_stored(
                stored,
                histories.get(stored.order.client_order_id, ()),
                live=self.execution.order(stored.order.client_order_id),
            )
            for stored in page.items
        )
        return Page(views, page.next_cursor)

    async def list_fills(
        self,
        *,
        client_order_id: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[FillRecord]:
        """Return stored fills by ``ts_event`` then trade id, ``limit`` at a time."""
        self._require_running()
        return await self._read(
            partial(
                _list_fills,
                client_order_id=client_order_id,
                since_ns=since_ns,
                until_ns=until_ns,
                limit=limit,
                after=after,
            )
        )

    async def approve(self, request: OrderRequest) -> RiskDecision:
        """Run the pre-trade checks on ``request`` without sending or recording it."""
        self._require_running()
        order = _orders.new_order(self.instruments, request, self.clock.timestamp_ns())
        rejection = self.risk.check(order)
        return RiskDecision(rejection is None, self.risk.state, Denial.of(rejection))

    async def kill(self, reason: str) -> list[str]:
        """Halt, then cancel every working order; return the orders cancelled."""
        self._require_running()
        before = self._open_ids(None, None)
        self.risk.kill(reason)
        self._kick()
        return await self._canceled(before)

    async def _durable(self) -> None:
        try:
            await self._writer.barrier()
        except RuntimeError as error:  # the writer stopped with the node
            raise NodeNotRunningError(str(error)) from error

    async def _read(self, read: Callable[[Store], T]) -> T:
        return await asyncio.to_thread(read, self.store)


# Store calls, as module functions run on the writer or a worker thread.
def _get_order(client_order_id: str, store: Store) -> StoredOrder | None:
    return store.get_order(client_order_id)


def _events(client_order_id: str, store: Store) -> list[OrderEvent]:
    return [e.decode() for e in store.order_events(client_order_id)]


def _history(client_order_id: str, store: Store) -> tuple[list[Any], list[FillRecord]]:
    history = store.order_events(client_order_id)
    fills: list[FillRecord] = []
    after: str | None = None
    while True:
        page = store.list_fills(client_order_id=client_order_id, limit=1000, after=after)
        fills.extend(page.items)
        after = page.next_cursor
        if after is None:
            return history, fills


def _list_fills(store: Store, **query: Any) -> Page[FillRecord]:
    return store.list_fills(**query)
