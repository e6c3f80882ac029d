"""A simulated venue that fills orders against bars, as a broker would have.

Fill rules (every one is tested):

- An order submitted while bar ``t`` is being processed can first fill on bar ``t + 1``:
  no order ever sees the bar it was decided on.
- MARKET fills at the bar's open.
- LIMIT buy fills at the open if the open is at or below the limit (a gap through the
  limit), else at the limit if the low reaches it; sells mirror this. Limit fills are
  MAKER and pay no spread or slippage.
- STOP buy fills at the open if the open is at or above the stop (a gap), else at the
  stop if the high reaches it; sells mirror this. Stop fills are TAKER.
- A STOP whose fill the volume cap cut short stays triggered and fills the rest as a
  market order from the next bar.
- STOP_LIMIT: when the stop is reached (as above) the order is TRIGGERED; it fills at
  the trigger price in that bar only if that price is within the limit, and otherwise
  works as a limit order from the next bar (what happened after the trigger inside the
  bar is unknown, so no fill is assumed).
- Taker fills pay half the spread and the slippage, against the trader. Every fill
  price is rounded to the tick against the trader (a bar that opens off the tick
  cannot be traded at that price), and a stop-limit never fills beyond its limit:
  when the costs would take it past, it rests as a limit order.
- With ``max_volume_fraction`` set, fills in one bar are capped at that share of the
  bar's volume; the rest waits for the next bars (partial fills).
- IOC fills what it can on its first bar and cancels the rest; FOK fills completely on
  its first bar or is cancelled; DAY orders are valid for the UTC day of the first bar
  they can fill on, and expire at the first bar of a later day.
- Reduce-only orders are cut to the position they reduce, or cancelled if none.
- Post-only limit orders that would cross the last price are rejected.
- Orders that would open exposure beyond the buying power (marked at the bar's open)
  are cancelled, as a broker would; orders sized from cash (``quantity=None``) get the
  most whole lots that ``cash_fraction`` of equity times leverage (at most the buying
  power) pays for, commission included.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from quantgrid.core import NANOS_PER_DAY, Clock, MessageBus, PriceCache
from quantgrid.model import (
    Bar,
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
    OrderSide,
    OrderStatus,
    OrderTriggered,
    OrderType,
    OrderUpdated,
    SubmitOrder,
    TimeInForce,
    check_amend,
)
from quantgrid.venues._checks import buying_power_shortfall, check_increments, closable_quantity
from quantgrid.venues._models import CommissionModel, NoCommission, SlippageModel, SpreadModel

EXEC_PROCESS_ENDPOINT = "ExecEngine.process"


class AccountState(Protocol):
    """What the venue reads of the trader's account to size and check orders."""

    def buying_power(self) -> float:
        """Return equity times leverage minus the gross value of open positions."""
        ...

    def equity(self) -> float:
        """Return cash plus marked positions."""
        ...

    def position_quantity(self, instrument_id: str) -> float:
        """Return the signed net position."""
        ...

    @property
    def leverage(self) -> float:
        """Return how many times equity the account may hold in gross exposure."""
        ...


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """How the simulated venue fills orders.

    Parameters
    ----------
    commission, spread, slippage
        The fill models; ``spread`` and ``slippage`` of ``None`` cost nothing.
    max_volume_fraction
        Cap on the quantity filled in one bar, as a share of the bar's volume
        (``None`` for no cap).
    check_buying_power
        Cancel orders that would open more exposure than the buying power covers.
    """

    commission: CommissionModel = field(default_factory=NoCommission)
    spread: SpreadModel | None = None
    slippage: SlippageModel | None = None
    max_volume_fraction: float | None = None
    check_buying_power: bool = True

    def __post_init__(self) -> None:
        frac = self.max_volume_fraction
        if frac is not None and not (0 < frac <= 1):
            msg = f"max_volume_fraction must be in (0, 1], got {frac}"
            raise ValueError(msg)


