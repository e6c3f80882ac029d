"""``StrategyHost``: the backtest's strategies, run on a paper trading node."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from quantgrid.adapters.storage import OrderRecord, Store
from quantgrid.core import TestClock, ns_to_iso
from quantgrid.model import (
    Bar,
    InvalidMarketDataError,
    Order,
    OrderFilled,
    SubmitOrder,
    SubmitOrderList,
)
from quantgrid.node import NodeNotRunningError, TradingNode
from quantgrid.risk import RISK_ENDPOINT, TradingState
from quantgrid.strategy import Strategy, StrategyError, StrategyParameterError
from quantgrid.venues import SimulatedVenue, VenueConfig

_log = logging.getLogger("quantgrid.paper")

#: Where the hosted strategies send their commands: the host stores new orders first.
HOST_ENDPOINT = "paper.host.orders"


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

    Strategies send their commands to the host (``HOST_ENDPOINT``), which queues each
    new order's record for the store and then hands the command to the node's risk
    engine at once, as a backtest would: the store's writes are made in order, so an
    order's record always comes before its events, and the feed waits for them after
    each moment (``flush``). The record is queued, not awaited, before the order goes
    on (a strategy's hook cannot await); a record the store refuses halts trading.
    So an order can reach the simulated venue before its record is durable, which
    the node's own order entry never allows: holding a moment's commands until their
    records are written is still to do, and why this host is not wired into the
    running platform yet. Resuming after a restart is not done either.

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
        self._started = False
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
        if not self.node.running:
            raise NodeNotRunningError("start the trading node before its StrategyHost")
        if self._started:
            raise ValueError("a StrategyHost starts once")
        if not self.strategies:
            raise ValueError("no strategy: add one with add_strategy() before start()")
        self._started = True
        node = self.node
        for strategy in self.strategies:
            strategy.attach(
                node.clock, node.bus, node.view, node.instruments, order_endpoint=HOST_ENDPOINT
            )
            _call(strategy, strategy.on_start, "on_start")
        await self.flush()

    async def stop(self) -> None:
        """Call the strategies' ``on_stop`` and wait for what they caused to be stored."""
        if not self._started:
            return
        self._started = False
        for strategy in self.strategies:
            _call(strategy, strategy.on_stop, "on_stop")
        await self.flush()

    async def flush(self) -> None:
        """Return once every write queued so far is in the store."""
        await self.node.writer.barrier()

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

    def _check(self, bars: Sequence[Bar]) -> None:
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
        now = self.node.clock.timestamp_ns()
        if ts < now:
            msg = (
                f"bars at {ns_to_iso(ts)} go back in time: the node's clock is at {ns_to_iso(now)}"
            )
            raise InvalidMarketDataError(msg)

    # -- orders ----------------------------------------------------------------------------
    def _on_command(self, command: object) -> None:
        """Queue each new order's record for the store, then hand the command to risk."""
        kind = type(command)
        if kind is SubmitOrder:
            assert isinstance(command, SubmitOrder)
            self._store_order(command.order)
        elif kind is SubmitOrderList:
            assert isinstance(command, SubmitOrderList)
            for order in command.orders:
                self._store_order(order)
        self.node.bus.send(RISK_ENDPOINT, command)

    def _store_order(self, order: Order) -> None:
        record = OrderRecord.from_order(order)
        self.node.writer.post(partial(_save_order, record), self._stored)

    def _stored(self, ok: bool, value: Any) -> None:
        if ok:
            return
        # Trading on after a lost order record would leave its fills without an order.
        self.storage_failures += 1
        _log.error("a hosted strategy's order could not be stored: %s", value)
        risk = self.node.risk
        if risk.state is not TradingState.HALTED:
            risk.halt(f"storage failure: {type(value).__name__}")

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


def _save_order(record: OrderRecord, store: Store) -> bool:
    return store.save_order(record)


def _call(strategy: Strategy, hook: Any, name: str) -> None:
    try:
        hook()
    except StrategyParameterError:
        raise  # already names the strategy, the parameter and the rule
    except Exception as exc:
        msg = f"strategy {strategy.id} failed in {name}: {type(exc).__name__}: {exc}"
        raise StrategyError(msg) from exc
