"""Reading a node's state back from the store at start, and rebuilding its orders.

Everything here runs on a worker thread before the node takes orders: it reads, and
rebuilds core objects from what it read; the node decides what to do with them.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from quantgrid.adapters.storage import (
    AccountEventKind,
    AccountEventRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
    Store,
    StoredOrder,
    to_decimal,
)
from quantgrid.core import NANOS_PER_DAY
from quantgrid.model import (
    ContingencyType,
    InvalidOrderError,
    InvalidStateTransitionError,
    Order,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderStatus,
    PositionChanged,
    SubmitOrder,
    SubmitOrderList,
    TimeInForce,
)
from quantgrid.node._errors import RecoveryError
from quantgrid.node._views import RecoveryReport
from quantgrid.risk import RISK_ENDPOINT

if TYPE_CHECKING:
    from collections.abc import Mapping

    from quantgrid.node._node import TradingNode

_log = logging.getLogger("quantgrid.node")

#: Statuses of orders the node must pick up again: working, or stored but never sent.
OPEN_STATUSES = frozenset(
    {
        OrderStatus.INITIALIZED,
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.TRIGGERED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_UPDATE,
    }
)
#: Cash movements that fills make; every other kind is capital put in or taken out.
_FROM_FILLS = frozenset({AccountEventKind.TRADE, AccountEventKind.COMMISSION})
_PAGE = 1000
_GROUPS = (ContingencyType.OCO, ContingencyType.OUO)


@dataclass(slots=True)
class StoredState:
    """What the store holds of one account, read at start.

    Attributes
    ----------
    cash_events
        Whether the account has any cash movement yet (none: a first start).
    capital
        Sum of the movements fills did not make (deposits, withdrawals, ...).
    balance
        Sum of all the account's movements in its currency.
    fills
        Every stored fill, by time then trade id.
    open_orders
        Orders in ``OPEN_STATUSES``, with their decoded histories, by ``ts_init``.
    ended_entries
        The entries, ended before the restart, of bracket exits stored waiting (among
        ``open_orders``), with their decoded histories, by client order id.
    positions
        The stored position snapshots of the account.
    """

    cash_events: bool = False
    capital: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)
    fills: list[FillRecord] = field(default_factory=list)
    open_orders: list[tuple[StoredOrder, list[OrderEvent]]] = field(default_factory=list)
    ended_entries: dict[str, tuple[StoredOrder, list[OrderEvent]]] = field(default_factory=dict)
    positions: list[PositionRecord] = field(default_factory=list)


def load_state(store: Store, account_id: str, currency: str) -> StoredState:
    """Read an account's cash movements, fills, open orders and positions.

    Notes
    -----
    Pages through the listings (1,000 rows a call), so it takes one call per page
    plus one per open order (its history), and two per ended entry of a waiting exit.
    """
    state = StoredState()
    movements: list[AccountEventRecord] = store.account_events(account_id)
    state.cash_events = bool(movements)
    own = [m for m in movements if m.currency == currency]
    state.capital = sum((m.amount for m in own if m.kind not in _FROM_FILLS), Decimal(0))
    state.balance = sum((m.amount for m in own), Decimal(0))
    after: str | None = None
    while True:
        fills = store.list_fills(limit=_PAGE, after=after)
        state.fills.extend(fills.items)
        after = fills.next_cursor
        if after is None:
            break
    while True:
        orders = store.list_orders(status=OPEN_STATUSES, limit=_PAGE, after=after)
        for stored in orders.items:
            events = [e.decode() for e in store.order_events(stored.order.client_order_id)]
            state.open_orders.append((stored, events))
        after = orders.next_cursor
        if after is None:
            break
    # An exit waiting for an entry that is not open: whether the entry filled before it
    # ended decides whether the exit is released or cancelled.
    open_ids = {stored.order.client_order_id for stored, _ in state.open_orders}
    for stored, _ in state.open_orders:
        parent_id = stored.order.parent_order_id
        if (
            stored.status is OrderStatus.INITIALIZED
            and parent_id
            and parent_id not in open_ids
            and parent_id not in state.ended_entries
        ):
            parent = store.get_order(parent_id)
            if parent is not None:
                events = [e.decode() for e in store.order_events(parent_id)]
                state.ended_entries[parent_id] = (parent, events)
    state.positions = store.positions(account_id)
    return state


def order_from_record(record: OrderRecord) -> Order:
    """Return a new ``Order`` (INITIALIZED) with the fields of a stored request."""
    return Order(
        client_order_id=record.client_order_id,
        strategy_id=record.strategy_id,
        instrument_id=record.instrument_id,
        side=record.side,
        order_type=record.order_type,
        quantity=_float(record.quantity),
        price=_float(record.price),
        trigger_price=_float(record.trigger_price),
        time_in_force=record.time_in_force,
        post_only=record.post_only,
        reduce_only=record.reduce_only,
        cash_fraction=_float(record.cash_fraction),
        tag=record.tag,
        ts_init=record.ts_init,
        contingency=record.contingency,
        parent_order_id=record.parent_order_id,
        linked_order_ids=record.linked_order_ids,
        order_list_id=record.order_list_id,
    )


def rebuild_order(stored: StoredOrder, events: list[OrderEvent]) -> Order:
    """Return the order as its stored history left it.

    Raises
    ------
    InvalidStateTransitionError
        If the history does not replay (an event its status did not allow).
    """
    order = order_from_record(stored.order)
    for event in events:
        order.apply(event)
    return order


def replacement(order: Order) -> Order:
    """Return a copy of a working ``order`` to place again on a new venue.

    The copy is INITIALIZED, so the execution engine submits it as usual, but it keeps
    what the order has done: filled quantity, average price, current quantity and
    prices (after amends), whether its stop triggered, and its history. The venue
    works only what is left (``leaves_qty``), so nothing fills twice.
    """
    return dataclasses.replace(order, status=OrderStatus.INITIALIZED, events=list(order.events))


def fill_event(fill: FillRecord) -> OrderFilled:
    """Return the ``OrderFilled`` event a stored fill came from."""
    return OrderFilled(
        fill.client_order_id,
        fill.strategy_id,
        fill.instrument_id,
        fill.ts_event,
        fill.trade_id,
        fill.side,
        float(fill.quantity),
        float(fill.price),
        float(fill.commission),
        fill.liquidity_side,
        fill.currency,
    )


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def restore(node: TradingNode, state: StoredState) -> RecoveryReport:
    """Bring ``node`` (wired, not yet trading) to where the stored state left off.

    In order: the capital is deposited (first start) or checked against the stored
    deposits; the stored fills are replayed into the portfolio, each trade id once;
    lagging position snapshots and missing cash movements are written again; then each
    open order is picked up (see ``RecoveryReport`` for what happens to which).

    Raises
    ------
    RecoveryError
        If the stored capital is not ``config.initial_cash``, or a stored fill trades
        an instrument the config does not list.
    """
    config, recorder, portfolio = node.config, node.recorder, node.portfolio
    now = node.clock.timestamp_ns()
    capital = to_decimal(config.initial_cash)
    if not state.cash_events:
        recorder.deposit(capital, node.currency, now)
    elif state.capital != capital:
        msg = (
            f"account {config.account_id!r} holds {state.capital} {node.currency} of "
            f"capital in the store, but the config says initial_cash={config.initial_cash:g}: "
            "point the node at its own store or account, or set the stored capital"
        )
        raise RecoveryError(msg)

    replayed = 0
    expected = state.capital
    recorder.muted = True
    try:
        for fill in state.fills:
            if fill.instrument_id not in node.instruments:
                msg = (
                    f"stored fill {fill.trade_id} trades {fill.instrument_id!r}, which "
                    "NodeConfig.instruments does not list"
                )
                raise RecoveryError(msg)
            if not node.remember_trade(fill.trade_id):
                continue
            event = fill_event(fill)
            portfolio.on_fill(event)
            expected += sum((m.amount for m in recorder.cash_movements(event)), Decimal(0))
            replayed += 1
    finally:
        recorder.muted = False
    if state.cash_events and expected != state.balance:
        # A fill was stored but not all of its cash movements: write them (idempotent).
        _log.warning("cash movements of some fills were missing; writing them again")
        for fill in state.fills:
            recorder.store_cash_movements(fill_event(fill))

    repaired = _repair_positions(node, state, now)
    report = _pick_up_orders(node, state, now)
    return dataclasses.replace(report, fills=replayed, positions_repaired=repaired)


def _repair_positions(node: TradingNode, state: StoredState, now: int) -> tuple[str, ...]:
    stored = {p.instrument_id: p for p in state.positions}
    repaired = []
    for iid in sorted(node.instruments):
        snap = node.portfolio.position(iid)
        record = stored.get(iid)
        if record is None and not snap.quantity and not snap.realized_pnl:
            continue
        if (
            record is not None
            and record.quantity == to_decimal(snap.quantity)
            and record.avg_px_open == to_decimal(snap.avg_px_open)
            and record.realized_pnl == to_decimal(snap.realized_pnl)
        ):
            continue
        ts = now if record is None else max(now, record.ts_event)
        node.recorder.store_position(
            PositionChanged(iid, snap.quantity, snap.avg_px_open, snap.realized_pnl, ts)
        )
        repaired.append(iid)
    return tuple(repaired)


@dataclass(slots=True)
class _OrderList:
    """The open orders of one order list, as recovery found them."""

    place: list[Order] = field(default_factory=list)  # working: placed again
    unsent: list[Order] = field(default_factory=list)  # INITIALIZED: held, or never sent


def _pick_up_orders(node: TradingNode, state: StoredState, now: int) -> RecoveryReport:
    report = _Outcome()
    # In stored order: an order placed or resubmitted alone, or an order list (by id),
    # taken back whole where its first open order stood.
    steps: list[Order | str] = []
    lists: dict[str, _OrderList] = {}
    ended: dict[str, Order] = {}  # ended at the restart
    recorder = node.recorder
    entries: dict[str, Order] = {}  # ended before the restart, with exits waiting
    for oid, (stored, events) in state.ended_entries.items():
        try:
            entries[oid] = rebuild_order(stored, events)
        except InvalidStateTransitionError as error:
            # Its waiting exits are cancelled, as for an entry the store does not hold.
            _log.error("entry %s of waiting exits cannot be rebuilt: %s", oid, error)
    for stored, events in state.open_orders:
        oid = stored.order.client_order_id
        try:
            if stored.order.instrument_id not in node.instruments:
                msg = f"instrument {stored.order.instrument_id!r} is not in the config"
                raise InvalidOrderError(msg)
            order = rebuild_order(stored, events)
        except (InvalidStateTransitionError, InvalidOrderError) as error:
            _log.error("order %s cannot be recovered, left as stored: %s", oid, error)
            report.unrecoverable.append(oid)
            continue
        linked = lists.get(order.order_list_id) if order.order_list_id else None
        if order.order_list_id and linked is None:
            linked = lists[order.order_list_id] = _OrderList()
            steps.append(order.order_list_id)
        status = order.status
        if status is OrderStatus.INITIALIZED:
            if linked is not None:
                linked.unsent.append(order)
            else:
                steps.append(order)
            continue
        ending = _ending(order, now, report)
        if ending is not None:
            order.apply(ending)
            recorder.record(ending, order.status)
            ended[oid] = order
            continue
        if status is OrderStatus.PENDING_UPDATE:
            lost = OrderModifyRejected(
                oid,
                order.strategy_id,
                order.instrument_id,
                now,
                "amend lost in a restart: the order works on unchanged; send it again",
                True,
            )
            order.apply(lost)
            recorder.record(lost, order.status)
            report.amends_lost.append(oid)
        if linked is not None:
            linked.place.append(order)
        else:
            steps.append(order)
    entries.update(ended)
    for step in steps:
        if isinstance(step, str):
            _resume_list(node, step, lists[step], ended, entries, now, report)
        elif step.status is OrderStatus.INITIALIZED:
            # Stored, never checked or sent, never acknowledged: a retry of the request
            # finds it, so it is worked now, through the risk checks like any order.
            node.bus.send(RISK_ENDPOINT, SubmitOrder(step, now))
            report.resubmitted.append(step.client_order_id)
        else:
            copy = replacement(step)
            recorder.replacing[step.client_order_id] = step.status
            node.execution.execute(SubmitOrder(copy, now))
            node.risk.track(copy)
            report.replaced.append(step.client_order_id)
    return RecoveryReport(
        replaced=tuple(report.replaced),
        resubmitted=tuple(report.resubmitted),
        canceled=tuple(report.canceled),
        expired=tuple(report.expired),
        amends_lost=tuple(report.amends_lost),
        unrecoverable=tuple(report.unrecoverable),
    )


@dataclass(slots=True)
class _Outcome:
    """``RecoveryReport``'s lists, filled in as the orders are picked up."""

    replaced: list[str] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    amends_lost: list[str] = field(default_factory=list)
    unrecoverable: list[str] = field(default_factory=list)


