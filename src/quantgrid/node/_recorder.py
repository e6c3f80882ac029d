"""From the core to the store, then to the event bus: the node's outbox.

Every order event the execution engine publishes on the core bus is appended to its
order's history in the store (an ``OrderFilled`` records its fill in the same write),
each fill's cash movements are appended to the account, and each position change is
stored as a snapshot. Only once a write is durable is its event published on the
event bus, in the order the writes were made: a subscriber never sees an event the
store could lose.
"""

from __future__ import annotations

import asyncio
import contextlib
import decimal
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from quantgrid.adapters.bus import EventBus, Message, register_message_type
from quantgrid.adapters.storage import (
    ORDER_EVENT_TYPES,
    AccountEventKind,
    AccountEventRecord,
    PositionRecord,
    Store,
    to_decimal,
)
from quantgrid.core import MessageBus
from quantgrid.execution import ExecutionEngine, order_event_topic
from quantgrid.model import (
    Instrument,
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderStatus,
    OrderSubmitted,
    PositionChanged,
)
from quantgrid.node._writer import StoreWriter
from quantgrid.portfolio import POSITION_TOPIC
from quantgrid.risk import STATE_TOPIC, TradingStateChanged

_log = logging.getLogger("quantgrid.node")

#: Runs before any other subscriber of an order event, so the order's status read
#: when recording the event is the one the event left.
RECORD_PRIORITY = 1_000
_PUBLISH_BATCH = 256
_EXACT = decimal.Context(prec=80)
_STORE_PLACES = Decimal(1).scaleb(-18)  # the store keeps at most 18 decimal places

for _order_event in ORDER_EVENT_TYPES.values():
    register_message_type(_order_event)
register_message_type(PositionChanged)
register_message_type(TradingStateChanged)

Outgoing = tuple[str, Message, str | None]


