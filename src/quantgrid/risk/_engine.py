"""The risk engine: pre-trade checks and trading states in front of the execution engine.

Strategies send their commands to ``RiskEngine.execute``. A ``SubmitOrder`` runs the
checks in a fixed order (``CHECK_ORDER``); the first that fails denies the order through
the execution engine (an ``OrderDenied`` event whose reason starts with the check's
name), otherwise the command goes on to ``ExecEngine.execute``. Cancels always pass.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace

from quantgrid.core import Clock, MessageBus
from quantgrid.execution import ExecutionEngine, check_order_list
from quantgrid.model import (
    Bar,
    CancelAllOrders,
    CancelOrder,
    ContingencyType,
    Instrument,
    ModifyOrder,
    Order,
    OrderEvent,
    Regime,
    SubmitOrder,
    SubmitOrderList,
    check_amend,
)
from quantgrid.portfolio import PortfolioView
from quantgrid.risk._config import InstrumentLimits, RiskConfig
from quantgrid.risk._events import STATE_TOPIC, RiskRejection, TradingState, TradingStateChanged

RISK_ENDPOINT = "RiskEngine.execute"
BAR_PRIORITY = 10
"""Above strategies (0): the breaker sees each bar's marks before strategies act on it."""
ORDER_EVENT_PRIORITY = 1_100
"""Above every other handler of order events: the working totals are brought up to date
before anything that could react to the event with a new order (and so a new check)."""
_MARKET_DATA = ("data.bars.>", "data.quotes.>", "data.trades.>", "data.book.>")

CHECK_ORDER = (
    "halted",
    "reducing",
    "unknown_instrument",
    "no_price",
    "regime_block",
    "price_band",
    "max_order_quantity",
    "max_order_notional",
    "max_position",
    "max_concentration",
    "max_gross_exposure",
    "max_net_exposure",
    "order_rate",
)
"""The checks in the order they run; the drawdown breaker runs before all of them."""

RegimeOf = Callable[[str], int | None]
_REGIME_NAMES = {int(r): r.name for r in Regime}
_EXCLUSIVE = (ContingencyType.OCO, ContingencyType.OUO)
_EPS = 1e-9


class _Working:
    """A working order the engine let through, and what it adds to its side's total."""

    __slots__ = ("assumed", "counted", "key", "order")

    def __init__(self, order: Order, assumed: float, key: tuple[str, int]) -> None:
        self.order = order
        self.assumed = assumed
        self.key = key
        self.counted = 0.0


def _num(value: float) -> str:
    """Format a number for a reason: thousands separators, cents only when needed."""
    if math.isfinite(value) and value == round(value) and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