class SimulatedVenue:
    """Matches orders against bars and reports what happened as order events.

    Commands arrive at the endpoint ``venue.<name>.execute``; events go to the execution
    engine's endpoint. The backtest engine hands it each bar (``match_open`` then
    ``mark_close``, or both at once with ``process_bar``) before any strategy sees it.
    """

    def __init__(
        self,
        name: str,
        bus: MessageBus,
        clock: Clock,
        prices: PriceCache,
        instruments: dict[str, Instrument],
        account: AccountState,
        config: VenueConfig | None = None,
    ) -> None:
        self.name = name
        self.endpoint = f"venue.{name}.execute"
        self._bus = bus
        self._clock = clock
        self._instruments = instruments
        self._account = account
        self._config = config or VenueConfig()
        self._working: dict[str, list[Order]] = {}
        self._orders: dict[str, Order] = {}
        self._order_day: dict[str, int] = {}
        self._last_price = prices.last
        self._venue_ids = 0
        self._trade_ids = 0
        bus.register(self.endpoint, self.execute)

    # -- commands ----------------------------------------------------------------------
    def execute(self, command: object) -> None:
        """Handle ``SubmitOrder``, ``CancelOrder``, ``ModifyOrder`` and ``CancelAllOrders``."""
        kind = type(command)
        if kind is SubmitOrder:
            assert isinstance(command, SubmitOrder)
            self._submit(command.order)
        elif isinstance(command, CancelOrder):
            order = self._orders.get(command.client_order_id)
            if order is not None and order.is_open:
                self._cancel(order, command.reason or "canceled on request")
            elif order is not None:
                self._emit(OrderCancelRejected, order, f"order is {order.status.value}")
        elif isinstance(command, ModifyOrder):
            self._modify(command)
        elif isinstance(command, CancelAllOrders):
            for orders in list(self._working.values()):
                for order in list(orders):
                    if (
                        order.is_open
                        and order.strategy_id == command.strategy_id
                        and command.instrument_id in (None, order.instrument_id)
                    ):
                        self._cancel(order, "canceled on request")
        else:
            msg = f"venue {self.name} cannot handle {type(command).__name__}"
            raise TypeError(msg)

    def _submit(self, order: Order) -> None:
        reason = self._check_new_order(order)
        if reason:
            self._emit(OrderRejected, order, reason)
            return
        self._venue_ids += 1
        # Stored before the acceptance is announced: a strategy may cancel in reply.
        self._orders[order.client_order_id] = order
        self._working.setdefault(order.instrument_id, []).append(order)
        self._emit(OrderAccepted, order, f"{self.name}-{self._venue_ids}")

    def _modify(self, command: ModifyOrder) -> None:
        order = self._orders.get(command.client_order_id)
        if order is None:
            return
        reason = check_amend(order, command, self._instruments[order.instrument_id])
        if not reason and order.post_only:
            reason = self._post_only_cross(order, command.price or order.price)
        if reason:
            self._emit(OrderModifyRejected, order, reason)
            return
        quantity = command.quantity if command.quantity is not None else order.quantity
        self._emit(OrderUpdated, order, quantity, command.price, command.trigger_price)

    def _post_only_cross(self, order: Order, price: float | None) -> str:
        last = self._last_price.get(order.instrument_id)
        if last is None or price is None:
            return ""
        crosses = price >= last if order.side is OrderSide.BUY else price <= last
        if crosses:
            return (
                f"post-only {order.side.value.lower()} limit {price} would cross "
                f"the last price {last} and take liquidity"
            )
        return ""

    def _check_new_order(self, order: Order) -> str:
        reason = check_increments(order, self._instruments, self.name)
        if reason:
            return reason
        if order.post_only:
            return self._post_only_cross(order, order.price)
        return ""

    # -- matching ----------------------------------------------------------------------
    def process_bar(self, bar: Bar) -> None:
        """Match the bar's working orders, then mark its close (one instrument at a time)."""
        iid = bar.instrument_id
        working = self._working.get(iid)
        if working:
            self._last_price[iid] = bar.open
            self._match(bar, working)
        self._last_price[iid] = bar.close

    def match_open(self, bar: Bar) -> None:
        """Fill, trigger or expire the working orders of the bar's instrument.

        Notes
        -----
        In a backtest the simulated venue is the market, so it writes the shared prices:
        while working orders fill, the market is at the bar's open (buying power is
        computed from what was known then). With several instruments at one timestamp,
        every instrument is matched before any close is marked, so no fill at an open
        can use a close of the same moment.
        """
        iid = bar.instrument_id
        working = self._working.get(iid)
        if working:
            self._last_price[iid] = bar.open
            self._match(bar, working)

    def mark_close(self, bar: Bar) -> None:
        """Mark the bar's instrument at its close, once the bar is over."""
        self._last_price[bar.instrument_id] = bar.close

    def _match(self, bar: Bar, working: list[Order]) -> None:
        cap = self._config.max_volume_fraction
        capacity = math.inf if cap is None else cap * bar.volume
        n_before = len(working)
        # What each order could fill when the bar opened: an amend made while the bar is
        # matched (an exit resized by its entry's fill later in the bar) must not trade
        # the increase at prices from before it was made.
        at_open = {o.client_order_id: o.leaves_qty for o in working if o.quantity is not None}
        capacity = self._match_orders(bar, list(working), capacity, at_open)
        released = [o for o in working[n_before:] if o.is_open and o.parent_order_id]
        if released:
            self._match_released(bar, released, capacity)
        working[:] = [o for o in working if not o.is_closed]

    def _match_released(self, bar: Bar, released: list[Order], capacity: float) -> None:
        """Match exits released by an entry's fill in this bar against the rest of it.

        The entry filled at a price inside the bar; what the bar did after that is
        unknown except for its range, so the exits see a bar that opens at the entry's
        fill price. Stops go first: when both a stop-loss and a take-profit are in
        range, the loss is assumed (the conservative order).
        """
        by_parent: dict[str, list[Order]] = {}
        for order in released:
            by_parent.setdefault(order.parent_order_id, []).append(order)
        for parent_id, orders in by_parent.items():
            parent = self._orders.get(parent_id)
            if parent is None or parent.filled_qty <= 0:
                continue
            start = min(max(parent.avg_px, bar.low), bar.high)
            rest = Bar(bar.instrument_id, bar.ts_event, start, bar.high, bar.low, bar.close,
                       bar.volume)  # fmt: skip
            orders.sort(key=lambda o: o.order_type not in (OrderType.STOP, OrderType.STOP_LIMIT))
            capacity = self._match_orders(rest, orders, capacity)

    def _match_orders(
        self,
        bar: Bar,
        orders: list[Order],
        capacity: float,
        at_open: dict[str, float] | None = None,
    ) -> float:
        """Fill, trigger or expire ``orders`` on ``bar``; return the volume left to fill.

        ``at_open`` caps an order's fill at what it could fill when the bar opened.
        """
        day = bar.ts_event // NANOS_PER_DAY
        instrument = self._instruments[bar.instrument_id]
        for order in orders:
            if order.is_closed:
                continue
            if order.time_in_force is TimeInForce.DAY:
                # Valid for the trading day of its first bar, so an order placed after a
                # daily close trades in the next session rather than expiring unseen.
                first_day = self._order_day.setdefault(order.client_order_id, day)
                if day > first_day:
                    self._emit(OrderExpired, order)
                    continue
            price, liquidity = self._match_price(order, bar)
            if price is None:
                if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                    self._cancel(
                        order, f"{order.time_in_force.value}: not marketable on its first bar"
                    )
                continue
            room = capacity
            if at_open is not None:
                room = min(room, at_open.get(order.client_order_id, room))
            capacity -= self._fill(order, instrument, bar, price, liquidity, room)
        return capacity

    def _match_price(self, order: Order, bar: Bar) -> tuple[float | None, LiquiditySide]:
        buy = order.side is OrderSide.BUY
        kind = order.order_type
        if kind is OrderType.MARKET:
            return bar.open, LiquiditySide.TAKER
        if kind is OrderType.LIMIT or (order.triggered and kind is OrderType.STOP_LIMIT):
            return _limit_price(buy, order.price, bar), LiquiditySide.MAKER
        if order.triggered:
            # A stop whose first fill was cut short by the volume cap: now a market order.
            return bar.open, LiquiditySide.TAKER
        trigger = _stop_price(buy, order.trigger_price, bar)
        if trigger is None:
            return None, LiquiditySide.TAKER
        self._emit(OrderTriggered, order)
        if kind is OrderType.STOP:
            return trigger, LiquiditySide.TAKER
        # STOP_LIMIT reaching its stop in this bar.
        limit = order.price
        assert limit is not None  # guaranteed by Order validation
        within = trigger <= limit if buy else trigger >= limit
        return (trigger if within else None), LiquiditySide.TAKER

    def _fill(
        self,
        order: Order,
        instrument: Instrument,
        bar: Bar,
        base_price: float,
        liquidity: LiquiditySide,
        capacity: float,
    ) -> float:
        """Fill what the rules allow and return the quantity filled."""
        sign = order.side.sign
        position = self._account.position_quantity(order.instrument_id)
        closable = closable_quantity(position, order.side)
        if order.quantity is None:
            quantity = self._size_from_cash(order, instrument, base_price, liquidity, bar, closable)
            if quantity <= 0:
                self._cancel(order, "insufficient buying power for one lot")
                return 0.0
            self._emit(OrderUpdated, order, quantity)
        qty = order.leaves_qty
        if order.reduce_only:
            if closable <= 0:
                self._cancel(order, "reduce-only order would open or increase a position")
                return 0.0
            qty = min(qty, closable)
        if capacity < qty:
            qty = instrument.round_size_down(max(capacity, 0.0))
            if qty <= 0 or order.time_in_force is TimeInForce.FOK:
                if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                    self._cancel(order, f"{order.time_in_force.value}: bar volume too small")
                return 0.0
        price = (
            self._taker_price(instrument, base_price, sign, qty, bar)
            if liquidity is LiquiditySide.TAKER
            else instrument.round_price_adverse(base_price, sign)
        )
        limit = order.price
        if limit is not None and (price > limit if sign > 0 else price < limit):
            # A stop-limit whose trigger was within the limit, but whose spread and
            # slippage are not: it rests as a limit order instead of filling beyond it.
            if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                self._cancel(order, f"{order.time_in_force.value}: no fill within the limit")
            return 0.0
        commission = self._config.commission.commission(instrument, qty, price, liquidity)
        if self._config.check_buying_power:
            reason = buying_power_shortfall(
                self._account, instrument, qty, price, commission, closable
            )
            if reason:
                self._cancel(order, reason)
                return 0.0
        self._trade_ids += 1
        self._emit(
            OrderFilled,
            order,
            f"{self.name}-T{self._trade_ids}",  # trade_id
            order.side,
            qty,  # last_qty
            price,  # last_px
            commission,
            liquidity,
            instrument.currency,
        )
        if order.is_open and order.time_in_force is TimeInForce.IOC:
            self._cancel(order, "IOC: remainder cancelled")
        elif order.is_open and order.reduce_only and order.leaves_qty > 0 and qty >= closable:
            self._cancel(order, "reduce-only: position closed, remainder cancelled")
        return qty

    def _taker_price(
        self, instrument: Instrument, price: float, sign: int, qty: float, bar: Bar
    ) -> float:
        cost = 0.0
        if self._config.spread is not None:
            cost += self._config.spread.half_spread(instrument, price)
        if self._config.slippage is not None:
            cost += self._config.slippage.slippage(instrument, price, qty, bar.volume)
        return instrument.round_price_adverse(price + sign * cost, sign)

    def _size_from_cash(
        self,
        order: Order,
        instrument: Instrument,
        base_price: float,
        liquidity: LiquiditySide,
        bar: Bar,
        closable: float,
    ) -> float:
        """Return the most whole lots the buying power pays for, commission included."""
        fraction = order.cash_fraction or 1.0
        account = self._account
        budget = min(account.buying_power(), account.equity() * account.leverage * fraction)
        budget += closable * base_price * instrument.multiplier
        if budget <= 0:
            return 0.0
        sign = order.side.sign
        lot = instrument.size_increment
        commission = self._config.commission.commission

        def cost(lots: int) -> float:
            qty = instrument.lots_to_size(lots)
            price = self._taker_price(instrument, base_price, sign, qty, bar)
            return qty * price * instrument.multiplier + commission(
                instrument, qty, price, liquidity
            )

        # Cost grows with size, so the answer is found by bisection over whole lots.
        low, high = 0, int(budget / (base_price * instrument.multiplier * lot)) + 1
        while low < high:
            mid = (low + high + 1) // 2
            if cost(mid) <= budget:
                low = mid
            else:
                high = mid - 1
        return instrument.lots_to_size(low)

    # -- end of a backtest ---------------------------------------------------------------
    def settle_at_close(self, order: Order, last_bar: Bar) -> None:
        """Fill an accepted market ``order`` now at ``last_bar``'s close.

        Used once, to close the positions left open when a backtest's data ends; the
        last bar's volume feeds the slippage model as for any fill.
        """
        if order.status is not OrderStatus.ACCEPTED:
            return
        instrument = self._instruments[order.instrument_id]
        last = last_bar.close
        bar = Bar(order.instrument_id, last_bar.ts_event, last, last, last, last, last_bar.volume)
        self._fill(order, instrument, bar, last, LiquiditySide.TAKER, math.inf)
        working = self._working.get(order.instrument_id, [])
        working[:] = [o for o in working if not o.is_closed]

    # -- events ------------------------------------------------------------------------
    def _cancel(self, order: Order, reason: str) -> None:
        self._emit(OrderCanceled, order, reason)

    def _emit(self, event_type: Callable[..., OrderEvent], order: Order, *fields: object) -> None:
        # Positional construction: keyword parsing doubled the cost of an event.
        event = event_type(
            order.client_order_id,
            order.strategy_id,
            order.instrument_id,
            self._clock.timestamp_ns(),
            *fields,
        )
        self._bus.send(EXEC_PROCESS_ENDPOINT, event)

    def working_orders(self, instrument_id: str | None = None) -> list[Order]:
        """Return the orders still working, optionally of one instrument."""
        if instrument_id is not None:
            return [o for o in self._working.get(instrument_id, []) if o.is_open]
        return [o for orders in self._working.values() for o in orders if o.is_open]


def _limit_price(buy: bool, limit: float | None, bar: Bar) -> float | None:
    assert limit is not None  # guaranteed by Order validation
    if buy:
        if bar.open <= limit:
            return bar.open
        return limit if bar.low <= limit else None
    if bar.open >= limit:
        return bar.open
    return limit if bar.high >= limit else None


def _stop_price(buy: bool, stop: float | None, bar: Bar) -> float | None:
    assert stop is not None  # guaranteed by Order validation
    if buy:
        if bar.open >= stop:
            return bar.open
        return stop if bar.high >= stop else None
    if bar.open <= stop:
        return bar.open
    return stop if bar.low <= stop else None
