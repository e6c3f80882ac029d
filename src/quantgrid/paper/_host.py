"""``StrategyHost``: the backtest's strategies, run on a paper trading node."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from quantgrid.adapters.storage import ConflictError, InvalidRecordError, OrderRecord, Store
from quantgrid.core import TestClock, ns_to_iso
from quantgrid.model import (
    Bar,
    InvalidMarketDataError,
    Order,
    OrderDenied,
    OrderFilled,
    SubmitOrder,
    SubmitOrderList,
)
from quantgrid.node import NodeNotRunningError, SaveOrder, TradingNode
from quantgrid.risk import RISK_ENDPOINT, TradingState
from quantgrid.strategy import Strategy, StrategyError, StrategyParameterError
from quantgrid.venues import SimulatedVenue, VenueConfig

_log = logging.getLogger("quantgrid.paper")

#: Where the hosted strategies send their commands: the host stores new orders first.
HOST_ENDPOINT = "paper.host.orders"
#: Why an order whose record could not be written was never sent.
NOT_STORED = "not_stored"
#: The store checkpoint of a strategy's ``save_state`` is this followed by its id.
STATE_CHECKPOINT = "strategy-state."
_PAGE = 1000


class StrategyHost:
    """Run ``Strategy`` subclasses on a ``TradingNode``, bar by bar, as a backtest does.

    Parameters
    ----------
    node
        The paper trading node, built and not started yet.
    venue
        How bars fill orders: the backtest's bar venue (``SimulatedVenue``) with this
        configuration replaces the node's order-book venue, under the same name and
        endpoint. ``None`` keeps the order-book venue: orders then match only on the
        quotes, trades and books fed to the node (``node.on_quote`` ...), and bars
        only reach the strategies.

    Attributes
    ----------
    node
        The node the strategies trade on.
    venue
        The bar venue, or ``None`` when the node's order-book venue matches.
    strategies
        The hosted strategies, in the order they were added.

    Raises
    ------
    ValueError
        If the node is running already: the node places its recovered working orders
        on the venue when it starts, so the bar venue must be in place before.

    Notes
    -----
    What happens with one moment's bars (``on_bars``) is what ``BacktestEngine`` does:
    the node's clock moves to the bars' time, the venue fills, triggers or expires
    the working orders of every instrument at its bar, then marks every close, then
    the bars are published on ``data.bars.<id>`` in the order given, so nothing a
    strategy decides at a bar fills at that bar.

    Durable before sent: strategies send their commands (submit, cancel, modify,
    lists) to the host (``HOST_ENDPOINT``), which holds them, in order, while the
    hooks run. ``flush`` (the feed calls it after each moment; ``start`` and ``stop``
    after their hooks) writes the held new orders' records, all queued at once so the
    writer commits them together, awaits them, and only then hands the commands to
    the node's risk engine in their original order; commands sent meanwhile (from
    ``on_order_event`` or ``on_fill``) are held and sent the same way, until none is
    left. So no order reaches a venue before its record is in the store, as with the
    node's own order entry (``OrderDesk``). ``on_bars`` refuses new bars while
    commands are held: nothing decided at a moment may miss the next moment's bars.

    Orders and fills are those of a backtest: the bar venue fills nothing at the bar
    an order was decided on, and the commands reach risk, engine and venue in the
    backtest's order, on the same clock, prices and portfolio. What a strategy sees
    *during* a hook differs: an order it has just sent is in its ``open_orders()``
    (as in a backtest) but still ``INITIALIZED``, and its acceptance, a risk denial
    or a venue rejection reach ``on_order_event`` after the hooks of the moment have
    returned, not inside the call that sent it, as from a real venue. A command a
    strategy sends while reacting to such an event (or to a fill) goes after the
    moment's other commands; in a backtest it would cut in, and an order it places
    on another instrument could fill at that moment's bar. None of the built-in
    strategies reacts so. An order whose record the store refuses (or that repeats
    a stored order's id) is never sent: it is denied (``NOT_STORED``) on the order
    itself and to its strategy, the node's engine never sees it, and a refused
    write halts trading.

    Resuming after a restart (``resume`` instead of ``start``, on a node started on
    the same store): the node brings back cash, positions and working orders; the
    host warms the fresh strategies up on the bars played before the restart, with
    every command dropped, then hands each strategy its order-id count (from its
    stored orders) and its recovered working orders (``Strategy.resume``). What a
    strategy keeps outside its indicators and orders (a counter set in ``on_bar``, a
    flag set by a fill) comes back if it says so: ``flush`` stores each strategy's
    ``Strategy.save_state`` whenever it changed (checkpoint ``strategy-state.<id>``),
    and after the warm-up it gets it back through ``Strategy.load_state``; otherwise
    it is as the warm-up leaves it (which runs on the recovered portfolio, not the one
    each bar saw). Whatever the strategies do, an id the store holds already is
    refused (``NOT_STORED``): nothing is sent twice.

    Unlike a backtest, the host never calls ``Strategy.on_data`` (a live strategy
    cannot see its future bars) and does not close positions after the last bar.
    """

    def __init__(self, node: TradingNode, venue: VenueConfig | None = None) -> None:
        if not isinstance(node, TradingNode):
            msg = f"StrategyHost needs a TradingNode, got {type(node).__name__}"
            raise TypeError(msg)
        if node.running:
            msg = (
                "StrategyHost must be built before node.start(): the node places its "
                "recovered orders on the venue when it starts"
            )
            raise ValueError(msg)
        if venue is not None and not isinstance(venue, VenueConfig):
            msg = f"StrategyHost.venue must be a VenueConfig or None, got {venue!r}"
            raise ValueError(msg)
        self.node = node
        self.strategies: list[Strategy] = []
        self.venue: SimulatedVenue | None = None
        self.storage_failures = 0
        self.refused_orders = 0
        self._started = False
        self._warming = False
        self.dropped_commands = 0
        # The commands of the moment, in the order sent, until their orders are stored.
        self._held: list[object] = []
        # The last state stored of each strategy (``Strategy.save_state``).
        self._saved_states: dict[str, dict[str, Any]] = {}
        self._sending = asyncio.Lock()
        if venue is not None:
            book = node.venue
            # The engine sends to the book venue's endpoint: the bar venue takes it over.
            node.bus.deregister(book.endpoint)
            self.venue = SimulatedVenue(
                book.name,
                node.bus,
                node.clock,
                node.prices,
                node.instruments,
                node.portfolio,
                venue,
            )
        node.bus.register(HOST_ENDPOINT, self._on_command)

    def add_strategy(self, strategy: Strategy) -> None:
        """Add a strategy before ``start``; it trades every instrument of the node.

        Raises
        ------
        ValueError
            If another strategy has its id, or the host has started.
        """
        if not isinstance(strategy, Strategy):
            msg = f"StrategyHost.add_strategy needs a Strategy, got {type(strategy).__name__}"
            raise TypeError(msg)
        if self._started:
            raise ValueError("add strategies before StrategyHost.start()")
        if any(s.id == strategy.id for s in self.strategies):
            msg = f"two strategies share the id {strategy.id!r}; give one another strategy_id"
            raise ValueError(msg)
        self.strategies.append(strategy)

    async def start(self) -> None:
        """Attach the strategies to the running node and call their ``on_start``.

        Raises
        ------
        NodeNotRunningError
            If the node is not running.
        ValueError
            If there is no strategy or the host started already.
        """
        self._attach("start()")
        await self.flush()

    def _attach(self, how: str) -> None:
        """Check the host may start, attach the strategies and call their ``on_start``."""
        if not self.node.running:
            raise NodeNotRunningError(f"start the trading node before the host's {how}")
        if self._started:
            raise ValueError("a StrategyHost starts once, by start() or by resume()")
        if not self.strategies:
            raise ValueError(f"no strategy: add one with add_strategy() before {how}")
        self._started = True
        node = self.node
        for strategy in self.strategies:
            strategy.attach(
                node.clock, node.bus, node.view, node.instruments, order_endpoint=HOST_ENDPOINT
            )
            _call(strategy, strategy.on_start, "on_start")

    async def resume(self, warm_up: Iterable[Sequence[Bar]]) -> int | None:
        """Start again after a restart: warm the strategies up, then hand them the store's state.

        Call it instead of ``start``, once the node has started on the store of the
        run that stopped (so its recovery has placed the working orders back), and
        then play the bars after the returned time (``ReplayFeed(start_after_ns=...)``).

        Parameters
        ----------
        warm_up
            The moments played before the restart, in time order, up to the last one
            whose commands were flushed (``ReplayFeed(...).moments()``, cut there).

        Returns
        -------
        int | None
            The time of the last warm-up moment (``None`` if there was none).

        Raises
        ------
        NodeNotRunningError
            If the node is not running.
        ValueError
            If there is no strategy or the host started already.
        InvalidMarketDataError
            If a warm-up moment is malformed or goes back in time.
        StrategyError
            If a strategy raises during the warm-up.
        StoreError
            If the strategies' stored orders cannot be read.

        Notes
        -----
        In order: each strategy is attached and its ``on_start`` called; each warm-up
        bar goes to the strategies' ``on_bar`` only (not on the bus: the node's clock,
        marks, venue and risk engine never see it) and every command they send is
        dropped (``dropped_commands``); then each strategy gets ``Strategy.resume``
        with the largest N of its stored ids ``<strategy_id>-N`` and the node's
        working orders of its strategy id (the recovered ones, the very objects the
        engine updates). Bars reach the strategies as ``on_bars`` delivers them, so
        their indicators end where they ended before the restart. During the warm-up
        a strategy reads the recovered (final) portfolio and its own dropped orders,
        so what it decides there is discarded; ``Strategy.on_data`` is not called.
        """
        node = self.node
        self._warming = True
        last: int | None = None
        try:
            self._attach("resume()")
            for moment in warm_up:
                bars = tuple(moment)
                self._check_warm_up(bars, last)
                for bar in bars:
                    for strategy in self.strategies:
                        _call(strategy, partial(strategy.on_bar, bar), "on_bar (warm-up)")
                last = bars[0].ts_event
        finally:
            self._warming = False
            self._held.clear()
        ids = [s.id for s in self.strategies]
        sent = await asyncio.to_thread(_orders_sent, node.store, ids)
        for strategy in self.strategies:
            # Not-closed, not "open": a bracket's exits wait INITIALIZED for their entry.
            working = [
                o for o in node.execution.orders if o.strategy_id == strategy.id and not o.is_closed
            ]
            strategy.resume(orders_sent=sent[strategy.id], working=working)
            await self._load_state(strategy)
        _log.info(
            "strategies resumed",
            extra={"orders_sent": sent, "warm_up_until": last, "dropped": self.dropped_commands},
        )
        return last

    def open(self) -> None:
        """Start with no strategy yet, to ``add`` them while the bars play.

        Raises
        ------
        NodeNotRunningError
            If the node is not running.
        ValueError
            If the host started already, or strategies were added before (use
            ``start`` or ``resume`` for those).
        """
        if self.strategies:
            raise ValueError("strategies were added: start the host with start() or resume()")
        if not self.node.running:
            raise NodeNotRunningError("start the trading node before the host's open()")
        if self._started:
            raise ValueError("a StrategyHost starts once, by start(), resume() or open()")
        self._started = True

    async def add(
        self,
        strategy: Strategy,
        *,
        instruments: Sequence[str] | None = None,
        warm_up: Iterable[Sequence[Bar]] = (),
        restore_state: bool = False,
    ) -> None:
        """Add a strategy to the started host, between two moments of bars.

        The strategy is attached (to ``instruments``, default every instrument of the
        node), its ``on_start`` called, the ``warm_up`` moments handed to its
        ``on_bar`` with every command it sends dropped (as ``resume`` does), then it
        gets ``Strategy.resume`` with its stored order ids and the node's working
        orders of its id, so a strategy added again after a restart issues no id twice
        and manages its recovered orders; with ``restore_state`` (a restart) it also
        gets back the state it stored (``Strategy.load_state``), while a strategy
        started afresh keeps what its warm-up built. What it sends from then on is
        stored and sent (``flush``) before this returns; if that fails, it is detached
        again and the error raised.

        Raises
        ------
        ValueError
            If the host has not started, another strategy has its id, an instrument
            is not the node's, or commands of the last moment are still held.
        StrategyError
            If the strategy raises while starting or warming up.
        """
        if not isinstance(strategy, Strategy):
            msg = f"StrategyHost.add needs a Strategy, got {type(strategy).__name__}"
            raise TypeError(msg)
        if not self._started:
            raise ValueError("StrategyHost.add needs a started host: start(), resume() or open()")
        if any(s.id == strategy.id for s in self.strategies):
            msg = f"two strategies share the id {strategy.id!r}; give one another strategy_id"
            raise ValueError(msg)
        node = self.node
        ids = list(node.instruments) if instruments is None else list(instruments)
        unknown = [i for i in ids if i not in node.instruments]
        if unknown or not ids:
            msg = (
                f"strategy {strategy.id} instruments {unknown or ids!r}: each must be an "
                f"instrument the node trades ({', '.join(node.instruments)})"
            )
            raise ValueError(msg)
        if self._held:
            raise ValueError("add a strategy between moments: await flush() first")
        strategy.attach(
            node.clock,
            node.bus,
            node.view,
            {i: node.instruments[i] for i in ids},
            order_endpoint=HOST_ENDPOINT,
        )
        self.strategies.append(strategy)
        try:
            self._warming = True
            try:
                _call(strategy, strategy.on_start, "on_start")
                traded = set(ids)
                for moment in warm_up:
                    for bar in moment:
                        if bar.instrument_id in traded:
                            _call(strategy, partial(strategy.on_bar, bar), "on_bar (warm-up)")
            finally:
                self._warming = False
                self._held.clear()
            sent = await asyncio.to_thread(_orders_sent, node.store, [strategy.id])
            working = [
                o for o in node.execution.orders if o.strategy_id == strategy.id and not o.is_closed
            ]
            strategy.resume(orders_sent=sent[strategy.id], working=working)
            if restore_state:
                await self._load_state(strategy)
            await self.flush()
        except BaseException:
            self._detach(strategy)
            raise

    async def remove(self, strategy_id: str, *, cancel_orders: bool = True) -> bool:
        """Stop one strategy between two moments; return ``False`` if none has that id.

        Its ``on_stop`` is called, then (``cancel_orders``) its working orders are
        cancelled, what it sent is stored and sent, and it hears nothing more. Its
        positions stay open.
        """
        strategy = next((s for s in self.strategies if s.id == strategy_id), None)
        if strategy is None:
            return False
        _call(strategy, strategy.on_stop, "on_stop")
        if cancel_orders:
            strategy.cancel_all()
        await self.flush()
        self._detach(strategy)
        return True

    def _detach(self, strategy: Strategy) -> None:
        strategy.detach()
        self.strategies.remove(strategy)
        # Started again later, it stores its state afresh at its first moment.
        self._saved_states.pop(strategy.id, None)

    async def stop(self) -> None:
        """Call the strategies' ``on_stop``, send what they decided, wait for the store."""
        if not self._started:
            return
        for strategy in self.strategies:
            _call(strategy, strategy.on_stop, "on_stop")
        await self.flush()
        self._started = False

    @property
    def warming(self) -> bool:
        """Tell whether the strategies are being warmed up (what they send is dropped)."""
        return self._warming

    @property
    def held(self) -> int:
        """Return how many commands wait for their orders' records to be written."""
        return len(self._held)

    async def flush(self) -> None:
        """Store the held commands' new orders, send the commands, wait for the store.

        Returns once every command the strategies sent is handed on (its new orders'
        records durable before it) and every write it caused is in the store.

        Raises
        ------
        StrategyError
            If a strategy raises while reacting to an event of a command sent here.
        """
        async with self._sending:
            while self._held:
                commands, self._held = self._held, []
                await self._send(commands)
            await self._save_states()
            await self.node.writer.barrier()

    async def _save_states(self) -> None:
        """Store each strategy's ``save_state`` that changed since it was last stored."""
        if self._warming:
            return
        writes = []
        for strategy in self.strategies:
            state = strategy.save_state()
            if state is None or self._saved_states.get(strategy.id) == state:
                continue
            copy = dict(state)
            self._saved_states[strategy.id] = copy
            name = STATE_CHECKPOINT + strategy.id
            ts = self.node.clock.timestamp_ns()
            writes.append((strategy, self.node.writer.submit(partial(_save_state, name, copy, ts))))
        for strategy, write in writes:
            try:
                await write
            except Exception as exc:
                # Trading on with a state the store lost would resume a restart wrongly.
                self._saved_states.pop(strategy.id, None)
                msg = f"strategy {strategy.id}: its state could not be stored: {exc}"
                raise StrategyError(msg) from exc

    async def _load_state(self, strategy: Strategy) -> None:
        """Hand ``strategy`` the state it stored before a restart, if it stored one."""
        name = STATE_CHECKPOINT + strategy.id
        stored = await asyncio.to_thread(self.node.store.get_checkpoint, name)
        if stored is None:
            return
        _call(strategy, partial(strategy.load_state, stored.value), "load_state")
        self._saved_states[strategy.id] = dict(stored.value)

    # -- bars ------------------------------------------------------------------------------
    def on_bars(self, bars: Sequence[Bar]) -> None:
        """Handle the bars of one moment: fill at their opens, mark their closes, publish.

        Raises
        ------
        InvalidMarketDataError
            If the bars are empty, of several timestamps, of an instrument the node
            does not trade, twice of one instrument, or earlier than the clock.
        NodeNotRunningError
            If the node is not running or the host not started.
        StrategyError
            If a strategy (or anything reacting to the bars) raises; names the bar.
        """
        node = self.node
        if not (node.running and self._started):
            raise NodeNotRunningError("start the node and the StrategyHost before feeding bars")
        self._check(bars)
        if self._held:
            msg = (
                f"{len(self._held)} commands of the last moment are not sent yet: "
                "await StrategyHost.flush() before the next bars"
            )
            raise RuntimeError(msg)
        ts = bars[0].ts_event
        clock = node.clock
        if isinstance(clock, TestClock):
            clock.advance_to(ts)
        else:
            clock.fire_due()
        venue = self.venue
        bus = node.bus
        bar: Bar | None = None
        try:
            if venue is not None:
                for bar in bars:
                    venue.match_open(bar)
                for bar in bars:
                    venue.mark_close(bar)
            for bar in bars:
                bus.publish(f"data.bars.{bar.instrument_id}", bar)
        except StrategyError:
            raise
        except Exception as exc:
            where = f"{bar.instrument_id} bar at {ns_to_iso(bar.ts_event)}" if bar else "a bar"
            msg = f"paper trading failed on {where}: {type(exc).__name__}: {exc}"
            raise StrategyError(msg) from exc
        node.accounts.sample(clock.timestamp_ns())

    def _check_warm_up(self, bars: tuple[Bar, ...], last: int | None) -> None:
        self._check_moment(bars)
        ts = bars[0].ts_event
        if last is not None and ts <= last:
            msg = (
                f"warm-up bars at {ns_to_iso(ts)} do not follow the moment at "
                f"{ns_to_iso(last)}: warm-up moments must be in increasing time order"
            )
            raise InvalidMarketDataError(msg)

    def _check(self, bars: Sequence[Bar]) -> None:
        self._check_moment(bars)
        ts = bars[0].ts_event
        now = self.node.clock.timestamp_ns()
        if ts < now:
            msg = (
                f"bars at {ns_to_iso(ts)} go back in time: the node's clock is at {ns_to_iso(now)}"
            )
            raise InvalidMarketDataError(msg)

    def _check_moment(self, bars: Sequence[Bar]) -> None:
        if not bars:
            raise InvalidMarketDataError("bars of a moment: there must be at least one")
        for bar in bars:
            if not isinstance(bar, Bar):
                msg = f"bars of a moment must be Bar records, got {type(bar).__name__}"
                raise InvalidMarketDataError(msg)
        ts = bars[0].ts_event
        seen: set[str] = set()
        for bar in bars:
            if bar.instrument_id not in self.node.instruments:
                msg = f"bar of {bar.instrument_id!r}: the node does not trade this instrument"
                raise InvalidMarketDataError(msg)
            if bar.ts_event != ts:
                msg = (
                    f"bars of a moment must share one timestamp: {bar.instrument_id} at "
                    f"{ns_to_iso(bar.ts_event)}, the first at {ns_to_iso(ts)}"
                )
                raise InvalidMarketDataError(msg)
            if bar.instrument_id in seen:
                msg = f"bars of a moment hold {bar.instrument_id!r} twice"
                raise InvalidMarketDataError(msg)
            seen.add(bar.instrument_id)

    # -- orders ----------------------------------------------------------------------------
    def _on_command(self, command: object) -> None:
        """Hold a strategy's command until ``flush`` has stored its new orders."""
        if self._warming:
            # Decided on bars that were traded before the restart: sent then, or never.
            self.dropped_commands += 1
            return
        self._held.append(command)

    async def _send(self, commands: list[object]) -> None:
        """Write the new orders of ``commands`` in one group, then send them in order."""
        orders = [order for command in commands for order in _new_orders(command)]
        writer = self.node.writer
        # Queued together, the records go to the store in one batch: one commit.
        writes = [writer.submit(SaveOrder(OrderRecord.from_order(o))) for o in orders]
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        refused = {
            order.client_order_id: _refusal(order, outcome)
            for order, outcome in zip(orders, outcomes, strict=True)
            if outcome is not True
        }
        bus = self.node.bus
        for command in commands:
            news = _new_orders(command)
            reasons = [refused[o.client_order_id] for o in news if o.client_order_id in refused]
            if reasons:
                # A list goes whole or not at all: never an entry without its exits.
                for order in news:
                    self._refuse(order, *reasons[0])
                continue
            try:
                bus.send(RISK_ENDPOINT, command)
            except StrategyError:
                raise
            except Exception as exc:
                msg = f"paper trading failed on {type(command).__name__}: {exc}"
                raise StrategyError(msg) from exc

    def _refuse(self, order: Order, reason: str, store_failed: bool) -> None:
        """Deny an order that was not stored: on itself and to its strategy only.

        The node's engine never hears of it (it may hold a recovered order of that
        id), and the store keeps no event of it (it has no record of it).
        """
        self.refused_orders += 1
        _log.error("order %s was not sent: %s", order.client_order_id, reason)
        denied = OrderDenied(
            order.client_order_id,
            order.strategy_id,
            order.instrument_id,
            self.node.clock.timestamp_ns(),
            f"{NOT_STORED}: {reason}",
        )
        order.apply(denied)
        for strategy in self.strategies:
            if strategy.id == order.strategy_id:
                _call(strategy, partial(strategy.on_order_event, denied), "on_order_event")
        if store_failed:
            # Trading on after a lost write would leave the store behind the node.
            self.storage_failures += 1
            risk = self.node.risk
            if risk.state is not TradingState.HALTED:
                risk.halt(f"storage failure: {reason}")

    # -- results ---------------------------------------------------------------------------
    @property
    def orders(self) -> tuple[Order, ...]:
        """Return the hosted strategies' orders, in creation order, as they are now."""
        ids = {s.id for s in self.strategies}
        return tuple(o for o in self.node.execution.orders if o.strategy_id in ids)

    @property
    def fills(self) -> tuple[OrderFilled, ...]:
        """Return every fill of the node's portfolio since it started, in order."""
        return tuple(self.node.portfolio.fills)


