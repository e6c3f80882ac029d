"""The algorithm engine: runs parent orders, one execution algorithm each.

Commands arrive at ``ExecAlgo.execute``: ``ExecuteParentOrder`` starts a parent,
``CancelParentOrder`` stops one. The engine keeps the latest top of book of every
instrument (``data.quotes.<id>``, or the best levels of ``data.book.<id>``), hands
quotes and trades (``data.trades.<id>``) to the algorithms working that instrument,
and hands each order event (``events.order.<kind>``) to the algorithm that owns the
child order. Child orders go to ``order_endpoint``: the execution engine, or a risk
engine in front of it. Parent events are published on ``events.algo.<kind>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from quantgrid.core import Clock, MessageBus, Serializer
from quantgrid.execution import EXECUTE_ENDPOINT
from quantgrid.execution.algorithms._base import ExecAlgorithm
from quantgrid.execution.algorithms._messages import (
    CancelParentOrder,
    ExecuteParentOrder,
    ParentOrder,
    ParentOrderCanceled,
    ParentOrderCompleted,
    ParentOrderEnded,
    ParentOrderEvent,
    ParentOrderRejected,
    ParentOrderStarted,
    algo_event_topic,
)
from quantgrid.execution.algorithms._params import AlgorithmParameterError
from quantgrid.execution.algorithms._router import Router
from quantgrid.execution.algorithms._schedule import TwapAlgorithm, VwapAlgorithm
from quantgrid.execution.algorithms._simple import (
    IcebergAlgorithm,
    MarketAlgorithm,
    PostOnlyAlgorithm,
)
from quantgrid.model import (
    CancelOrder,
    Instrument,
    ModifyOrder,
    OrderBookDepth,
    OrderEvent,
    QuoteTick,
    SubmitOrder,
    TradeTick,
)

ALGO_ENDPOINT = "ExecAlgo.execute"
# Quotes reach the engine before strategies (it must know the touch when a strategy
# reacting to the same quote sends a parent); order events after them, so a child's
# follow-up orders never reach a strategy before the event that caused them.
_DATA_PRIORITY = 10
_ORDER_EVENT_PRIORITY = -10

BUILTIN_ALGORITHMS: Mapping[str, type[ExecAlgorithm]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            IcebergAlgorithm,
            MarketAlgorithm,
            PostOnlyAlgorithm,
            TwapAlgorithm,
            VwapAlgorithm,
        )
    }
)


class _Context:
    """What the engine provides to one running algorithm (``AlgorithmContext``)."""

    __slots__ = ("_engine", "algo", "arrival", "instrument")

    def __init__(
        self, engine: ExecAlgorithmEngine, instrument: Instrument, arrival: QuoteTick
    ) -> None:
        self._engine = engine
        self.instrument = instrument
        self.arrival = arrival
        self.algo: ExecAlgorithm | None = None

    def now(self) -> int:
        return self._engine._clock.timestamp_ns()

    def quote(self) -> QuoteTick | None:
        return self._engine._quotes.get(self.instrument.id)

    def send(self, command: SubmitOrder | CancelOrder | ModifyOrder) -> None:
        engine = self._engine
        if type(command) is SubmitOrder:
            assert self.algo is not None
            engine._owners[command.order.client_order_id] = self.algo
        engine._bus.send(engine._order_endpoint, command)

    def set_timer(self, ts_ns: int, callback: Callable[[], None]) -> None:
        serially = self._engine._serially
        self._engine._clock.set_alert(ts_ns, lambda _ts: serially(_call, callback))

    def ended(self, canceled: bool, reason: str) -> None:
        assert self.algo is not None
        self._engine._ended(self, self.algo, canceled, reason)


def _call(callback: Callable[[], None]) -> None:
    callback()


def _mid(instrument: Instrument, quote: QuoteTick) -> float:
    """Return the mid of a quote, exact on the half-tick grid when the tick is ``1/n``.

    ``(100.00 + 100.02) / 2`` is 100.00999999999999 in binary floating point; counting
    half ticks and dividing once gives the double nearest 100.01.
    """
    inverse = 1.0 / instrument.price_increment
    whole = round(inverse)
    if whole >= 1 and abs(inverse - whole) < 1e-9 * inverse:
        return round((quote.bid + quote.ask) * whole) / (2 * whole)
    return (quote.bid + quote.ask) / 2


class ExecAlgorithmEngine:
    """Works parent orders with execution algorithms, chosen by name or by the router.

    Parameters
    ----------
    bus, clock
        The node's message bus and clock (timers are clock alerts).
    instruments
        The tradable instruments, by id.
    order_endpoint
        Where child orders, amends and cancels are sent.
    router
        Chooses the algorithm of parents without one, and gives the default horizons
        (``Router()`` when ``None``).
    algorithms
        Algorithms added to (or replacing) ``BUILTIN_ALGORITHMS``, by name.

    Notes
    -----
    A parent is refused with a ``ParentOrderRejected`` event (nothing is sent, no
    exception: the command may have crossed a network bus) when its instrument is
    unknown, its quantity is not a whole number of lots, no two-sided quote of the
    instrument has been seen yet (the arrival price, the benchmark of every cost, would
    be unknown), its algorithm is unknown, or its parameters do not suit the algorithm.
    A second ``ExecuteParentOrder`` with a parent id already seen is dropped and counted
    in ``duplicate_submissions``; a ``CancelParentOrder`` for a parent not running is
    counted in ``unknown_requests``.

    Market data, order events, timers and commands reach the algorithms one at a time:
    whatever arrives while an algorithm is handling something (the events of a child
    it is sending, say) waits until it is done.
    """

    def __init__(
        self,
        bus: MessageBus,
        clock: Clock,
        instruments: Mapping[str, Instrument],
        *,
        order_endpoint: str = EXECUTE_ENDPOINT,
        router: Router | None = None,
        algorithms: Mapping[str, type[ExecAlgorithm]] | None = None,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._instruments = dict(instruments)
        self._order_endpoint = order_endpoint
        self.router = router or Router()
        self._algorithms: dict[str, type[ExecAlgorithm]] = dict(BUILTIN_ALGORITHMS)
        for name, cls in (algorithms or {}).items():
            if not (isinstance(cls, type) and issubclass(cls, ExecAlgorithm)):
                msg = f"algorithm {name!r} must be an ExecAlgorithm subclass, got {cls!r}"
                raise TypeError(msg)
            self._algorithms[name] = cls
        self._quotes: dict[str, QuoteTick] = {}
        self._running: dict[str, ExecAlgorithm] = {}
        self._by_instrument: dict[str, list[ExecAlgorithm]] = {}
        self._owners: dict[str, ExecAlgorithm] = {}
        self._seen: set[str] = set()
        self._results: dict[str, ParentOrderEnded | ParentOrderRejected] = {}
        self._serializer = Serializer()
        self.duplicate_submissions = 0
        self.unknown_requests = 0
        bus.register(ALGO_ENDPOINT, self.execute)
        bus.subscribe("data.quotes.>", self._on_quote, _DATA_PRIORITY)
        bus.subscribe("data.book.>", self._on_depth, _DATA_PRIORITY)
        bus.subscribe("data.trades.>", self._on_trade, _DATA_PRIORITY)
        bus.subscribe("events.order.>", self._on_order_event, _ORDER_EVENT_PRIORITY)

    # -- read-only views -----------------------------------------------------------------
    @property
    def algorithms(self) -> tuple[str, ...]:
        """Return the names of the algorithms this engine runs, sorted."""
        return tuple(sorted(self._algorithms))

    @property
    def running(self) -> tuple[str, ...]:
        """Return the ids of the parents being worked (or stopping), in start order."""
        return tuple(self._running)

    def algorithm(self, parent_id: str) -> ExecAlgorithm | None:
        """Return the algorithm working a parent, while it runs (read it, do not drive it)."""
        return self._running.get(parent_id)

    def result(self, parent_id: str) -> ParentOrderEnded | ParentOrderRejected | None:
        """Return how a parent ended (completed, cancelled or rejected), once it has."""
        return self._results.get(parent_id)

    @property
    def results(self) -> tuple[ParentOrderEnded | ParentOrderRejected, ...]:
        """Return every ended or rejected parent's event, in the order they ended."""
        return tuple(self._results.values())

    def last_quote(self, instrument_id: str) -> QuoteTick | None:
        """Return the latest top of book seen for an instrument."""
        return self._quotes.get(instrument_id)

    # -- commands ----------------------------------------------------------------------
    def execute(self, command: object) -> None:
        """Handle ``ExecuteParentOrder`` and ``CancelParentOrder``.

        Raises
        ------
        TypeError
            For another command.
        """
        kind = type(command)
        if kind is ExecuteParentOrder:
            self._serially(self._start, command)
        elif kind is CancelParentOrder:
            self._serially(self._cancel, command)
        else:
            msg = f"the algorithm engine cannot handle {kind.__name__}"
            raise TypeError(msg)

    def _start(self, command: ExecuteParentOrder) -> None:
        parent = command.parent
        if parent.parent_id in self._seen:
            self.duplicate_submissions += 1
            return
        self._seen.add(parent.parent_id)
        instrument = self._instruments.get(parent.instrument_id)
        if instrument is None:
            self._reject(parent, f"unknown instrument {parent.instrument_id!r}")
            return
        if not instrument.is_valid_size(parent.quantity):
            self._reject(
                parent,
                f"quantity {parent.quantity:g} is not a whole number of lots of "
                f"{instrument.id} (lot size {instrument.size_increment:g})",
            )
            return
        quote = self._quotes.get(instrument.id)
        if quote is None or not (quote.bid > 0 and quote.ask > quote.bid):
            self._reject(
                parent,
                f"no two-sided quote of {instrument.id} seen yet: the arrival price is "
                "unknown, so nothing was sent",
            )
            return
        mid = _mid(instrument, quote)
        if parent.algorithm is None:
            name, raw = self.router.choose(parent, mid, instrument.multiplier)
        else:
            name, raw = parent.algorithm, parent.params
        cls = self._algorithms.get(name)
        if cls is None:
            known = ", ".join(self.algorithms)
            self._reject(parent, f"unknown algorithm {name!r} (known: {known})")
            return
        try:
            params = cls.parse_params(raw)
        except AlgorithmParameterError as exc:
            self._reject(parent, str(exc))
            return
        reason = cls.check(parent, params, instrument)
        if reason:
            self._reject(parent, reason)
            return
        horizon = parent.horizon_ns
        if horizon is None:
            horizon = self.router.config.horizon_for(name, parent.urgency)
        context = _Context(self, instrument, quote)
        algo = cls(parent, params, context, horizon)
        context.algo = algo
        self._running[parent.parent_id] = algo
        self._by_instrument.setdefault(instrument.id, []).append(algo)
        now = self._clock.timestamp_ns()
        self._publish(
            ParentOrderStarted(
                parent.parent_id,
                parent.strategy_id,
                parent.instrument_id,
                now,
                side=parent.side,
                quantity=parent.quantity,
                urgency=parent.urgency,
                algorithm=name,
                params=params.model_dump(),
                horizon_ns=horizon,
                arrival_price=mid,
                arrival_bid=quote.bid,
                arrival_ask=quote.ask,
                ts_arrival=now,
            )
        )
        algo.start()

    def _cancel(self, command: CancelParentOrder) -> None:
        algo = self._running.get(command.parent_id)
        if algo is None or not algo.is_running:
            self.unknown_requests += 1
            return
        algo.abort("canceled on request")

    def _reject(self, parent: ParentOrder, reason: str) -> None:
        event = ParentOrderRejected(
            parent.parent_id,
            parent.strategy_id,
            parent.instrument_id,
            self._clock.timestamp_ns(),
            reason,
        )
        self._results[parent.parent_id] = event
        self._publish(event)

    def _ended(self, context: _Context, algo: ExecAlgorithm, canceled: bool, reason: str) -> None:
        parent = algo.parent
        pid = parent.parent_id
        self._running.pop(pid, None)
        siblings = self._by_instrument.get(parent.instrument_id, [])
        if algo in siblings:
            siblings.remove(algo)
        for client_order_id in algo.children:
            self._owners.pop(client_order_id, None)
        arrival_mid = _mid(context.instrument, context.arrival)
        quote = self._quotes.get(parent.instrument_id)
        end_mid = _mid(context.instrument, quote) if quote is not None else arrival_mid
        kind = ParentOrderCanceled if canceled else ParentOrderCompleted
        event = kind(
            pid,
            parent.strategy_id,
            parent.instrument_id,
            self._clock.timestamp_ns(),
            side=parent.side,
            quantity=parent.quantity,
            filled_quantity=algo.filled_qty,
            avg_px=algo.avg_px,
            algorithm=algo.name,
            child_order_ids=algo.child_order_ids,
            arrival_price=arrival_mid,
            ts_arrival=algo.ts_start,
            end_price=end_mid,
            reason=reason,
            fills=tuple(algo.fills),
        )
        self._results[pid] = event
        self._publish(event)

    def _publish(self, event: ParentOrderEvent) -> None:
        self._bus.publish(algo_event_topic(event), event)

    # -- market data and order events ------------------------------------------------------
    def _on_quote(self, quote: QuoteTick) -> None:
        self._quotes[quote.instrument_id] = quote
        if self._by_instrument.get(quote.instrument_id):
            self._serially(self._deliver_quote, quote)

    def _on_depth(self, depth: OrderBookDepth) -> None:
        if depth.bids and depth.asks:
            (bid, bid_size), (ask, ask_size) = depth.bids[0], depth.asks[0]
            self._on_quote(
                QuoteTick(depth.instrument_id, depth.ts_event, bid, ask, bid_size, ask_size)
            )

    def _on_trade(self, trade: TradeTick) -> None:
        if self._by_instrument.get(trade.instrument_id):
            self._serially(self._deliver_trade, trade)

    def _deliver_quote(self, quote: QuoteTick) -> None:
        for algo in list(self._by_instrument.get(quote.instrument_id, ())):
            algo.handle_quote(quote)

    def _deliver_trade(self, trade: TradeTick) -> None:
        for algo in list(self._by_instrument.get(trade.instrument_id, ())):
            algo.handle_trade(trade)

    def _on_order_event(self, event: OrderEvent) -> None:
        algo = self._owners.get(event.client_order_id)
        if algo is not None:
            self._serially(algo.handle_event, event)

    def _serially(self, action: Callable[[Any], None], argument: Any) -> None:
        """Run ``action`` now, or after what the algorithms are handling if there is one."""
        self._serializer.run(action, argument)
