"""The execution engine: the one place where orders change state.

Strategies send commands to ``ExecEngine.execute``; the engine records the order,
routes it to its venue, applies every event the venue reports to the order's state
machine, and publishes the event on ``events.order.<kind>``. Risk checks sit in front
of this endpoint without changing it.

Cancels and amends of working orders go pending first (``OrderPendingCancel``,
``OrderPendingUpdate``) and the venue answers with the outcome; a request for an order
that has already ended is refused here (``OrderCancelRejected``,
``OrderModifyRejected``) without reaching the venue.

Linked orders (``SubmitOrderList``) are managed here, since venues do not share one
notion of them:

- OTO (a bracket's entry): its children are held, unsent, until the entry fills; then
  they go to the venue for the quantity filled so far, and follow later partial fills
  by amends. An entry that ends with nothing filled cancels its held children.
- OCO: a fill, cancel, expiry or rejection of one cancels the others of its group.
- OUO (a bracket's stop-loss and take-profit): as OCO once one has filled completely
  or ended; a partial fill of one shrinks the others, so together they never close
  more than the position the entry opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quantgrid.core import Clock, MessageBus
from quantgrid.execution._contingency import check_order_list
from quantgrid.model import (
    CancelAllOrders,
    CancelOrder,
    ContingencyType,
    Instrument,
    InvalidOrderError,
    ModifyOrder,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
    SubmitOrder,
    SubmitOrderList,
    check_amend,
)

EXECUTE_ENDPOINT = "ExecEngine.execute"
PROCESS_ENDPOINT = "ExecEngine.process"

_TOPICS: dict[type[OrderEvent], str] = {
    OrderSubmitted: "events.order.submitted",
    OrderDenied: "events.order.denied",
    OrderAccepted: "events.order.accepted",
    OrderRejected: "events.order.rejected",
    OrderUpdated: "events.order.updated",
    OrderTriggered: "events.order.triggered",
    OrderPendingCancel: "events.order.pending_cancel",
    OrderCanceled: "events.order.canceled",
    OrderExpired: "events.order.expired",
    OrderFilled: "events.order.filled",
    OrderPendingUpdate: "events.order.pending_update",
    OrderModifyRejected: "events.order.modify_rejected",
    OrderCancelRejected: "events.order.cancel_rejected",
}
_ENDED_UNFILLED = (OrderCanceled, OrderExpired, OrderRejected, OrderDenied)


def order_event_topic(event: OrderEvent) -> str:
    """Return the topic an order event is published on."""
    return _TOPICS[type(event)]


class ExecutionEngine:
    """Keeps every order, routes commands to venues and applies venue events.

    Notes
    -----
    Client order ids are idempotent: a second ``SubmitOrder`` with an id already seen
    never creates a second order; it is counted in ``duplicate_submissions`` and dropped.
    """

    def __init__(
        self,
        bus: MessageBus,
        clock: Clock,
        venue_endpoint: str,
        instruments: Mapping[str, Instrument] | None = None,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._venue_endpoint = venue_endpoint
        self._orders: dict[str, Order] = {}
        # Orders of a list whose links the engine manages, by client order id.
        self._linked: dict[str, Order] = {}
        # Amends waiting for the one in flight to be answered, by client order id.
        self._queued_modify: dict[str, ModifyOrder] = {}
        # Orders cancelled because a linked order filled or ended: their cancel must not
        # cascade back to the order that caused it.
        self._link_canceled: set[str] = set()
        self._instruments: dict[str, Instrument] = dict(instruments or {})
        self.duplicate_submissions = 0
        self.unknown_requests = 0
        self.redundant_requests = 0
        bus.register(EXECUTE_ENDPOINT, self.execute)
        bus.register(PROCESS_ENDPOINT, self.process)

    @property
    def orders(self) -> tuple[Order, ...]:
        """Return every order seen, in submission order."""
        return tuple(self._orders.values())

    def order(self, client_order_id: str) -> Order | None:
        """Return the order with this client id, if any."""
        return self._orders.get(client_order_id)

    def open_orders(self, strategy_id: str | None = None) -> list[Order]:
        """Return the orders that can still fill, optionally of one strategy."""
        return [
            o
            for o in self._orders.values()
            if o.is_open and (strategy_id is None or o.strategy_id == strategy_id)
        ]

    def execute(self, command: object) -> None:
        """Handle a trading command from a strategy.

        Raises
        ------
        InvalidOrderError
            For a ``SubmitOrderList`` whose links are inconsistent (nothing is sent).
        TypeError
            For a command the engine does not know.
        """
        kind = type(command)
        if kind is SubmitOrder:
            assert isinstance(command, SubmitOrder)
            order = command.order
            if order.client_order_id in self._orders:
                self.duplicate_submissions += 1
                return
            self._orders[order.client_order_id] = order
            self._send_order(order, command)
        elif kind is SubmitOrderList:
            assert isinstance(command, SubmitOrderList)
            self._submit_list(command)
        elif kind is CancelOrder:
            assert isinstance(command, CancelOrder)
            self._cancel(command)
        elif kind is ModifyOrder:
            assert isinstance(command, ModifyOrder)
            self._modify(command)
        elif kind is CancelAllOrders:
            assert isinstance(command, CancelAllOrders)
            self._cancel_all(command)
        else:
            msg = f"the execution engine cannot handle {kind.__name__}"
            raise TypeError(msg)

    def _send_order(self, order: Order, command: SubmitOrder | None = None) -> None:
        self._apply(
            OrderSubmitted(
                order.client_order_id,
                order.strategy_id,
                order.instrument_id,
                self._clock.timestamp_ns(),
            )
        )
        if order.status is OrderStatus.SUBMITTED:
            self._bus.send(
                self._venue_endpoint, command or SubmitOrder(order, self._clock.timestamp_ns())
            )

    def _submit_list(self, command: SubmitOrderList) -> None:
        orders = command.orders
        if orders and all(o.client_order_id in self._orders for o in orders):
            self.duplicate_submissions += 1
            return
        check_order_list(command.order_list_id, orders, self._orders)
        for order in orders:
            self._orders[order.client_order_id] = order
            self._linked[order.client_order_id] = order
        for order in orders:
            if not order.parent_order_id and order.status is OrderStatus.INITIALIZED:
                self._send_order(order)

    def resume_list(
        self, place: Sequence[Order], hold: Sequence[Order] = (), ended: Sequence[Order] = ()
    ) -> None:
        """Take back the open orders of one order list after a restart, linked as before.

        Parameters
        ----------
        place
            The list's working orders, as copies to place again on the venue: each is
            INITIALIZED but keeps what it has done (fills, amends), and is submitted now.
        hold
            Bracket exits stored waiting for their entry (INITIALIZED, never sent). Held
            again, unsent, until their entry (one of ``place``) fills; released now if
            it had filled already.
        ended
            Entries of ``hold`` that ended before (or at) the restart, as their stored
            history left them: known again, never sent.

        Raises
        ------
        InvalidOrderError
            If an order's client id is known already, an order of ``place`` or ``hold``
            is not INITIALIZED, one of ``hold`` has no parent, or one of ``ended`` has
            not ended (nothing is taken back).

        Notes
        -----
        Every order is known and linked before any is placed, so a fill at placing
        acts on the others (cancels an OCO leg, releases held exits) as it would have
        before the restart. A held exit whose entry had filled (the node stopped
        between storing the fill and the exits' release) is released as the fill
        released it: sized to what the entry filled, linked to its sibling, and
        following the entry's later fills. A held exit whose entry ended with nothing
        filled, or is not given, is cancelled, never sent.
        """
        for order in (*place, *hold, *ended):
            oid = order.client_order_id
            if oid in self._orders:
                msg = f"resumed order {oid}: client order id is known already"
                raise InvalidOrderError(msg)
        for order in (*place, *hold):
            oid, status = order.client_order_id, order.status
            if status is not OrderStatus.INITIALIZED:
                msg = f"resumed order {oid} is {status.value}, not INITIALIZED"
                raise InvalidOrderError(msg)
        for order in hold:
            if not order.parent_order_id:
                msg = f"held order {order.client_order_id} has no parent to wait for"
                raise InvalidOrderError(msg)
        for order in ended:
            if not order.is_closed:
                msg = f"ended order {order.client_order_id} is {order.status.value}, not ended"
                raise InvalidOrderError(msg)
        for order in (*place, *hold):
            self._orders[order.client_order_id] = order
            self._linked[order.client_order_id] = order
        for order in ended:
            # Known for its exits' sizing; not linked, since it can change nothing now.
            self._orders[order.client_order_id] = order
        parents = {o.client_order_id: o for o in (*place, *ended)}
        for order in hold:
            parent = parents.get(order.parent_order_id)
            if parent is None:
                reason = f"parent {order.parent_order_id} ended before the restart"
                self._cancel_held(order, reason)
            elif parent.is_closed and parent.filled_qty <= 0:
                reason = (
                    f"parent {order.parent_order_id} ended before the restart with nothing filled"
                )
                self._cancel_held(order, reason)
        for order in place:
            # Re-read the status: placing an earlier order may have ended this one.
            if order.status is OrderStatus.INITIALIZED:
                self._send_order(order)
        # Placed first, so a bracket whose released exits end at once cancels the rest
        # of its working entry, as it would have before the restart.
        for order in hold:
            parent = parents.get(order.parent_order_id)
            if parent is not None and parent.filled_qty > 0:
                self._release_children(parent, [order])

    def _cancel_all(self, command: CancelAllOrders) -> None:
        for order in self.open_orders(command.strategy_id):
            # Re-read the status: a link may have closed the order during this loop.
            if (
                command.instrument_id in (None, order.instrument_id)
                and order.is_open
                and order.status is not OrderStatus.PENDING_CANCEL
            ):
                self._cancel(
                    CancelOrder(
                        order.client_order_id,
                        order.instrument_id,
                        order.strategy_id,
                        command.ts_init,
                    )
                )
        for order in list(self._linked.values()):
            if not (
                order.status is OrderStatus.INITIALIZED
                and order.strategy_id == command.strategy_id
                and command.instrument_id in (None, order.instrument_id)
            ):
                continue
            parent = self._orders.get(order.parent_order_id)
            if parent is not None and parent.is_open:
                # Held until the entry's cancel is answered: if the entry fills first,
                # its exits must still go out; if not, they are cancelled with it.
                continue
            self._cancel_held(order, "canceled on request")

    def _cancel(self, command: CancelOrder) -> None:
        order = self._orders.get(command.client_order_id)
        if order is None:
            self.unknown_requests += 1
            return
        reason = command.reason or "canceled on request"
        if order.status is OrderStatus.INITIALIZED:
            self._cancel_held(order, reason)
            return
        if order.status is OrderStatus.PENDING_CANCEL:
            self.redundant_requests += 1  # the cancel on its way answers this one too
            return
        if not order.is_open:
            self._refuse(OrderCancelRejected, order, f"order is already {order.status.value}")
            return
        self._queued_modify.pop(order.client_order_id, None)  # superseded by the cancel
        if order.status is not OrderStatus.SUBMITTED:
            self._apply(self._event(OrderPendingCancel, order))
        self._bus.send(self._venue_endpoint, command)

    def _modify(self, command: ModifyOrder) -> None:
        order = self._orders.get(command.client_order_id)
        if order is None:
            self.unknown_requests += 1
            return
        if order.status is OrderStatus.INITIALIZED:
            self._modify_held(order, command)
            return
        parent = self._orders.get(order.parent_order_id) if order.parent_order_id else None
        if parent is not None and command.quantity is not None:
            limit = self._target_quantity(order, parent)
            if command.quantity > limit + 1e-9:
                reason = (
                    f"quantity {command.quantity:g} would close more than the {limit:g} "
                    f"that entry {parent.client_order_id} left open"
                )
                self._refuse(OrderModifyRejected, order, reason)
                return
        if not order.is_open or order.status is OrderStatus.PENDING_CANCEL:
            reason = (
                "a cancel is pending" if order.is_open else f"order is already {order.status.value}"
            )
            self._refuse(OrderModifyRejected, order, reason)
            return
        if order.status is OrderStatus.PENDING_UPDATE:
            # One amend in flight at a time: the latest waiting one goes when it is answered.
            self._queued_modify[order.client_order_id] = command
            return
        if order.status is not OrderStatus.SUBMITTED:
            self._apply(self._event(OrderPendingUpdate, order))
        self._bus.send(self._venue_endpoint, command)

    def _modify_held(self, order: Order, command: ModifyOrder) -> None:
        """Amend an order the engine still holds (a bracket exit waiting for its entry)."""
        instrument = self._instruments.get(order.instrument_id)
        if command.quantity is not None:
            reason = "the quantity of a held exit is set from its entry's fills"
        elif instrument is None:
            reason = f"no instrument {order.instrument_id!r} to check the amend against"
        else:
            reason = check_amend(order, command, instrument, held=True)
        if reason:
            self._refuse(OrderModifyRejected, order, reason)
            return
        self._apply(
            OrderUpdated(
                order.client_order_id,
                order.strategy_id,
                order.instrument_id,
                self._clock.timestamp_ns(),
                order.quantity or 0.0,
                command.price,
                command.trigger_price,
            )
        )

    def reject_modify(self, order: Order, reason: str) -> None:
        """Refuse an amend before it reached a venue (used by risk checks)."""
        self._refuse(OrderModifyRejected, order, reason)

    def _refuse(self, event_type: type[OrderEvent], order: Order, reason: str) -> None:
        """Record a request refused here: the order's status does not change."""
        self._apply(self._event(event_type, order, reason, False))

    def process(self, event: OrderEvent) -> None:
        """Apply an event reported by a venue and publish it."""
        self._apply(event)

    def deny(self, order: Order, reason: str) -> None:
        """Record ``order`` as denied before it reached a venue (used by risk checks)."""
        self._orders.setdefault(order.client_order_id, order)
        self._apply(
            OrderDenied(
                order.client_order_id,
                order.strategy_id,
                order.instrument_id,
                self._clock.timestamp_ns(),
                reason,
            )
        )

    def _apply(self, event: OrderEvent) -> None:
        order = self._orders.get(event.client_order_id)
        if order is None:
            msg = f"event {type(event).__name__} for unknown order {event.client_order_id}"
            raise LookupError(msg)
        order.apply(event)
        self._bus.publish(_TOPICS[type(event)], event)
        if self._queued_modify and event.client_order_id in self._queued_modify:
            self._send_queued_modify(order)
        if self._linked and event.client_order_id in self._linked:
            self._follow_links(order, event)

    def _send_queued_modify(self, order: Order) -> None:
        if order.is_closed:
            self._queued_modify.pop(order.client_order_id, None)
        elif order.status is not OrderStatus.PENDING_UPDATE:
            self._modify(self._queued_modify.pop(order.client_order_id))

    def _event(self, event_type: type[OrderEvent], order: Order, *fields: object) -> OrderEvent:
        return event_type(
            order.client_order_id,
            order.strategy_id,
            order.instrument_id,
            self._clock.timestamp_ns(),
            *fields,
        )

    # -- linked orders -------------------------------------------------------------------
    def _follow_links(self, order: Order, event: OrderEvent) -> None:
        """Carry out what ``event`` of a linked ``order`` means for its list."""
        kind = type(event)
        if kind is not OrderFilled and not (order.is_closed and kind in _ENDED_UNFILLED):
            return
        children = [o for o in self._linked.values() if o.parent_order_id == order.client_order_id]
        if children:
            if kind is OrderFilled:
                self._release_children(order, children)
            elif order.filled_qty <= 0:
                for child in children:
                    self._cancel_held(
                        child, f"parent {order.client_order_id} ended with nothing filled"
                    )
        contingency = order.contingency
        caused_by_link = kind is OrderCanceled and order.client_order_id in self._link_canceled
        if contingency in (ContingencyType.OCO, ContingencyType.OUO) and not caused_by_link:
            siblings = [self._orders[oid] for oid in order.linked_order_ids if oid in self._orders]
            if order.is_closed or contingency is ContingencyType.OCO:
                for sibling in siblings:
                    reason = f"linked order {order.client_order_id} {order.status.value.lower()}"
                    self._cancel_linked(sibling, reason)
            else:
                parent = self._orders.get(order.parent_order_id)
                for sibling in siblings:
                    self._resize(sibling, parent)
        if order.is_closed:
            self._link_canceled.discard(order.client_order_id)
            if order.parent_order_id:
                self._end_bracket_if_unprotected(order.parent_order_id)
            # Keep the link table to the orders that can still change something.
            self._linked.pop(order.client_order_id, None)

    def _end_bracket_if_unprotected(self, parent_id: str) -> None:
        """Cancel what is left of an entry once none of its exits can work any more.

        A bracket's entry never fills without exits: when they have all ended (one
        took profit on the part filled so far, or they were cancelled), the entry's
        remainder is cancelled too.
        """
        parent = self._orders.get(parent_id)
        if parent is None or not parent.is_open or parent.status is OrderStatus.PENDING_CANCEL:
            return
        exits = [self._orders[oid] for oid in parent.linked_order_ids if oid in self._orders]
        if exits and all(o.is_closed for o in exits):
            self._cancel(
                CancelOrder(
                    parent.client_order_id,
                    parent.instrument_id,
                    parent.strategy_id,
                    self._clock.timestamp_ns(),
                    reason="its exits ended before it filled completely",
                )
            )

    def _release_children(self, parent: Order, children: list[Order]) -> None:
        for child in children:
            if child.is_closed:
                continue
            if child.status is OrderStatus.INITIALIZED:
                target = self._target_quantity(child, parent)
                if target <= 0:
                    continue
                if child.quantity != target:
                    self._apply(
                        OrderUpdated(
                            child.client_order_id,
                            child.strategy_id,
                            child.instrument_id,
                            self._clock.timestamp_ns(),
                            target,
                        )
                    )
                self._send_order(child)
            else:
                self._resize(child, parent)

    def _target_quantity(self, order: Order, parent: Order) -> float:
        """Return the quantity a bracket child needs to close what is left of the entry.

        That is what the entry filled, less what the child's siblings already closed.
        """
        siblings_filled = sum(
            self._orders[oid].filled_qty for oid in order.linked_order_ids if oid in self._orders
        )
        return max(0.0, parent.filled_qty - siblings_filled)

    def _resize(self, order: Order, parent: Order | None) -> None:
        if order.is_closed or order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.INITIALIZED):
            return  # a held exit gets its quantity when it is released
        if parent is not None:
            wanted = self._target_quantity(order, parent)
        else:
            # A plain OUO group: each order keeps at most what its siblings still have open.
            leaves = [
                self._orders[oid].leaves_qty
                for oid in order.linked_order_ids
                if oid in self._orders and self._orders[oid].is_open
            ]
            if not leaves:
                return
            wanted = order.filled_qty + min(leaves)
        if wanted - order.filled_qty <= 0:
            self._cancel_linked(order, "linked orders closed the position")
        elif wanted != order.quantity:
            self._modify(
                ModifyOrder(
                    order.client_order_id,
                    order.instrument_id,
                    order.strategy_id,
                    self._clock.timestamp_ns(),
                    quantity=wanted,
                )
            )

    def _cancel_linked(self, order: Order, reason: str) -> None:
        if order.status is OrderStatus.INITIALIZED:
            self._link_canceled.add(order.client_order_id)
            self._cancel_held(order, reason)
        elif order.is_open and order.status is not OrderStatus.PENDING_CANCEL:
            self._link_canceled.add(order.client_order_id)
            self._cancel(
                CancelOrder(
                    order.client_order_id,
                    order.instrument_id,
                    order.strategy_id,
                    self._clock.timestamp_ns(),
                    reason=reason,
                )
            )

    def _cancel_held(self, order: Order, reason: str) -> None:
        if order.status is OrderStatus.INITIALIZED:
            self._apply(self._event(OrderCanceled, order, reason))