def _stored_orders(store: Store, strategy_id: str) -> Iterator[OrderRecord]:
    """Yield every stored order of ``strategy_id``, a page at a time."""
    after: str | None = None
    while True:
        page = store.list_orders(strategy_id=strategy_id, limit=_PAGE, after=after)
        for stored in page.items:
            yield stored.order
        after = page.next_cursor
        if after is None:
            return


def _orders_sent(store: Store, strategy_ids: Sequence[str]) -> dict[str, int]:
    """Return, per strategy, the largest N of its stored order ids ``<strategy_id>-N``."""
    sent: dict[str, int] = {}
    for sid in strategy_ids:
        own_id = re.compile(rf"{re.escape(sid)}-(\d+)")
        numbers = (own_id.fullmatch(o.client_order_id) for o in _stored_orders(store, sid))
        sent[sid] = max((int(n.group(1)) for n in numbers if n is not None), default=0)
    return sent


def latest_stored_moment(store: Store, strategy_ids: Iterable[str]) -> int | None:
    """Return the latest moment whose decisions of these strategies are in the store.

    The time an order of theirs was made, or the time their state was last stored
    (``Strategy.save_state``), whichever is later; ``None`` if neither is stored. A
    restart resumes after it: what was decided there may have reached the venue.
    """
    latest: int | None = None
    for sid in strategy_ids:
        for order in _stored_orders(store, sid):
            latest = order.ts_init if latest is None else max(latest, order.ts_init)
        state = store.get_checkpoint(STATE_CHECKPOINT + sid)
        if state is not None:
            latest = state.ts_ns if latest is None else max(latest, state.ts_ns)
    return latest


