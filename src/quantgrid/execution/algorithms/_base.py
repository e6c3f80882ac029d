"""The base of execution algorithms: child-order bookkeeping that can never overfill.

An algorithm decides *when* and *at what price* to send child orders; this base class
keeps the books of what was sent, what is working and what filled, and refuses any
child that could take the parent past its quantity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from quantgrid.execution.algorithms._messages import ParentOrder
from quantgrid.execution.algorithms._params import AlgorithmParams, parse_params
from quantgrid.model import (
    CancelOrder,
    Instrument,
    ModifyOrder,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSide,
    OrderType,
    OrderUpdated,
    QuoteTick,
    SubmitOrder,
    TimeInForce,
    TradeTick,
)

AlgoState = Literal["running", "stopping", "done"]
_ENDED = (OrderCanceled, OrderExpired, OrderRejected, OrderDenied)
_REFUSED = (OrderRejected, OrderDenied)


class AlgorithmContext(Protocol):
    """What the engine provides to one running algorithm."""

    @property
    def instrument(self) -> Instrument:
        """Return the parent's instrument."""
        ...

    def now(self) -> int:
        """Return the clock's time."""
        ...

    def quote(self) -> QuoteTick | None:
        """Return the latest top of book of the parent's instrument."""
        ...

    def send(self, command: SubmitOrder | CancelOrder | ModifyOrder) -> None:
        """Send an order command on to the order endpoint."""
        ...

    def set_timer(self, ts_ns: int, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the clock reaches ``ts_ns``."""
        ...

    def ended(self, canceled: bool, reason: str) -> None:
        """Report that the algorithm stopped and every child has ended."""
        ...


@dataclass(slots=True, eq=False)
class ChildOrder:
    """The algorithm's record of one child order, kept from the order's events.

    Algorithms read it; only ``ExecAlgorithm`` changes it.
    """

    client_order_id: str
    quantity: float
    price: float | None
    post_only: bool
    marketable: bool
    ts_sent: int
    filled_qty: float = 0.0
    accepted: bool = False
    closed: bool = False
    cancel_requested: bool = False
    amend_pending: bool = False
    end_reason: str = ""

    @property
    def leaves_qty(self) -> float:
        """Return the quantity that may still fill (0 once the child ended)."""
        return 0.0 if self.closed else max(0.0, self.quantity - self.filled_qty)

    @property
    def is_open(self) -> bool:
        """Tell whether the child can still fill."""
        return not self.closed


class ExecAlgorithm:
    """Base class of execution algorithms.

    Subclasses set ``name`` and ``Params`` and override the ``on_*`` hooks; they send
    children with ``submit_limit`` / ``submit_marketable``, follow the market with
    ``amend_price`` and ``cancel_child``, schedule with ``set_timer``, and end with
    ``complete`` or ``abort``. The engine calls the hooks one at a time (never from
    inside another hook), so a hook sees the books as they were when it started.

    Notes
    -----
    Invariant: ``filled_qty + open_qty <= parent.quantity`` at every moment, where
    ``open_qty`` counts every child not yet ended in full, including children on their
    way to the venue and children whose cancel has not been confirmed (a cancel can race
    a fill). A new child is cut to ``available_qty``, so no sequence of fills, cancels
    and latencies can overfill the parent. Amends change only prices.

    Once ``complete`` or ``abort`` is called nothing more is sent: open children are
    cancelled and the end is reported when the last of them has ended, with its fills.
    A parent whose fills reach its quantity completes at once (``reason="filled"``).
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[AlgorithmParams]] = AlgorithmParams

    def __init__(
        self,
        parent: ParentOrder,
        params: AlgorithmParams,
        context: AlgorithmContext,
        horizon_ns: int | None,
    ) -> None:
        self.parent = parent
        self.params = params
        self.context = context
        self.instrument = context.instrument
        self.horizon_ns = horizon_ns
        self.ts_start = context.now()
        self.deadline_ns = None if horizon_ns is None else self.ts_start + horizon_ns
        self.children: dict[str, ChildOrder] = {}
        self._open: dict[str, ChildOrder] = {}  # the children not yet ended
        self.fills: list[OrderFilled] = []
        self.filled_qty = 0.0
        self.state: AlgoState = "running"
        self.end_canceled = False
        self.end_reason = ""
        self.buy = parent.side is OrderSide.BUY
        self.limit_price = _limit_on_tick(self.instrument, parent.limit_price, self.buy)
        self.max_failures: int = getattr(params, "max_rejections", 20)
        self.failures = 0  # children refused or ended by the venue unasked, in a row
        self._filled_value = 0.0
        self._sequence = 0
        self._idle: list[Callable[[], None]] = []

    # -- construction ----------------------------------------------------------------
    @classmethod
    def parse_params(cls, params: dict[str, Any] | AlgorithmParams | None) -> AlgorithmParams:
        """Validate ``params`` against ``Params`` (raises ``AlgorithmParameterError``)."""
        return parse_params(cls.name, cls.Params, params)

    @classmethod
    def check(cls, parent: ParentOrder, params: AlgorithmParams, instrument: Instrument) -> str:
        """Return why ``parent`` cannot be worked on ``instrument`` (``""``: it can).

        Override for rules that need the instrument (lot sizes of a parameter, say).
        """
        return ""

    # -- hooks -------------------------------------------------------------------------
    def on_start(self) -> None:
        """Send the first children and set the timers."""

    def on_quote(self, quote: QuoteTick) -> None:
        """React to a new top of book of the parent's instrument."""

    def on_trade(self, trade: TradeTick) -> None:
        """React to a print of the market in the parent's instrument."""

    def on_fill(self, child: ChildOrder, fill: OrderFilled) -> None:
        """React to a fill of a child (the books already include it)."""

    def on_child_closed(self, child: ChildOrder, event: OrderEvent) -> None:
        """React to a child that ended (filled, cancelled, expired, rejected, denied)."""

    def on_child_event(self, child: ChildOrder, event: OrderEvent) -> None:
        """React to another event of a child (accepted, amended, amend refused...)."""

    # -- books -------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        """Tell whether the algorithm may still send children."""
        return self.state == "running"

    @property
    def open_qty(self) -> float:
        """Return the quantity of children that may still fill."""
        return sum(c.leaves_qty for c in self._open.values())

    @property
    def open_children(self) -> list[ChildOrder]:
        """Return the children that have not ended."""
        return list(self._open.values())

    @property
    def remaining_qty(self) -> float:
        """Return the parent quantity not yet filled."""
        return self.instrument.round_size_down(max(0.0, self.parent.quantity - self.filled_qty))

    @property
    def available_qty(self) -> float:
        """Return the most a new child may be for: neither filled nor open elsewhere."""
        free = self.parent.quantity - self.filled_qty - self.open_qty
        return self.instrument.round_size_down(max(0.0, free))

    @property
    def avg_px(self) -> float:
        """Return the average fill price (0 before any fill)."""
        return self._filled_value / self.filled_qty if self.filled_qty > 0 else 0.0

    @property
    def child_order_ids(self) -> tuple[str, ...]:
        """Return the client ids of every child sent, in order."""
        return tuple(self.children)

    # -- market ------------------------------------------------------------------------
    def touch(self) -> tuple[float, float] | None:
        """Return the latest (own-side best, opposite best): (bid, ask) for a buy."""
        quote = self.context.quote()
        if quote is None or not (quote.bid > 0 and quote.ask > quote.bid):
            return None
        return (quote.bid, quote.ask) if self.buy else (quote.ask, quote.bid)

    def within_limit(self, price: float) -> float:
        """Return ``price`` moved inside the parent's limit price, if it has one."""
        limit = self.limit_price
        if limit is None:
            return price
        return min(price, limit) if self.buy else max(price, limit)

    def ticks_better(self, price: float, ticks: int) -> float:
        """Return ``price`` moved ``ticks`` ticks towards the other side of the book."""
        step = ticks * self.instrument.price_increment
        return self.instrument.round_price(price + step if self.buy else price - step)

    # -- sending -----------------------------------------------------------------------
    def submit_limit(
        self,
        quantity: float,
        price: float,
        *,
        post_only: bool = False,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> ChildOrder | None:
        """Send a limit child for at most ``available_qty``, within the limit price.

        Returns ``None`` (nothing sent) when the algorithm is no longer running or no
        whole lot is available.
        """
        price = self.within_limit(self.instrument.round_price(price))
        return self._submit(quantity, OrderType.LIMIT, price, post_only, time_in_force)

    def submit_marketable(self, quantity: float) -> ChildOrder | None:
        """Send a child that takes liquidity at once for at most ``available_qty``.

        A market order, or with a parent limit price an IOC limit order at that price;
        either way what cannot fill at once is cancelled by the venue.
        """
        limit = self.limit_price
        if limit is None:
            return self._submit(quantity, OrderType.MARKET, None, False, TimeInForce.IOC)
        return self._submit(quantity, OrderType.LIMIT, limit, False, TimeInForce.IOC)

    def _submit(
        self,
        quantity: float,
        order_type: OrderType,
        price: float | None,
        post_only: bool,
        time_in_force: TimeInForce,
    ) -> ChildOrder | None:
        if self.state != "running":
            return None
        quantity = self.instrument.round_size_down(min(quantity, self.available_qty))
        if quantity <= 0:
            return None
        self._sequence += 1
        parent = self.parent
        client_order_id = f"{parent.parent_id}-{self._sequence}"
        now = self.context.now()
        marketable = order_type is OrderType.MARKET or time_in_force is not TimeInForce.GTC
        child = ChildOrder(client_order_id, quantity, price, post_only, marketable, now)
        # Booked before it is sent: its events may come back before ``send`` returns.
        self.children[client_order_id] = child
        self._open[client_order_id] = child
        order = Order(
            client_order_id=client_order_id,
            strategy_id=parent.strategy_id,
            instrument_id=parent.instrument_id,
            side=parent.side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            time_in_force=time_in_force,
            post_only=post_only,
            tag=parent.parent_id,
            ts_init=now,
        )
        self.context.send(SubmitOrder(order, now))
        return child

    def cancel_child(self, child: ChildOrder) -> None:
        """Ask for an open child to be cancelled (once; the venue answers)."""
        if child.closed or child.cancel_requested:
            return
        child.cancel_requested = True
        parent = self.parent
        self.context.send(
            CancelOrder(
                child.client_order_id, parent.instrument_id, parent.strategy_id, self.context.now()
            )
        )

    def cancel_children(self) -> None:
        """Ask for every open child to be cancelled."""
        for child in self.open_children:
            self.cancel_child(child)

    def amend_price(self, child: ChildOrder, price: float) -> bool:
        """Ask for a working child's price to change; return whether an amend was sent.

        Nothing is sent while the algorithm is stopping, before the venue accepted the
        child, while a cancel or another amend is pending, or when the price (moved
        inside the limit price) is unchanged.
        """
        if (
            self.state != "running"
            or child.closed
            or not child.accepted
            or child.cancel_requested
            or child.amend_pending
        ):
            return False
        price = self.within_limit(self.instrument.round_price(price))
        if child.price == price:
            return False
        child.amend_pending = True
        parent = self.parent
        self.context.send(
            ModifyOrder(
                child.client_order_id,
                parent.instrument_id,
                parent.strategy_id,
                self.context.now(),
                price=price,
            )
        )
        return True

    def set_timer(self, ts_ns: int, callback: Callable[[], None]) -> None:
        """Call ``callback()`` at ``ts_ns`` if the algorithm is still running then."""

        def fire() -> None:
            if self.state == "running":
                callback()

        self.context.set_timer(ts_ns, fire)

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once no child is open (at once if none is).

        Dropped if the algorithm stops first.
        """
        if not self._open:
            callback()
        else:
            self._idle.append(callback)

    # -- ending ------------------------------------------------------------------------
    def complete(self, reason: str) -> None:
        """End the parent as completed (its rules are done); open children are cancelled."""
        self._stop(False, reason)

    def abort(self, reason: str) -> None:
        """End the parent as cancelled; open children are cancelled first."""
        self._stop(True, reason)

    def _stop(self, canceled: bool, reason: str) -> None:
        if self.state != "running":
            return
        self.state = "stopping"
        self.end_canceled = canceled
        self.end_reason = reason
        self._idle.clear()
        self.cancel_children()
        self._end_if_idle()

    def _end_if_idle(self) -> None:
        if self.state == "stopping" and not self._open:
            self.state = "done"
            self.context.ended(self.end_canceled, self.end_reason)

    # -- engine entry points -------------------------------------------------------------
    def start(self) -> None:
        """Start working the parent (called once by the engine)."""
        self.on_start()

    def handle_quote(self, quote: QuoteTick) -> None:
        """Pass a quote to ``on_quote`` while running."""
        if self.state == "running":
            self.on_quote(quote)

    def handle_trade(self, trade: TradeTick) -> None:
        """Pass a trade to ``on_trade`` while running."""
        if self.state == "running":
            self.on_trade(trade)

    def handle_event(self, event: OrderEvent) -> None:
        """Apply an event of a child order to the books, then call the hooks."""
        child = self.children.get(event.client_order_id)
        if child is None or self.state == "done":
            return
        kind = type(event)
        if kind is OrderFilled:
            assert isinstance(event, OrderFilled)
            self._apply_fill(child, event)
        elif kind in _ENDED:
            if child.closed:
                return
            child.closed = True
            self._open.pop(child.client_order_id, None)
            reason = getattr(event, "reason", "")
            child.end_reason = f"{kind.__name__}: {reason}" if reason else kind.__name__
            asked = child.cancel_requested and kind is OrderCanceled
            if kind in _REFUSED or not (asked or child.marketable):
                self.failures += 1
            self._after_close(child, event)
        else:
            if kind is OrderAccepted:
                child.accepted = True
                self.failures = 0
            elif kind is OrderUpdated:
                assert isinstance(event, OrderUpdated)
                child.amend_pending = False
                child.quantity = event.quantity
                if event.price is not None:
                    child.price = event.price
            elif kind is OrderModifyRejected:
                child.amend_pending = False
            if self.state == "running":
                self.on_child_event(child, event)

    def _apply_fill(self, child: ChildOrder, fill: OrderFilled) -> None:
        if child.closed:
            # Not expected (venues never fill an ended order), but a fill is a fact:
            # it is kept so the books and the reported fills match the venue's.
            self.fills.append(fill)
            self.filled_qty += fill.last_qty
            self._filled_value += fill.last_qty * fill.last_px
            return
        child.filled_qty += fill.last_qty
        self.filled_qty += fill.last_qty
        self._filled_value += fill.last_qty * fill.last_px
        self.fills.append(fill)
        done = child.quantity - child.filled_qty <= self.instrument.size_increment * 1e-6
        if done:
            child.closed = True
            self._open.pop(child.client_order_id, None)
            child.end_reason = "filled"
            self.failures = 0
        if self.state == "running":
            self.on_fill(child, fill)
        if not done:
            return
        if self.remaining_qty <= 0 and not self._open:
            # Filled in full, even if a cancel was racing the last fill: say so.
            self.state = "stopping"
            self.end_canceled = False
            self.end_reason = "filled"
            self._idle.clear()
            self._end_if_idle()
            return
        self._after_close(child, fill)

    def _after_close(self, child: ChildOrder, event: OrderEvent) -> None:
        if self.state == "running":
            if self.failures >= self.max_failures:
                self.abort(
                    f"{self.failures} child orders in a row were refused or ended by the "
                    f"venue; the last: {child.end_reason}"
                )
            else:
                self.on_child_closed(child, event)
        if self.state == "running" and self._idle and not self._open:
            callbacks, self._idle = self._idle, []
            for callback in callbacks:
                callback()
        self._end_if_idle()


def _limit_on_tick(instrument: Instrument, limit: float | None, buy: bool) -> float | None:
    """Round a limit price to the tick in the trader's favour (down for a buy)."""
    if limit is None:
        return None
    ticks = limit / instrument.price_increment
    whole = round(ticks)
    if abs(ticks - whole) > 1e-9:
        whole = math.floor(ticks) if buy else math.ceil(ticks)
    return instrument.round_price(whole * instrument.price_increment)
