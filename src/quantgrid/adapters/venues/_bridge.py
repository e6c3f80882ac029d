"""``LiveVenue``: the bridge between the execution engine's commands and a real venue.

The engine talks to a venue through two bus endpoints: commands go to the venue's
endpoint, order events come back to ``ExecEngine.process``. ``LiveVenue`` sits on a
venue endpoint as the simulated venues do, turns each command into calls of an async
``VenueClient`` (``AlpacaClient``, ``CcxtClient``), and publishes what the venue
answered as order events, stamped with the node's clock.

Rules (each one is tested against recorded payloads on loopback):

- Refused before any request: an order the venue cannot take (type, time in force,
  post-only, reduce-only, a client order id it does not accept, a quantity or price
  off the instrument's lot or tick, a fractional quantity where it allows none) is
  rejected at once, with the reason.
- Idempotent: the client order id goes to the venue with every new order, so the venue
  itself refuses a second order with it. A refusal for a duplicate client order id is
  taken as "the venue has it": the order is looked up and followed, not rejected.
- A rejection carries the venue's reason verbatim (``insufficient buying power``).
- Rate limited (the venue said it did not process the request): the request is sent
  again after ``busy_backoff_s``, doubling, at most ``busy_retries`` times; then the
  order is rejected (a cancel is refused). Safe, because the venue did nothing.
- No answer (timeout, dropped connection, 5xx): the outcome is unknown, so a submit is
  **never sent again**. The order stays SUBMITTED and each poll looks it up by its
  client order id: found, it is accepted and followed; not found (the venue answered
  that it has no such order, at least ``lookup_grace_s`` after the failure, so a slow
  venue has had time to show it), it is rejected, the reason saying it was not placed.
  While the venue cannot be reached at all the order stays SUBMITTED: calling it
  rejected could leave an unseen order working.
- Fills are polled (a websocket stream of trade updates is not implemented): every
  ``poll_interval_s`` one request lists the open orders of the symbols followed; an
  order whose filled quantity grew, or that left the list, has its fills fetched and
  its end read. Fills are reported once per venue trade id, oldest first, never past
  the order's quantity, with the venue's price, quantity and commission; trade ids are
  ``<venue>-<venue trade id>`` so they are the same after a restart.
- Cancels go to the venue; the order ends when the venue reports it canceled (at once
  when its answer says so, else at a later poll). A refused or unanswered cancel is
  reported as ``OrderCancelRejected`` with the reason; the order is still followed.
- Amends are refused (``OrderModifyRejected``): not implemented for real venues
  (Alpaca replaces the order under a new id; Binance spot has no plain amend).

Restarts: the node's recovery places its working orders again on its venue, which is
right for the paper venue (it died with the process) and wrong for a real one (the
orders are still there). The bridge tells a recovered order from a new one by its
history (it was submitted before) and never places it: it looks it up by client order
id, accepts it under the venue's id, and reports only the fills beyond what the order
had filled before the restart. A recovered order the venue does not know is rejected,
not placed. ``reconcile`` lists what differs between the node and the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any

from quantgrid.adapters.venues._mapping import venue_request
from quantgrid.adapters.venues._port import (
    DuplicateClientOrderIdError,
    OrderRef,
    VenueBusyError,
    VenueClient,
    VenueError,
    VenueFill,
    VenueOrder,
    VenueOrderRequest,
    VenueOrderStatus,
    VenueRejectedError,
    VenueUnreachableError,
)
from quantgrid.adapters.venues._reconcile import ReconcileReport, compare_with_venue
from quantgrid.core import Clock, MessageBus
from quantgrid.execution import PROCESS_ENDPOINT
from quantgrid.model import (
    CancelAllOrders,
    CancelOrder,
    Instrument,
    LiquiditySide,
    ModifyOrder,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderStatus,
    OrderSubmitted,
    SubmitOrder,
    TimeInForce,
)

_log = logging.getLogger("quantgrid.adapters.venues")
_COMMANDS = (SubmitOrder, CancelOrder, CancelAllOrders, ModifyOrder)
_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)
# Quantities are compared with this slack: the venue writes decimals, the core floats.
_SLACK = Decimal("1e-9")
_DRAIN_ROUNDS = 100


@dataclass(frozen=True, slots=True)
class LiveVenueConfig:
    """How ``LiveVenue`` follows a real venue.

    Parameters
    ----------
    poll_interval_s
        Time between two polls of the venue's orders and fills, 0.01-60 seconds.
    symbols
        The venue's symbol of each instrument id that differs from the id
        (``{"BTCUSDT": "BTC/USDT"}`` for ccxt); an instrument not listed keeps its id.
    busy_retries
        How many times a request the venue refused as rate limited is sent again.
    busy_backoff_s
        Pause before the first resend of such a request; it doubles for each next one.
    lookup_grace_s
        Least time after an unanswered submit before "the venue has no such order"
        is believed (a venue may show a new order a moment late).
    stop_timeout_s
        Longest ``stop`` waits for requests in flight before cancelling them.
    """

    poll_interval_s: float = 1.0
    symbols: Mapping[str, str] = field(default_factory=dict)
    busy_retries: int = 3
    busy_backoff_s: float = 0.5
    lookup_grace_s: float = 2.0
    stop_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        bounds = {
            "poll_interval_s": (0.01, 60.0),
            "busy_backoff_s": (0.0, 30.0),
            "lookup_grace_s": (0.0, 300.0),
            "stop_timeout_s": (0.0, 300.0),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and low <= value <= high)
            ):
                msg = (
                    f"LiveVenueConfig.{name} must be a number in [{low:g}, {high:g}], got {value!r}"
                )
                raise ValueError(msg)
        retries = self.busy_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            msg = f"LiveVenueConfig.busy_retries must be a whole number in [0, 10], got {retries!r}"
            raise ValueError(msg)
        if not isinstance(self.symbols, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in self.symbols.items()
        ):
            msg = (
                "LiveVenueConfig.symbols must map instrument ids to non-empty venue symbols, "
                f"got {self.symbols!r}"
            )
            raise ValueError(msg)
        object.__setattr__(self, "symbols", MappingProxyType(dict(self.symbols)))


class _Stage(Enum):
    SUBMITTING = "SUBMITTING"  # the submit request is on its way
    UNKNOWN = "UNKNOWN"  # no answer to the submit (or a recovered order): looked up
    WORKING = "WORKING"  # the venue has it: followed by polling
    ENDED = "ENDED"


@dataclass(slots=True, eq=False)
class _Tracked:
    """What the bridge knows of one order it follows."""

    order: Order
    symbol: str
    instrument: Instrument
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stage: _Stage = _Stage.SUBMITTING
    venue_order_id: str = ""
    created_ns: int = 0
    reported: Decimal = Decimal(0)  # filled quantity the engine has been told of
    before_restart: Decimal = Decimal(0)  # of that, what was reported before a restart
    trades: set[str] = field(default_factory=set)
    recovered: bool = False
    unknown_since: float = 0.0  # time.monotonic() of the unanswered submit
    unknown_cause: str = ""
    cancel_reason: str = ""

    def ref(self) -> OrderRef:
        return OrderRef(
            self.order.client_order_id, self.symbol, self.venue_order_id, self.created_ns
        )


class LiveVenue:
    """Sends the engine's orders to a real venue and reports what it did with them.

    Parameters
    ----------
    name
        The venue's name; commands arrive at ``venue.<name>.execute``. To take over a
        node's venue, deregister its endpoint and give its name (see
        ``docs/venues-live.md``).
    bus, clock
        The node's message bus and clock (events are stamped with the clock's time).
    instruments
        The tradable instruments by id: their lot and tick round the orders.
    client
        The venue's API (``AlpacaClient``, ``CcxtClient``).
    config
        Polling, symbols and retry settings.

    Attributes
    ----------
    endpoint
        ``venue.<name>.execute``, where the engine sends its commands.
    client
        The venue's API.
    dropped_events
        Events the engine refused, and venue fills past an order's quantity (each
        logged as an error): 0 unless something is wrong.

    Notes
    -----
    Commands are handled on the running event loop: each one starts a task, and the
    requests of one order run one at a time, in the order the commands came (a cancel
    waits for its submit's answer). ``start`` checks the credentials and starts the
    polling; ``stop`` ends it and closes the client. Tests drive the polling with
    ``poll_once`` and wait for the requests in flight with ``drain``.
    """

    def __init__(
        self,
        name: str,
        bus: MessageBus,
        clock: Clock,
        instruments: Mapping[str, Instrument],
        client: VenueClient,
        config: LiveVenueConfig | None = None,
    ) -> None:
        if config is not None and not isinstance(config, LiveVenueConfig):
            msg = f"LiveVenue.config must be a LiveVenueConfig or None, got {config!r}"
            raise TypeError(msg)
        self.name = name
        self.endpoint = f"venue.{name}.execute"
        self.client = client
        self._bus = bus
        self._clock = clock
        self._instruments = dict(instruments)
        self._config = config or LiveVenueConfig()
        self._venue = client.name
        self._tracked: dict[str, _Tracked] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self.dropped_events = 0
        bus.register(self.endpoint, self.execute)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> str:
        """Check the venue answers with the credentials, then poll it; return its summary.

        Raises
        ------
        VenueError
            If the venue refuses the credentials or cannot be reached.
        """
        summary = await self.client.check()
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll_forever(), name=f"{self.endpoint}.poll")
        _log.info("live venue %s started: %s", self.name, summary)
        return summary

    async def stop(self) -> None:
        """Stop polling, let requests in flight finish (bounded), close the client."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._tasks:
            _done, pending = await asyncio.wait(
                list(self._tasks), timeout=self._config.stop_timeout_s
            )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await self.client.close()

    async def drain(self) -> None:
        """Wait until the requests the commands started have been answered."""
        for _ in range(_DRAIN_ROUNDS):
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def followed(self) -> tuple[str, ...]:
        """Return the client order ids of the orders the bridge follows (not ended)."""
        return tuple(self._tracked)

    def symbol(self, instrument_id: str) -> str:
        """Return the venue's symbol of an instrument."""
        return self._config.symbols.get(instrument_id, instrument_id)

    # -- commands ------------------------------------------------------------------------
    def execute(self, command: object) -> None:
        """Take a command of the execution engine.

        ``SubmitOrder``, ``CancelOrder`` and ``CancelAllOrders`` start requests to the
        venue; ``ModifyOrder`` is refused at once (amends are not implemented).

        Raises
        ------
        TypeError
            For another command.
        RuntimeError
            If no asyncio event loop runs (commands come from the node's loop).
        """
        if not isinstance(command, _COMMANDS):
            msg = f"venue {self.name} cannot handle {type(command).__name__}"
            raise TypeError(msg)
        if isinstance(command, SubmitOrder):
            self._on_submit(command.order)
        elif isinstance(command, CancelOrder):
            tracked = self._tracked.get(command.client_order_id)
            if tracked is not None:  # else never sent here, or ended: nothing to cancel
                tracked.cancel_reason = command.reason or "canceled on request"
                self._spawn(self._cancel(tracked))
        elif isinstance(command, CancelAllOrders):
            for tracked in list(self._tracked.values()):
                order = tracked.order
                if order.strategy_id == command.strategy_id and command.instrument_id in (
                    None,
                    order.instrument_id,
                ):
                    tracked.cancel_reason = "canceled on request"
                    self._spawn(self._cancel(tracked))
        else:
            reason = f"amends are not sent to {self._venue}: cancel the order and submit a new one"
            refusal = OrderModifyRejected(
                command.client_order_id,
                command.strategy_id,
                command.instrument_id,
                self._clock.timestamp_ns(),
                reason,
                True,
            )
            self._send(refusal)

    def _on_submit(self, order: Order) -> None:
        oid = order.client_order_id
        if oid in self._tracked:
            _log.warning("order %s is followed already; a second submit is ignored", oid)
            return
        instrument = self._instruments.get(order.instrument_id)
        if instrument is None:
            reason = f"unknown instrument {order.instrument_id!r} at venue {self.name}"
            self._emit(OrderRejected, order, reason)
            return
        tracked = _Tracked(order, self.symbol(order.instrument_id), instrument)
        # The engine records OrderSubmitted just before sending: a second one in the
        # history means the node's recovery is placing again an order it sent before.
        if sum(type(e) is OrderSubmitted for e in order.events) > 1:
            tracked.recovered = True
            tracked.stage = _Stage.UNKNOWN
            tracked.reported = tracked.before_restart = _decimal(order.filled_qty)
            self._spawn(self._adopt(tracked))
            self._tracked[oid] = tracked
            return
        request = venue_request(
            order, instrument, tracked.symbol, self.client.capabilities, self._venue
        )
        if isinstance(request, str):
            self._emit(OrderRejected, order, request)  # refused before any request
            return
        self._spawn(self._submit(tracked, request))
        self._tracked[oid] = tracked

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            work.close()
            msg = f"live venue {self.name} takes commands on a running asyncio event loop"
            raise RuntimeError(msg) from None
        task = loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("live venue %s: a request failed", self.name, exc_info=task.exception())

    # -- submit --------------------------------------------------------------------------
    async def _submit(self, tracked: _Tracked, request: VenueOrderRequest) -> None:
        async with tracked.lock:
            answer = await self._send_new(tracked, request)
            if answer is not None:
                self._accept(tracked, answer)
                await self._follow(tracked, answer)

    async def _send_new(self, tracked: _Tracked, request: VenueOrderRequest) -> VenueOrder | None:
        """Place the order; return the venue's answer, or ``None`` if it ended or is unknown."""
        busy = 0
        while True:
            try:
                return await self.client.submit_order(request)
            except DuplicateClientOrderIdError as error:
                # The venue has an order under this id: one it took before (a restart
                # between sending and storing the submission). Follow it, not a new one.
                _log.warning(
                    "order %s: %s; following the venue's order",
                    request.client_order_id,
                    error.reason,
                )
                tracked.stage = _Stage.UNKNOWN
                tracked.unknown_cause = error.reason
                await self._look_up(tracked, grace=False)
                return None
            except VenueRejectedError as error:
                self._end(tracked, OrderRejected, error.reason)
                return None
            except VenueBusyError as error:
                busy += 1
                if busy > self._config.busy_retries:
                    reason = (
                        f"{self._venue} was too busy to take the order ({error}), "
                        f"{busy} times: it was not placed"
                    )
                    self._end(tracked, OrderRejected, reason)
                    return None
                await asyncio.sleep(self._config.busy_backoff_s * 2 ** (busy - 1))
            except VenueUnreachableError as error:
                # The venue may have taken it: look it up by client order id later,
                # never send it again (a second order would double the position).
                tracked.stage = _Stage.UNKNOWN
                tracked.unknown_cause = str(error)
                tracked.unknown_since = time.monotonic()
                _log.warning(
                    "order %s: no answer to the submit (%s); looking it up by client "
                    "order id, not sending it again",
                    request.client_order_id,
                    error,
                )
                return None

    async def _adopt(self, tracked: _Tracked) -> None:
        """Follow a recovered order at the venue instead of placing it again."""
        async with tracked.lock:
            await self._look_up(tracked, grace=False)

    async def _look_up(self, tracked: _Tracked, *, grace: bool = True) -> None:
        """Find an order whose submit is unanswered (or recovered) by its client order id.

        Runs with the order's lock held. Found: accepted and followed. Not found:
        rejected, unless the grace after the failure has not passed. Unreachable: the
        order stays unknown, and the next poll asks again.
        """
        oid = tracked.order.client_order_id
        try:
            found = await self.client.find_order(oid, tracked.symbol)
        except VenueError as error:
            _log.warning(
                "order %s: look-up at %s failed (%s); will ask again", oid, self._venue, error
            )
            return
        if found is not None:
            self._accept(tracked, found)
            await self._follow(tracked, found)
            return
        if tracked.recovered:
            reason = (
                f"recovered order {oid} is not known to {self._venue}: a live venue never "
                "places a recovered order again; submit a new one"
            )
        elif grace and time.monotonic() - tracked.unknown_since < self._config.lookup_grace_s:
            return  # the venue may not show a new order yet: ask again at the next poll
        else:
            reason = (
                f"the submit got no answer ({tracked.unknown_cause}) and {self._venue} has "
                f"no order {oid}: it was not placed, and is not sent again"
            )
        self._end(tracked, OrderRejected, reason)

    def _accept(self, tracked: _Tracked, answer: VenueOrder) -> None:
        tracked.venue_order_id = answer.venue_order_id
        tracked.created_ns = answer.created_ns
        tracked.stage = _Stage.WORKING
        self._emit(OrderAccepted, tracked.order, answer.venue_order_id)

    # -- following -----------------------------------------------------------------------
    async def _follow(self, tracked: _Tracked, snapshot: VenueOrder) -> None:
        """Report what a venue snapshot of the order shows: new fills, then its end."""
        if snapshot.filled_qty > tracked.reported + _SLACK:
            try:
                fills = await self.client.order_fills(tracked.ref())
            except VenueError as error:
                _log.warning(
                    "order %s: fills not read (%s); next poll",
                    tracked.order.client_order_id,
                    error,
                )
                return
            self._report_fills(tracked, fills)
        if snapshot.status.is_open:
            return
        if snapshot.filled_qty > tracked.reported + _SLACK:
            return  # the venue does not list every fill yet: end it once it does
        self._finish(tracked, snapshot)

    def _report_fills(self, tracked: _Tracked, fills: Iterable[VenueFill]) -> None:
        order = tracked.order
        quantity = _decimal(order.quantity or 0.0)
        for fill in sorted(fills, key=lambda f: (f.ts_ns, f.trade_id)):
            if fill.trade_id in tracked.trades or fill.quantity <= 0:
                continue
            tracked.trades.add(fill.trade_id)
            if tracked.before_restart >= fill.quantity - _SLACK:
                # Reported before the restart (the oldest fills make up what the order
                # had filled); the node's trade-id memory would drop it too.
                tracked.before_restart -= fill.quantity
                continue
            tracked.before_restart = Decimal(0)
            if tracked.reported + fill.quantity > quantity + _SLACK:
                self.dropped_events += 1
                _log.error(
                    "order %s: fill %s of %s would take the filled quantity past %s; dropped",
                    order.client_order_id,
                    fill.trade_id,
                    fill.quantity,
                    quantity,
                )
                continue
            tracked.reported += fill.quantity
            self._emit(
                OrderFilled,
                order,
                f"{self._venue}-{fill.trade_id}",
                order.side,
                float(fill.quantity),
                float(fill.price),
                float(fill.commission),
                fill.liquidity_side or LiquiditySide.TAKER,
                tracked.instrument.currency,
            )

    def _finish(self, tracked: _Tracked, snapshot: VenueOrder) -> None:
        order, status = tracked.order, snapshot.status
        if status is VenueOrderStatus.FILLED:
            self._end(tracked, None)
            if tracked.reported < _decimal(order.quantity or 0.0) - _SLACK:
                _log.error(
                    "order %s: %s reports it filled at %s of %s",
                    order.client_order_id,
                    self._venue,
                    tracked.reported,
                    order.quantity,
                )
        elif status is VenueOrderStatus.EXPIRED and order.time_in_force in _IMMEDIATE:
            reason = (
                f"{order.time_in_force.value}: {self._venue} canceled what did not fill at once"
            )
            self._end(tracked, OrderCanceled, reason)
        elif status is VenueOrderStatus.EXPIRED:
            self._end(tracked, OrderExpired)
        elif status is VenueOrderStatus.REJECTED and order.status in (
            OrderStatus.SUBMITTED,
            OrderStatus.ACCEPTED,
        ):
            self._end(tracked, OrderRejected, snapshot.reason or f"rejected by {self._venue}")
        else:  # canceled, or rejected once working: either way it stopped working
            reason = (
                tracked.cancel_reason
                or snapshot.reason
                or f"{status.value.lower()} at {self._venue}"
            )
            self._end(tracked, OrderCanceled, reason)

    # -- cancel --------------------------------------------------------------------------
    async def _cancel(self, tracked: _Tracked) -> None:
        async with tracked.lock:
            if tracked.stage is _Stage.UNKNOWN:
                await self._look_up(tracked, grace=False)
                if tracked.stage is _Stage.UNKNOWN:
                    reason = (
                        f"{self._venue} has not confirmed the order yet, so it cannot be "
                        "canceled; cancel again once it is accepted"
                    )
                    self._emit(OrderCancelRejected, tracked.order, reason, True)
                    return
            if tracked.stage is not _Stage.WORKING:
                return  # it ended meanwhile: its end answers the cancel
            answer, refusal = await self._send_cancel(tracked)
            if answer is None:
                try:
                    answer = await self.client.get_order(tracked.ref())
                except VenueError as error:
                    _log.warning("order %s: not read after the cancel (%s)", tracked.ref(), error)
            if answer is not None:
                await self._follow(tracked, answer)
            if refusal and tracked.stage is _Stage.WORKING:
                self._emit(OrderCancelRejected, tracked.order, refusal, True)

    async def _send_cancel(self, tracked: _Tracked) -> tuple[VenueOrder | None, str]:
        """Ask the venue to cancel; return its answer and why it refused (``""``: it did not)."""
        busy = 0
        while True:
            try:
                return await self.client.cancel_order(tracked.ref()), ""
            except VenueRejectedError as error:
                return None, error.reason
            except VenueBusyError as error:
                busy += 1
                if busy > self._config.busy_retries:
                    return None, f"{self._venue} was too busy to take the cancel ({error})"
                await asyncio.sleep(self._config.busy_backoff_s * 2 ** (busy - 1))
            except VenueUnreachableError as error:
                reason = (
                    f"the cancel got no answer ({error}); the order may still work at "
                    f"{self._venue} and is still followed"
                )
                return None, reason

    # -- polling -------------------------------------------------------------------------
    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                _log.exception("live venue %s: a poll failed", self.name)
            await asyncio.sleep(self._config.poll_interval_s)

    async def poll_once(self) -> None:
        """Look up the unanswered submits, then read the followed orders' fills and ends.

        One request lists the open orders of the followed symbols; an order whose
        filled quantity grew, or that left the list, costs one or two more.
        """
        for tracked in [t for t in self._tracked.values() if t.stage is _Stage.UNKNOWN]:
            async with tracked.lock:
                if tracked.stage is _Stage.UNKNOWN:
                    await self._look_up(tracked)
        working = [t for t in self._tracked.values() if t.stage is _Stage.WORKING]
        if not working:
            return
        try:
            listed = await self.client.open_orders(sorted({t.symbol for t in working}))
        except VenueError as error:
            _log.warning("live venue %s: open orders not read (%s)", self.name, error)
            return
        by_id = {o.client_order_id: o for o in listed}
        for tracked in working:
            async with tracked.lock:
                if tracked.stage is not _Stage.WORKING:
                    continue
                snapshot = by_id.get(tracked.order.client_order_id)
                if snapshot is not None and snapshot.filled_qty <= tracked.reported + _SLACK:
                    continue  # still working, nothing new
                if snapshot is None:
                    try:
                        snapshot = await self.client.get_order(tracked.ref())
                    except VenueError as error:
                        _log.warning("order %s: not read (%s)", tracked.ref(), error)
                        continue
                await self._follow(tracked, snapshot)

    # -- reconcile -----------------------------------------------------------------------
    async def reconcile(
        self, orders: Iterable[Order], positions: Mapping[str, float]
    ) -> ReconcileReport:
        """Compare what the node thinks is working and held with what the venue has.

        Parameters
        ----------
        orders
            The node's working orders (``node.execution.open_orders()``).
        positions
            The node's signed position of each instrument id.

        Returns
        -------
        ReconcileReport
            The differences; nothing is changed on either side.

        Raises
        ------
        VenueError
            If the venue's orders or positions cannot be read.
        """
        symbols = {iid: self.symbol(iid) for iid in self._instruments}
        wanted = sorted(set(symbols.values()))
        venue_orders = await self.client.open_orders(wanted)
        venue_positions = await self.client.positions(wanted)
        return compare_with_venue(
            self._venue,
            orders=list(orders),
            positions=positions,
            venue_orders=venue_orders,
            venue_positions=venue_positions,
            symbols=symbols,
            instruments=self._instruments,
        )

    # -- events --------------------------------------------------------------------------
    def _end(self, tracked: _Tracked, event_type: type[OrderEvent] | None, *fields: object) -> None:
        tracked.stage = _Stage.ENDED
        self._tracked.pop(tracked.order.client_order_id, None)
        if event_type is not None:
            self._emit(event_type, tracked.order, *fields)

    def _emit(self, event_type: type[OrderEvent], order: Order, *fields: object) -> None:
        event = event_type(
            order.client_order_id,
            order.strategy_id,
            order.instrument_id,
            self._clock.timestamp_ns(),
            *fields,
        )
        self._send(event)

    def _send(self, event: OrderEvent) -> None:
        try:
            self._bus.send(PROCESS_ENDPOINT, event)
        except Exception:
            # The venue's word stands; the engine refusing it is a bug to see in the log,
            # not a reason to stop following the venue.
            self.dropped_events += 1
            _log.exception("venue %s: the engine refused %s", self.name, type(event).__name__)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))