class RiskEngine:
    """Checks every order against the limits of a ``RiskConfig`` and keeps the trading state.

    Parameters
    ----------
    bus, clock
        The node's message bus and clock.
    portfolio
        A read-only view of the account the limits are about.
    instruments
        The tradable instruments (multipliers value the orders).
    config
        The limits and breakers.
    execution
        The execution engine that receives the orders that pass and records denials.
    regime_of
        Optional ``regime_of(instrument_id) -> int | None``; new entries are denied
        while it answers one of ``config.blocked_regimes``.

    Notes
    -----
    Invariants: an order that could grow a position passes only if the position, with
    every working order of the same side this engine let through, stays within
    ``max_position``; in REDUCING only orders that shrink a position pass, in HALTED
    none. The drawdown breaker only escalates (ACTIVE -> REDUCING -> HALTED); ``resume``
    is the only way back, and it restarts the equity peak from the current equity.
    """

    def __init__(
        self,
        bus: MessageBus,
        clock: Clock,
        portfolio: PortfolioView,
        instruments: Mapping[str, Instrument],
        config: RiskConfig,
        execution: ExecutionEngine,
        regime_of: RegimeOf | None = None,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._portfolio = portfolio
        self._instruments = dict(instruments)
        self.config = config
        self._execution = execution
        self._regime_of = regime_of
        self._state = TradingState.ACTIVE
        self._state_reason = ""
        self._rejections: list[RiskRejection] = []
        self._limits: dict[str, InstrumentLimits] = {}
        # Working orders this engine let through, by client order id: the order, the
        # quantity assumed for a cash-sized order until the venue sizes it, the side's
        # key and what it adds to that side's total now. The totals are kept up to date
        # from the order events, so a check costs the same with 10 or 100,000 orders
        # working (a scan of the working orders per check made a node with thousands of
        # resting orders check-bound).
        self._working: dict[str, _Working] = {}
        self._pending_qty: dict[tuple[str, int], float] = {}
        self._pending_count: dict[tuple[str, int], int] = {}
        self._sent_ts: deque[int] = deque()
        self._peak = portfolio.equity()
        self._breaker = config.reduce_at_drawdown is not None or (
            config.halt_at_drawdown is not None
        )
        self._account_exposure = (
            config.max_gross_exposure is not None or config.max_net_exposure is not None
        )
        bus.register(RISK_ENDPOINT, self.execute)
        bus.subscribe("events.order.>", self._on_order_event, priority=ORDER_EVENT_PRIORITY)
        if self._breaker:
            self._watch_marks(True)

    # -- queries -------------------------------------------------------------------------
    @property
    def state(self) -> TradingState:
        """Return the trading state."""
        return self._state

    @property
    def rejections(self) -> tuple[RiskRejection, ...]:
        """Return every rejection so far, in order."""
        return tuple(self._rejections)

    @property
    def equity_peak(self) -> float:
        """Return the equity peak the drawdown breaker measures from."""
        return self._peak

    # -- commands ------------------------------------------------------------------------
    def execute(self, command: object) -> None:
        """Check a submission or amend and forward or refuse it; pass cancels straight on.

        Notes
        -----
        Of a ``SubmitOrderList`` the orders without a parent (entries, OCO legs) are
        checked; if one is denied the whole list is denied. A bracket's exits are
        reduce-only and are released later by the execution engine without a check:
        they can only shrink the position their entry opened. An amend that raises the
        quantity or moves a price is checked as an order for the new quantity (the
        increase for the position and exposure limits); one that only lowers the
        quantity always passes, even when HALTED.
        """
        kind = type(command)
        if kind is SubmitOrder:
            assert isinstance(command, SubmitOrder)
            order = command.order
            if self._execution.order(order.client_order_id) is not None:
                # A repeated client order id: the execution engine drops it, unchecked
                # here so it is neither counted twice nor denied over a live order.
                self._execution.execute(command)
                return
            rejection = self.check(order)
            if rejection is None:
                self._accept(order)
                self._execution.execute(command)
            else:
                self._rejections.append(rejection)
                self._execution.deny(order, rejection.reason)
        elif kind is SubmitOrderList:
            assert isinstance(command, SubmitOrderList)
            self._submit_list(command)
        elif kind is ModifyOrder:
            assert isinstance(command, ModifyOrder)
            self._modify(command)
        elif isinstance(command, CancelOrder | CancelAllOrders):
            self._execution.execute(command)
        else:
            msg = f"the risk engine cannot handle {type(command).__name__}"
            raise TypeError(msg)

    def _submit_list(self, command: SubmitOrderList) -> None:
        known = [o for o in command.orders if self._execution.order(o.client_order_id)]
        if known:
            self._execution.execute(command)  # a repeat (dropped) or a refused reuse (raises)
            return
        # Inconsistent links raise before anything is counted as working.
        check_order_list(command.order_list_id, command.orders, {})
        entries = [o for o in command.orders if not o.parent_order_id]
        # Each entry is checked with the entries before it counted as working, so two
        # buys of 60 under a max_position of 100 cannot pass together. An OCO/OUO leg
        # linked to a counted one is not added: only one leg of a group can fill.
        counted: list[Order] = []
        for order in entries:
            # Checked without the legs of its own OCO/OUO group, which it excludes.
            peers = (
                [o for o in counted if o.client_order_id in order.linked_order_ids]
                if order.contingency in _EXCLUSIVE
                else []
            )
            for peer in peers:
                self._untrack(peer)
            rejection = self.check(order)
            for peer in peers:
                self.track(peer)
            if rejection is None:
                if not peers and order.client_order_id not in self._working:
                    self.track(order)
                    counted.append(order)
                continue
            for earlier in counted:
                self._untrack(earlier)
            self._rejections.append(rejection)
            for other in command.orders:
                reason = (
                    rejection.reason
                    if other is order
                    else f"order list {command.order_list_id} denied: {rejection.reason}"
                )
                self._execution.deny(other, reason)
            return
        for order in entries:
            self._accept(order)
        self._execution.execute(command)

    def _modify(self, command: ModifyOrder) -> None:
        order = self._execution.order(command.client_order_id)
        if order is None or order.quantity is None or not order.is_open:
            self._execution.execute(command)  # the execution engine answers these
            return
        new_qty = command.quantity if command.quantity is not None else order.quantity
        increase = new_qty - order.quantity
        moves_price = command.price is not None or command.trigger_price is not None
        if increase <= 0 and not moves_price:
            self._execution.execute(command)
            return
        instrument = self._instruments.get(order.instrument_id)
        reason = "" if instrument is None else check_amend(order, command, instrument)
        if reason:
            # Refused as the venue would refuse it; no probe order can be built from it.
            self._execution.reject_modify(order, reason)
            return
        price = command.price if command.price is not None else order.price
        trigger = (
            command.trigger_price if command.trigger_price is not None else order.trigger_price
        )
        probes = [
            # The whole amended order against the order-size, notional and price-band
            # limits; counted as reducing, so the position limits are not applied twice.
            replace(order, quantity=new_qty, price=price, trigger_price=trigger, reduce_only=True)
        ]
        if increase > 0 and not order.reduce_only:
            # The increase against the position and exposure limits.
            probes.append(replace(probes[0], quantity=increase, reduce_only=False))
        for probe in probes:
            rejection = self.check(probe)
            if rejection is not None:
                self._rejections.append(rejection)
                self._execution.reject_modify(order, rejection.reason)
                return
        self._execution.execute(command)

    def halt(self, reason: str) -> None:
        """Deny every new order from now on (cancels still pass)."""
        self._set_state(TradingState.HALTED, reason)

    def reduce(self, reason: str) -> None:
        """Let only orders that shrink a position through from now on."""
        self._set_state(TradingState.REDUCING, reason)

    def resume(self, reason: str = "resumed by hand") -> None:
        """Return to ACTIVE and restart the drawdown peak from the current equity."""
        self._peak = self._portfolio.equity()
        self._set_state(TradingState.ACTIVE, reason)

    def kill(self, reason: str) -> None:
        """Halt, then cancel every working order of every strategy.

        Notes
        -----
        The state changes first, so an order a strategy sends in reply to a cancel is
        already denied.
        """
        self._set_state(TradingState.HALTED, f"kill switch: {reason}")
        ts = self._clock.timestamp_ns()
        for strategy_id in sorted({o.strategy_id for o in self._execution.open_orders()}):
            self._execution.execute(CancelAllOrders(strategy_id, None, ts))

    def on_bar(self, bar: Bar) -> None:
        """Run the drawdown breaker on the bar's marks."""
        if self._state is not TradingState.HALTED:
            self._check_drawdown()

    def on_market_data(self, data: object) -> None:
        """Run the drawdown breaker on the marks of a quote or trade print."""
        if self._state is not TradingState.HALTED:
            self._check_drawdown()

    # -- the checks ----------------------------------------------------------------------
    def check(self, order: Order) -> RiskRejection | None:
        """Return why ``order`` must be denied, or ``None`` if it may go to the venue.

        Runs the drawdown breaker first (which may change the state), then the checks
        of ``CHECK_ORDER``; the first that fails is returned. Records nothing.
        """
        portfolio = self._portfolio
        iid = order.instrument_id
        equity = portfolio.equity()
        if self._breaker and self._state is not TradingState.HALTED:
            self._check_drawdown(equity)
        state = self._state
        if state is TradingState.HALTED:
            return self._reject(order, "halted", 0.0, 0.0, self._state_message())
        instrument = self._instruments.get(iid)
        if instrument is None:
            return self._reject(
                order, "unknown_instrument", 0.0, 0.0, f"{iid!r} is not a known instrument"
            )
        limits = self._limits.get(iid)
        if limits is None:
            limits = self._limits[iid] = self.config.limits_for(iid)
        last = portfolio.last_price(iid)
        price = order.price if order.price is not None else order.trigger_price
        ref = price if price is not None else last
        mult = instrument.multiplier
        sign = order.side.sign
        position = portfolio.position_quantity(iid)

        quantity = order.quantity
        if quantity is None:  # sized from cash at the venue: assume what it would buy
            if ref is None:
                return self._reject(order, "no_price", 0.0, 0.0, f"no last price for {iid}")
            quantity = (order.cash_fraction or 1.0) * portfolio.buying_power() / (ref * mult)
        pending = self._pending(iid, sign)
        reducing = order.reduce_only or (
            position * sign < 0 and quantity + pending <= abs(position) + _EPS
        )
        if state is TradingState.REDUCING and not reducing:
            return self._reject(order, "reducing", 0.0, 0.0, self._state_message())

        if not reducing and self._regime_of is not None:
            regime = self._regime_of(iid)
            if regime is not None and regime in self.config.blocked_regimes:
                name = _REGIME_NAMES.get(regime, str(regime))
                return self._reject(
                    order,
                    "regime_block",
                    float(regime),
                    0.0,
                    f"regime {name} of {iid} blocks new entries",
                )

        band = limits.price_band_pct
        if band is not None and price is not None and last is not None and last > 0:
            for label, px in (("limit", order.price), ("stop", order.trigger_price)):
                if px is not None:
                    away = abs(px - last) / last
                    if away > band + _EPS:
                        return self._reject(
                            order,
                            "price_band",
                            away,
                            band,
                            f"{label} price {_num(px)} is {away:.2%} from last {_num(last)} "
                            f"> band {band:.2%}",
                        )

        limit = limits.max_order_quantity
        if limit is not None and quantity > limit + _EPS:
            return self._reject(
                order,
                "max_order_quantity",
                quantity,
                limit,
                f"order quantity {_num(quantity)} > limit {_num(limit)}",
            )

        need_value = limits.max_order_notional is not None or (
            not reducing and (limits.max_concentration is not None or self._account_exposure)
        )
        if need_value and ref is None:
            return self._reject(order, "no_price", 0.0, 0.0, f"no last price to value {iid}")
        notional = quantity * (ref or 0.0) * mult

        limit = limits.max_order_notional
        if limit is not None and notional > limit + _EPS:
            return self._reject(
                order,
                "max_order_notional",
                notional,
                limit,
                f"order notional {_num(notional)} > limit {_num(limit)}",
            )
        if reducing:
            return self._check_rate(order)

        projected = position + sign * (pending + quantity)
        limit = limits.max_position
        if limit is not None and abs(projected) > limit + _EPS:
            return self._reject(
                order,
                "max_position",
                abs(projected),
                limit,
                f"position would be {_num(projected)} > limit {_num(limit)}",
            )

        if need_value:
            mark = (last if last is not None else ref) or 0.0
            old_value = position * mark * mult
            new_value = projected * (ref or 0.0) * mult
            limit = limits.max_concentration
            if limit is not None:
                share = abs(new_value) / equity if equity > 0 else math.inf
                if share > limit + _EPS:
                    return self._reject(
                        order,
                        "max_concentration",
                        share,
                        limit,
                        f"{iid} would be {share:.2%} of equity {_num(equity)} > limit {limit:.2%}",
                    )
            limit = self.config.max_gross_exposure
            if limit is not None:
                gross = portfolio.gross_exposure() - abs(old_value) + abs(new_value)
                if gross > limit + _EPS:
                    return self._reject(
                        order,
                        "max_gross_exposure",
                        gross,
                        limit,
                        f"gross exposure would be {_num(gross)} > limit {_num(limit)}",
                    )
            limit = self.config.max_net_exposure
            if limit is not None:
                net = equity - portfolio.cash - old_value + new_value
                if abs(net) > limit + _EPS:
                    return self._reject(
                        order,
                        "max_net_exposure",
                        abs(net),
                        limit,
                        f"net exposure would be {_num(net)} > limit {_num(limit)}",
                    )
        return self._check_rate(order)

    def _check_rate(self, order: Order) -> RiskRejection | None:
        limit = self.config.max_orders
        if limit is None:
            return None
        now = self._clock.timestamp_ns()
        sent = self._sent_ts
        horizon = now - self.config.order_window_ns
        while sent and sent[0] <= horizon:
            sent.popleft()
        if len(sent) >= limit:
            seconds = self.config.order_window_ns / 1e9
            return self._reject(
                order,
                "order_rate",
                float(len(sent) + 1),
                float(limit),
                f"{len(sent) + 1} orders in {seconds:g}s > limit {limit}",
            )
        return None

    def _pending(self, instrument_id: str, sign: int) -> float:
        """Return the unfilled quantity of the working orders of one side this engine sent."""
        return self._pending_qty.get((instrument_id, sign), 0.0)

    def _accept(self, order: Order) -> None:
        self.track(order)
        if self.config.max_orders is not None:
            self._sent_ts.append(self._clock.timestamp_ns())

    def _on_order_event(self, event: OrderEvent) -> None:
        working = self._working.get(event.client_order_id)
        if working is not None:
            self._recount(working)

    def _recount(self, working: _Working) -> None:
        order, key = working.order, working.key
        closed = order.is_closed
        now = 0.0 if closed else working.assumed if order.quantity is None else order.leaves_qty
        if closed:
            del self._working[order.client_order_id]
            left = self._pending_count[key] - 1
            if left == 0:  # no float residue once a side has nothing working
                del self._pending_count[key]
                self._pending_qty.pop(key, None)
                return
            self._pending_count[key] = left
        self._pending_qty[key] = self._pending_qty.get(key, 0.0) + now - working.counted
        working.counted = now

    # -- running a long-lived engine -----------------------------------------------------
    def track(self, order: Order) -> None:
        """Count ``order`` among the working orders the limits see, without checking it.

        Orders the checks pass are tracked already; a node calls this for the orders
        it recovered from its store, which passed the checks when they were submitted
        and must count against the position limits again. Tracking an order twice, or
        one that has ended, changes nothing.
        """
        if order.client_order_id in self._working or order.is_closed:
            return
        assumed = order.quantity
        if assumed is None:
            last = self._portfolio.last_price(order.instrument_id) or math.inf
            mult = self._instruments[order.instrument_id].multiplier
            assumed = (order.cash_fraction or 1.0) * self._portfolio.buying_power() / (last * mult)
        key = (order.instrument_id, order.side.sign)
        working = _Working(order, assumed, key)
        self._working[order.client_order_id] = working
        self._pending_count[key] = self._pending_count.get(key, 0) + 1
        self._recount(working)

    def _untrack(self, order: Order) -> None:
        """Stop counting ``order`` (tracked for a list that was then denied)."""
        working = self._working.pop(order.client_order_id, None)
        if working is None:
            return
        key = working.key
        left = self._pending_count[key] - 1
        if left == 0:
            del self._pending_count[key]
            self._pending_qty.pop(key, None)
            return
        self._pending_count[key] = left
        self._pending_qty[key] -= working.counted

    def reconfigure(self, config: RiskConfig) -> None:
        """Apply new limits from the next check on; the trading state is kept.

        Raises
        ------
        TypeError
            If ``config`` is not a ``RiskConfig``.
        """
        if not isinstance(config, RiskConfig):
            msg = f"limits must be a RiskConfig, got {type(config).__name__}"
            raise TypeError(msg)
        breaker = config.reduce_at_drawdown is not None or config.halt_at_drawdown is not None
        if breaker != self._breaker:
            self._watch_marks(breaker)
        self.config = config
        self._limits.clear()
        self._breaker = breaker
        self._account_exposure = (
            config.max_gross_exposure is not None or config.max_net_exposure is not None
        )

    def _watch_marks(self, on: bool) -> None:
        """Run the drawdown breaker on bars, quotes, trade prints and depth, or stop."""
        for pattern in _MARKET_DATA:
            handler = self.on_bar if pattern == "data.bars.>" else self.on_market_data
            if on:
                self._bus.subscribe(pattern, handler, priority=BAR_PRIORITY)
            else:
                self._bus.unsubscribe(pattern, handler)

    def _reject(
        self, order: Order, check: str, value: float, limit: float, message: str
    ) -> RiskRejection:
        return RiskRejection(
            order.client_order_id,
            order.strategy_id,
            order.instrument_id,
            check,
            value,
            limit,
            message,
            self._clock.timestamp_ns(),
        )

    # -- states --------------------------------------------------------------------------
    def _check_drawdown(self, equity: float | None = None) -> None:
        if equity is None:
            equity = self._portfolio.equity()
        if equity > self._peak:
            self._peak = equity
            return
        if self._peak <= 0:
            return
        drawdown = 1.0 - equity / self._peak
        config = self.config
        halt, reduce = config.halt_at_drawdown, config.reduce_at_drawdown
        if halt is not None and drawdown >= halt - _EPS:
            target, limit = TradingState.HALTED, halt
        elif (
            reduce is not None and drawdown >= reduce - _EPS and self._state is TradingState.ACTIVE
        ):
            target, limit = TradingState.REDUCING, reduce
        else:
            return
        self._set_state(
            target,
            f"drawdown {drawdown:.2%} from equity peak {_num(self._peak)} >= {limit:.2%}",
        )

    def _set_state(self, state: TradingState, reason: str) -> None:
        previous = self._state
        if state is previous and reason == self._state_reason:
            return
        self._state = state
        self._state_reason = reason
        self._bus.publish(
            STATE_TOPIC,
            TradingStateChanged(previous, state, reason, self._clock.timestamp_ns()),
        )

    def _state_message(self) -> str:
        return f"trading is {self._state.value} ({self._state_reason})"
