"""The trading node: the composition root of paper trading.

One node wires the core exactly as a tick replay does (clock, message bus, prices,
portfolio, order-book venue, execution engine, risk engine) with the wall clock, and
adds what a long-running process needs: every order is durable in the store before it
is acknowledged, every event is stored and then published on the event bus, and a
restart picks up where the last run stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterable, Callable, Collection
from types import TracebackType
from typing import Any, Self
from uuid import uuid4

from quantgrid.adapters.bus import EventBus
from quantgrid.adapters.storage import (
    FillRecord,
    Page,
    Store,
)
from quantgrid.core import LiveClock, MessageBus, PriceCache, TestClock
from quantgrid.execution import PROCESS_ENDPOINT, ExecutionEngine
from quantgrid.model import (
    FloatArray,
    InvalidMarketDataError,
    OrderBookDepth,
    OrderEvent,
    OrderFilled,
    OrderStatus,
    QuoteTick,
    TradeTick,
)
from quantgrid.node._accounts import Accounts
from quantgrid.node._config import NodeConfig
from quantgrid.node._desk import OrderDesk
from quantgrid.node._errors import (
    NodeNotRunningError,
    StorageFailedError,
)
from quantgrid.node._recorder import EventRecorder
from quantgrid.node._recovery import load_state, restore
from quantgrid.node._risk import NodeRiskEngine
from quantgrid.node._views import (
    CashView,
    EquityPoint,
    OrderDetail,
    OrderRequest,
    OrderView,
    PnlView,
    PositionView,
    RecoveryReport,
    RiskDecision,
    RiskStatus,
    SubmitResult,
)
from quantgrid.node._writer import StoreWriter
from quantgrid.portfolio import POSITION_TOPIC, Portfolio, PortfolioView
from quantgrid.risk import RiskConfig, TradingState
from quantgrid.venues import OrderBookVenue

_log = logging.getLogger("quantgrid.node")
_SESSION = re.compile(r"[a-z0-9]{1,16}")
_DATA_TOPIC = {QuoteTick: "data.quotes.", TradeTick: "data.trades.", OrderBookDepth: "data.book."}
_ALERT_IDLE_S = 0.05
_TRADE_MEMORY = 100_000


class TradingNode:
    """A paper trading node: the core on the wall clock, the store and the event bus.

    Parameters
    ----------
    config
        What to trade and how (a ``NodeConfig``; a backtest config is refused).
    store
        Where orders, their events, fills, positions and cash are kept.
    bus
        Where durable events are published (``events.order.<kind>``,
        ``events.position.changed``, ``events.risk.state``).
    clock
        ``LiveClock`` (the default) or, in tests, a ``TestClock`` that market data
        (or the test) advances.
    session_id
        Names this run's paper venue (``PAPER-<session_id>``), so venue order ids and
        trade ids never repeat across restarts; random by default.

    Attributes
    ----------
    clock, bus, prices, portfolio, venue, execution, risk
        The core components, wired as in a replay; ``bus`` is the core message bus.
    desk, accounts
        The order desk (requests, durable answers) and the account views.
    recovery
        What ``start`` found in the store and did (see ``RecoveryReport``).

    Notes
    -----
    Durability: ``submit`` acknowledges an order only after the store committed it and
    every event its submission caused (acceptance, fills, denial); writes go through
    one writer thread in batches (see ``StoreWriter``). Every later event is stored,
    then published. All state changes run on the event loop; the store is called from
    the writer thread (writes) and worker threads (reads).

    Recovery (``start``): cash and positions come back by replaying the stored fills,
    each trade id once, into a fresh portfolio (stored position snapshots that lag are
    rewritten); working orders come back from their stored histories and are placed
    again, once each, on the new paper venue for what they have left to fill (the old
    venue died with the process, so nothing reaches a venue twice); the engine's
    re-submission of such an order is not stored again. See ``docs/node.md``.
    """

    def __init__(
        self,
        config: NodeConfig,
        *,
        store: Store,
        bus: EventBus,
        clock: LiveClock | TestClock | None = None,
        session_id: str | None = None,
    ) -> None:
        if not isinstance(config, NodeConfig):
            kind = type(config).__name__
            hint = (
                "; a backtest config runs in run_backtest or run_replay, not on a live clock"
                if kind in ("BacktestConfig", "ReplayConfig")
                else ""
            )
            msg = f"TradingNode needs a NodeConfig, got {kind}{hint}"
            raise TypeError(msg)
        if clock is not None and not isinstance(clock, LiveClock | TestClock):
            msg = f"clock must be a LiveClock or a TestClock, got {type(clock).__name__}"
            raise TypeError(msg)
        session = uuid4().hex[:8] if session_id is None else session_id
        if not (isinstance(session, str) and _SESSION.fullmatch(session)):
            msg = f"session_id must be 1-16 lower-case letters or digits, got {session!r}"
            raise ValueError(msg)
        self.config = config
        self.store = store
        self.event_bus = bus
        self.session_id = session
        self.clock: LiveClock | TestClock = LiveClock() if clock is None else clock
        self.instruments = config.instrument_map()
        self.currency = config.currency
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.portfolio = Portfolio(
            self.bus, self.prices, self.instruments, config.initial_cash, config.leverage
        )
        self.view = PortfolioView(self.portfolio)
        self.venue = OrderBookVenue(
            f"{config.venue_name}-{session}",
            self.bus,
            self.clock,
            self.prices,
            self.instruments,
            self.portfolio,
            config.venue,
        )
        self._venue_handlers: dict[type, Callable[[Any], None]] = {
            QuoteTick: self.venue.on_quote,
            TradeTick: self.venue.on_trade,
            OrderBookDepth: self.venue.on_depth,
        }
        self.execution = ExecutionEngine(
            self.bus, self.clock, self.venue.endpoint, self.instruments
        )
        # Venue events reach the engine through a filter that drops repeated fills.
        self.bus.deregister(PROCESS_ENDPOINT)
        self.bus.register(PROCESS_ENDPOINT, self._from_venue)
        self.risk = NodeRiskEngine(
            self.bus,
            self.clock,
            self.view,
            self.instruments,
            config.risk or RiskConfig(),
            self.execution,
        )
        self._writer = StoreWriter(
            store, max_batch=config.write_batch, on_failure=self._storage_failed
        )
        self._recorder = EventRecorder(
            bus=self.bus,
            event_bus=bus,
            writer=self._writer,
            execution=self.execution,
            instruments=self.instruments,
            account_id=config.account_id,
            on_failure=self._storage_failed,
        )
        self.accounts = Accounts(
            portfolio=self.portfolio,
            prices=self.prices,
            instrument_ids=self.instruments,
            account_id=config.account_id,
            currency=self.currency,
            store=store,
            writer=self._writer,
            interval_ns=config.equity_interval_ns,
            history=config.equity_history,
        )
        self.desk = OrderDesk(
            bus=self.bus,
            clock=self.clock,
            instruments=self.instruments,
            execution=self.execution,
            risk=self.risk,
            store=store,
            writer=self._writer,
            require_running=self._require_running,
            kick=self._kick,
        )
        # Equity is sampled at every fill (after the portfolio applied it).
        self.bus.subscribe(POSITION_TOPIC, self._on_position_changed)
        self._trade_ids: set[str] = set()
        self._trade_order: deque[str] = deque()
        self._running = False
        self._started = False
        self._alerts: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.recovery = RecoveryReport()
        self.duplicate_fills = 0
        self.storage_failures = 0

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Tell whether the node takes orders and market data."""
        return self._running

    async def start(self) -> RecoveryReport:
        """Recover from the store, then take orders and market data.

        Raises
        ------
        RecoveryError
            If the store's cash movements of the account do not add up to
            ``config.initial_cash`` (another account's store, or another capital).
        StoreError
            If the store cannot be read.
        """
        if self._started:
            raise RuntimeError("a TradingNode starts once; build a new one to start again")
        self._started = True
        state = await asyncio.to_thread(
            load_state, self.store, self.config.account_id, self.currency
        )
        self._writer.start()
        self._recorder.start()
        try:
            self.recovery = restore(self, state)
        except BaseException:
            await self._writer.stop()
            await self._recorder.stop()
            raise
        self._running = True
        self.accounts.sample(self.clock.timestamp_ns(), force=True)
        if isinstance(self.clock, LiveClock):
            self._wake = asyncio.Event()
            self._alerts = asyncio.create_task(self._fire_alerts(), name="quantgrid-node-alerts")
        await self._writer.barrier()
        _log.info(
            "node started",
            extra={
                "session": self.session_id,
                "fills_replayed": self.recovery.fills,
                "orders_replaced": len(self.recovery.replaced),
            },
        )
        return self.recovery

    async def stop(self) -> None:
        """Stop taking orders, make the queued writes, publish what they stored."""
        if not self._running:
            return
        self._running = False
        if self._alerts is not None:
            self._alerts.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._alerts
        await self._writer.barrier()
        await self._writer.stop()
        await self._recorder.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _require_running(self) -> None:
        if not self._running:
            state = "has stopped" if self._started else "is not started"
            raise NodeNotRunningError(f"the trading node {state}")

    # -- market data -----------------------------------------------------------------------
    def on_quote(self, quote: QuoteTick) -> None:
        """Match the paper venue's orders against a new top of book."""
        self._market_data(quote)

    def on_trade(self, trade: TradeTick) -> None:
        """Apply a print of the market to the paper venue's queues."""
        self._market_data(trade)

    def on_depth(self, depth: OrderBookDepth) -> None:
        """Replace the paper venue's book of one instrument."""
        self._market_data(depth)

    async def consume(
        self,
        feed: AsyncIterable[QuoteTick | TradeTick | OrderBookDepth],
        *,
        limit: int | None = None,
    ) -> int:
        """Apply every item of ``feed`` (at most ``limit``); return how many were applied.

        Raises
        ------
        InvalidMarketDataError
            Naming the item's index, for an item the venue refuses.
        """
        handled = 0
        async for item in feed:
            if limit is not None and handled >= limit:
                break
            try:
                self._market_data(item)
            except InvalidMarketDataError as error:
                msg = f"feed item {handled}: {error}"
                raise InvalidMarketDataError(msg) from None
            handled += 1
        return handled

    def _market_data(self, item: QuoteTick | TradeTick | OrderBookDepth) -> None:
        self._require_running()
        apply = self._venue_handlers.get(type(item))
        if apply is None:
            kind = type(item).__name__
            msg = f"market data is a QuoteTick, TradeTick or OrderBookDepth, not {kind}"
            raise TypeError(msg)
        clock = self.clock
        if isinstance(clock, TestClock):
            clock.advance_to(max(item.ts_event, clock.timestamp_ns()))
        else:
            clock.fire_due()
        apply(item)
        self.bus.publish(_DATA_TOPIC[type(item)] + item.instrument_id, item)
        self.accounts.sample(clock.timestamp_ns())

    async def _fire_alerts(self) -> None:
        clock, wake = self.clock, self._wake
        assert isinstance(clock, LiveClock) and wake is not None
        while self._running:
            clock.fire_due()
            due = clock.next_alert_ns()
            wait_s = _ALERT_IDLE_S if due is None else (due - time.time_ns()) / 1e9
            if wait_s <= 0:
                await asyncio.sleep(0)
                continue
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(wait_s, _ALERT_IDLE_S))

    def _kick(self) -> None:
        """Let the alert loop see an alert a command may have set."""
        if self._wake is not None:
            self._wake.set()

    # -- orders (see OrderDesk) -----------------------------------------------------------
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
        return await self.desk.submit(request)

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
        return await self.desk.amend(
            client_order_id, quantity=quantity, price=price, trigger_price=trigger_price
        )

    async def cancel(self, client_order_id: str) -> OrderView:
        """Cancel a working order; return it (PENDING_CANCEL or CANCELED) once durable.

        Raises
        ------
        OrderNotFoundError, OrderClosedError
            If there is no such order, or it has ended.
        OrderRefusedError
            If the venue refused the cancel (the order filled first, say).
        """
        return await self.desk.cancel(client_order_id)

    async def cancel_all(
        self, strategy_id: str | None = None, instrument_id: str | None = None
    ) -> list[str]:
        """Cancel every working order (of a strategy, of an instrument, if given).

        Returns the client order ids of the orders now cancelled or pending cancel.
        """
        return await self.desk.cancel_all(strategy_id, instrument_id)

    async def get_order(self, client_order_id: str) -> OrderDetail:
        """Return an order as stored, with its history and fills.

        Raises
        ------
        OrderNotFoundError
            If no order has this id.
        """
        return await self.desk.get_order(client_order_id)

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
        return await self.desk.list_orders(
            strategy_id=strategy_id,
            status=status,
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
            after=after,
        )

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
        return await self.desk.list_fills(
            client_order_id=client_order_id,
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
            after=after,
        )

    # -- risk ------------------------------------------------------------------------------
    async def approve(self, request: OrderRequest) -> RiskDecision:
        """Run the pre-trade checks on ``request`` without sending or recording it."""
        return await self.desk.approve(request)

    async def risk_limits(self) -> RiskConfig:
        """Return the limits the risk checks apply."""
        return self.risk.config

    async def set_risk_limits(self, config: RiskConfig) -> RiskConfig:
        """Apply new limits from the next order on (the trading state is kept)."""
        self.risk.reconfigure(config)
        _log.info("risk limits changed")
        return self.risk.config

    async def risk_status(self) -> RiskStatus:
        """Return the trading state, why, and the drawdown the breaker measures."""
        equity = self.portfolio.equity()
        peak = self.risk.equity_peak
        drawdown = max(0.0, 1.0 - equity / peak) if peak > 0 else 0.0
        return RiskStatus(
            state=self.risk.state,
            reason=self.risk.state_reason,
            equity=equity,
            equity_peak=peak,
            drawdown_pct=drawdown * 100.0,
            denied_orders=self.risk.denied,
            ts=self.clock.timestamp_ns(),
        )

    async def halt(self, reason: str) -> RiskStatus:
        """Deny every new order from now on (cancels still pass)."""
        self._require_running()
        self.risk.halt(reason)
        return await self.risk_status()

    async def resume(self, reason: str = "resumed by hand") -> RiskStatus:
        """Trade again; the drawdown breaker measures from the current equity."""
        self._require_running()
        self.risk.resume(reason)
        return await self.risk_status()

    async def kill(self, reason: str) -> list[str]:
        """Halt, then cancel every working order; return the orders cancelled."""
        return await self.desk.kill(reason)

    # -- portfolio (see Accounts) ---------------------------------------------------------
    async def positions(self, *, include_flat: bool = False) -> list[PositionView]:
        """Return the open positions (and flat ones with realized P&L, if asked)."""
        return self.accounts.positions(include_flat=include_flat)

    async def cash(self) -> CashView:
        """Return the cash: the running figure and the store's exact balance."""
        self._require_running()
        return await self.accounts.cash()

    async def pnl(self) -> PnlView:
        """Return the profit and loss since the capital was deposited."""
        return self.accounts.pnl()

    async def equity_history(
        self, *, since_ns: int | None = None, limit: int | None = None
    ) -> list[EquityPoint]:
        """Return the equity samples since the node started (the latest ``limit``)."""
        return self.accounts.equity_history(since_ns=since_ns, limit=limit)

    async def equity_returns(self) -> FloatArray:
        """Return the simple returns between consecutive equity samples."""
        return self.accounts.equity_returns()

    async def last_price(self, instrument_id: str) -> float | None:
        """Return the last price of an instrument, if one was seen."""
        return self.prices.price(instrument_id)

    async def equity(self) -> float:
        """Return cash plus positions marked at their last prices."""
        return self.portfolio.equity()

    def _on_position_changed(self, _change: object) -> None:
        self.accounts.sample(self.clock.timestamp_ns(), force=True)

    # -- health ----------------------------------------------------------------------------
    async def check_ready(self) -> str:
        """Pass if the node runs and its store answers; raise otherwise."""
        self._require_running()
        if self.storage_failures:
            msg = f"{self.storage_failures} store writes failed; trading is halted"
            raise StorageFailedError(msg)
        await asyncio.to_thread(self.store.get_order, "health-check")
        return f"writes pending {self._writer.pending}, unpublished {self._recorder.unpublished}"

    def stats(self) -> dict[str, int | bool]:
        """Return counters of the write path, for benchmarks and metrics."""
        writer = self._writer
        return {
            "writes": writer.writes,
            "write_batches": writer.batches,
            "largest_write_batch": writer.largest_batch,
            "writes_pending": writer.pending,
            "transactional": writer.transactional,
            "published": self._recorder.published,
            "unpublished": self._recorder.unpublished,
            "publish_failures": self._recorder.publish_failures,
            "duplicate_fills": self.duplicate_fills + self._recorder.duplicate_fills,
            "storage_failures": self.storage_failures,
        }

    # -- plumbing --------------------------------------------------------------------------
    def _from_venue(self, event: OrderEvent) -> None:
        """Pass a venue event to the engine, dropping a fill whose trade id was seen."""
        if type(event) is OrderFilled:
            assert isinstance(event, OrderFilled)
            if not self.remember_trade(event.trade_id):
                self.duplicate_fills += 1
                return
        self.execution.process(event)

    def remember_trade(self, trade_id: str) -> bool:
        """Note a trade id; return ``False`` if it was seen already."""
        if trade_id in self._trade_ids:
            return False
        self._trade_ids.add(trade_id)
        self._trade_order.append(trade_id)
        if len(self._trade_order) > _TRADE_MEMORY:
            self._trade_ids.discard(self._trade_order.popleft())
        return True

    def _storage_failed(self, error: BaseException) -> None:
        """A write failed for good: stop trading rather than trade on unrecorded state."""
        self.storage_failures += 1
        if self.risk.state is not TradingState.HALTED:
            self.risk.halt(f"storage failure: {type(error).__name__}")

    @property
    def recorder(self) -> EventRecorder:
        """Return the component that stores and publishes the core's events."""
        return self._recorder

    @property
    def writer(self) -> StoreWriter:
        """Return the node's store writer."""
        return self._writer