def _save_state(name: str, state: dict[str, Any], ts: int, store: Store) -> None:
    store.save_checkpoint(name, state, ts)


def _new_orders(command: object) -> tuple[Order, ...]:
    kind = type(command)
    if kind is SubmitOrder:
        assert isinstance(command, SubmitOrder)
        return (command.order,)
    if kind is SubmitOrderList:
        assert isinstance(command, SubmitOrderList)
        return command.orders
    return ()


def _refusal(order: Order, outcome: object) -> tuple[str, bool]:
    """Say why an order's record was not written, and whether the store failed.

    ``outcome`` is not ``True``: False or a conflict (the id is stored already), an
    ``InvalidRecordError`` (the order cannot be stored, as the desk refuses it), or
    any other error, the store failing (which halts trading).
    """
    if outcome is False or isinstance(outcome, ConflictError):
        return f"an order {order.client_order_id} is stored already; it is never sent twice", False
    if isinstance(outcome, InvalidRecordError):
        return f"the order cannot be stored: {outcome}", False
    return f"the store failed: {type(outcome).__name__}: {outcome}", True


def _call(strategy: Strategy, hook: Any, name: str) -> None:
    try:
        hook()
    except StrategyParameterError:
        raise  # already names the strategy, the parameter and the rule
    except Exception as exc:
        msg = f"strategy {strategy.id} failed in {name}: {type(exc).__name__}: {exc}"
        raise StrategyError(msg) from exc