class EventRecorder:
    """Stores what the core reports, then publishes it on the event bus.

    Parameters
    ----------
    bus
        The node's core message bus, subscribed to.
    event_bus
        Where durable events are published (``events.order.<kind>``,
        ``events.position.changed``, ``events.risk.state``).
    writer
        The node's store writer.
    execution
        The execution engine, whose orders give each event's status.
    instruments, account_id
        Value fills (multipliers) and name the account of cash and positions.
    on_failure
        Called with the error when a write fails for good (the node halts trading).

    Notes
    -----
    ``muted`` silences recording while the node replays stored fills into its
    portfolio at start. ``replacing`` maps the orders being placed again on a new
    venue to their stored status: the engine's ``OrderSubmitted`` of a re-placement is
    not stored again (the history has it), nor is its ``OrderAccepted`` unless the
    order had never been accepted; every later event is.
    """

    def __init__(
        self,
        *,
        bus: MessageBus,
        event_bus: EventBus,
        writer: StoreWriter,
        execution: ExecutionEngine,
        instruments: Mapping[str, Instrument],
        account_id: str,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self._event_bus = event_bus
        self._writer = writer
        self._execution = execution
        self._multipliers = {iid: to_decimal(i.multiplier) for iid, i in instruments.items()}
        self._account_id = account_id
        self._on_failure = on_failure
        self._outbox: asyncio.Queue[Outgoing] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self.muted = True
        self.replacing: dict[str, OrderStatus] = {}
        self.duplicate_fills = 0
        self.published = 0
        self.publish_failures = 0
        bus.subscribe("events.order.>", self.on_order_event, priority=RECORD_PRIORITY)
        bus.subscribe(POSITION_TOPIC, self.on_position, priority=RECORD_PRIORITY)
        bus.subscribe(STATE_TOPIC, self.on_trading_state)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start publishing; call on the node's event loop."""
        self._outbox = asyncio.Queue()
        self._publisher = asyncio.create_task(self._publish_loop(), name="quantgrid-node-outbox")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Publish what is queued (waiting at most ``timeout_s``), then stop."""
        if self._publisher is None or self._outbox is None:
            return
        outbox = self._outbox
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(outbox.join(), timeout_s)
        self._publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._publisher
        self._publisher = None

    @property
    def unpublished(self) -> int:
        """Return how many durable events wait to be published."""
        return 0 if self._outbox is None else self._outbox.qsize()

    # -- core bus handlers -----------------------------------------------------------------
    def on_order_event(self, event: OrderEvent) -> None:
        """Record an event the execution engine applied to one of its orders."""
        if self.muted:
            return
        oid = event.client_order_id
        stored_status = self.replacing.get(oid)
        if stored_status is not None:
            if type(event) is OrderSubmitted:
                return  # the stored history already has the order's submission
            del self.replacing[oid]
            if type(event) is OrderAccepted and stored_status is not OrderStatus.SUBMITTED:
                return  # accepted before the restart; the stored venue order id stays
        order = self._execution.order(oid)
        assert order is not None, f"the engine published {type(event).__name__} of {oid}"
        self.record(event, order.status)

    def record(self, event: OrderEvent, status: OrderStatus) -> None:
        """Append ``event`` (and a fill's cash movements) to the store, then publish it."""
        topic = order_event_topic(event)
        if type(event) is OrderFilled:
            assert isinstance(event, OrderFilled)
            self._writer.post(
                partial(_append_event, event, status),
                partial(self._fill_written, event, topic),
            )
            self.store_cash_movements(event)
            return
        self._writer.post(
            partial(_append_event, event, status), partial(self._written, topic, event, None)
        )

    def store_cash_movements(self, fill: OrderFilled) -> None:
        """Append a fill's cash movements; keyed by its trade id, so never twice."""
        for movement in self.cash_movements(fill):
            self._writer.post(partial(_append_account_event, movement), self._checked)

    def on_position(self, change: PositionChanged) -> None:
        """Store a position snapshot after a fill, then publish the change."""
        if self.muted:
            return
        self.store_position(change)

    def store_position(self, change: PositionChanged) -> None:
        """Store ``change`` as the account's snapshot of its instrument, then publish it."""
        snapshot = PositionRecord(
            account_id=self._account_id,
            instrument_id=change.instrument_id,
            quantity=to_decimal(change.quantity, "position quantity"),
            avg_px_open=to_decimal(change.avg_px_open, "position avg_px_open"),
            realized_pnl=to_decimal(change.realized_pnl, "position realized_pnl"),
            ts_event=change.ts_event,
        )
        self._writer.post(
            partial(_upsert_position, snapshot),
            partial(self._written, POSITION_TOPIC, change, None),
        )

    def on_trading_state(self, change: TradingStateChanged) -> None:
        """Publish a trading-state change (the store has no place for it yet)."""
        self._enqueue((STATE_TOPIC, change, None))

    def deposit(self, amount: Decimal, currency: str, ts_ns: int) -> None:
        """Store the account's first deposit (idempotent: one per account)."""
        self._writer.post(
            partial(
                _append_account_event,
                AccountEventRecord(
                    event_id=f"{self._account_id}:capital",
                    account_id=self._account_id,
                    kind=AccountEventKind.DEPOSIT,
                    amount=amount,
                    currency=currency,
                    ts_event=ts_ns,
                    note="capital of the paper account",
                ),
            ),
            self._checked,
        )

    # -- after the writes ------------------------------------------------------------------
    def _fill_written(self, fill: OrderFilled, topic: str, ok: bool, value: Any) -> None:
        if ok and value is False:
            # The trade id is stored already: a repeat. Its cash moved the first time.
            self.duplicate_fills += 1
            return
        self._written(topic, fill, fill.trade_id, ok, value)

    def _written(
        self, topic: str, message: Message, msg_id: str | None, ok: bool, value: Any
    ) -> None:
        if not ok:
            self._failed(value)
            return
        self._enqueue((topic, message, msg_id))

    def _checked(self, ok: bool, value: Any) -> None:
        if not ok:
            self._failed(value)

    def _failed(self, error: BaseException) -> None:
        _log.error("a store write of the node failed: %s", error, exc_info=error)
        self._on_failure(error)

    def cash_movements(self, fill: OrderFilled) -> list[AccountEventRecord]:
        """Return the cash a fill moves: its value (out for a buy), and its commission.

        Exact: the decimal forms of quantity, price and multiplier are multiplied
        without rounding (the store keeps 18 decimal places; beyond them it rounds).
        """
        quantity = to_decimal(fill.last_qty)
        price = to_decimal(fill.last_px)
        multiplier = self._multipliers.get(fill.instrument_id, Decimal(1))
        value = _EXACT.multiply(_EXACT.multiply(quantity, price), multiplier)
        amount = -value if fill.side.sign > 0 else value
        movements = [
            AccountEventRecord(
                event_id=f"{fill.trade_id}:trade",
                account_id=self._account_id,
                kind=AccountEventKind.TRADE,
                amount=_storable(amount),
                currency=fill.currency,
                ts_event=fill.ts_event,
                note=f"{fill.side.value} {quantity} {fill.instrument_id} @ {price}",
            )
        ]
        if fill.commission:
            movements.append(
                AccountEventRecord(
                    event_id=f"{fill.trade_id}:commission",
                    account_id=self._account_id,
                    kind=AccountEventKind.COMMISSION,
                    amount=-to_decimal(fill.commission),
                    currency=fill.currency,
                    ts_event=fill.ts_event,
                    note=f"commission of trade {fill.trade_id}",
                )
            )
        return movements

    # -- publishing ------------------------------------------------------------------------
    def _enqueue(self, item: Outgoing) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(item)

    async def _publish_loop(self) -> None:
        assert self._outbox is not None
        outbox = self._outbox
        while True:
            batch = [await outbox.get()]
            while len(batch) < _PUBLISH_BATCH and not outbox.empty():
                batch.append(outbox.get_nowait())
            for topic, message, msg_id in batch:
                try:
                    await self._event_bus.publish(topic, message, msg_id=msg_id)
                    self.published += 1
                except Exception as error:
                    # The store has the event; only its notification is lost.
                    self.publish_failures += 1
                    _log.warning("could not publish %s: %s", topic, error)
                finally:
                    outbox.task_done()


def _storable(amount: Decimal) -> Decimal:
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        return amount.quantize(_STORE_PLACES, context=_EXACT)
    return amount


# The writes, as module functions so that a batch holds no bound methods of the node.
def _append_event(event: OrderEvent, status: OrderStatus, store: Store) -> bool:
    return store.append_order_event(event, status)


def _upsert_position(position: PositionRecord, store: Store) -> bool:
    return store.upsert_position(position)


def _append_account_event(event: AccountEventRecord, store: Store) -> bool:
    return store.append_account_event(event)