def _ending(order: Order, now: int, report: _Outcome) -> OrderEvent | None:
    """Return the event that ends a working ``order`` at the restart, if one does."""
    oid, status = order.client_order_id, order.status
    if status is OrderStatus.PENDING_CANCEL:
        reason = "cancel completed at restart: the order ended with the previous run"
        report.canceled.append(oid)
        return OrderCanceled(oid, order.strategy_id, order.instrument_id, now, reason)
    if order.time_in_force is TimeInForce.DAY and _day(order.ts_init) < _day(now):
        report.expired.append(oid)
        if status is OrderStatus.SUBMITTED:
            reason = "DAY order of an earlier day, never accepted"
            return OrderCanceled(oid, order.strategy_id, order.instrument_id, now, reason)
        return OrderExpired(oid, order.strategy_id, order.instrument_id, now)
    return None


def _resume_list(
    node: TradingNode,
    list_id: str,
    linked: _OrderList,
    ended: Mapping[str, Order],
    entries: Mapping[str, Order],
    now: int,
    report: _Outcome,
) -> None:
    """Give the execution engine back the open orders of one list, links and all.

    Working orders are placed again and exits waiting for their entry are held again
    (``ExecutionEngine.resume_list``). An exit whose entry had filled (the node stopped
    between storing the fill and the exits' release) is released there, for what the
    entry filled; one whose entry ended with nothing filled is cancelled there.
    ``ended`` holds the orders that ended at the restart; ``entries`` the entries that
    ended before or at it, by client order id.
    """
    if any(not o.parent_order_id for o in linked.unsent):
        # An entry (or an OCO leg) stored but never sent: the list never reached the
        # engine, so it is worked now, whole, through the risk checks.
        try:
            node.bus.send(RISK_ENDPOINT, SubmitOrderList(list_id, tuple(linked.unsent), now))
        except InvalidOrderError as error:
            _log.error("order list %s cannot be recovered, left as stored: %s", list_id, error)
            report.unrecoverable.extend(o.client_order_id for o in linked.unsent)
        else:
            report.resubmitted.extend(o.client_order_id for o in linked.unsent)
        linked.unsent = []
    # A leg of an OCO/OUO group that ended at the restart ends the rest of its group,
    # as it would have on the venue.
    held: list[Order] = []
    place: list[Order] = []
    for order in (*linked.place, *linked.unsent):
        gone = [i for i in order.linked_order_ids if i in ended]
        if order.contingency in _GROUPS and gone:
            oid = order.client_order_id
            reason = f"linked order {gone[0]} ended at the restart"
            canceled = OrderCanceled(oid, order.strategy_id, order.instrument_id, now, reason)
            order.apply(canceled)
            node.recorder.record(canceled, order.status)
            report.canceled.append(oid)
        elif order.status is OrderStatus.INITIALIZED:
            held.append(order)
        else:
            place.append(order)
    copies = [replacement(o) for o in place]
    for order in place:
        node.recorder.replacing[order.client_order_id] = order.status
    placing = {o.client_order_id for o in place}
    gone_entries = {
        o.parent_order_id: entries[o.parent_order_id]
        for o in held
        if o.parent_order_id not in placing and o.parent_order_id in entries
    }
    node.execution.resume_list(copies, held, list(gone_entries.values()))
    # Counted as the risk checks counted the list: its entries, one leg per group; a
    # bracket's exits never (they only shrink the position their entry opened).
    counted: set[str] = set()
    for copy in copies:
        if copy.parent_order_id or counted.intersection(copy.linked_order_ids):
            continue
        node.risk.track(copy)
        counted.add(copy.client_order_id)
    report.replaced.extend(o.client_order_id for o in place)
    for order in held:
        # Held again, or released (its entry had filled): both count as taken back.
        target = report.canceled if order.status is OrderStatus.CANCELED else report.replaced
        target.append(order.client_order_id)


def _day(ts_ns: int) -> int:
    return ts_ns // NANOS_PER_DAY
