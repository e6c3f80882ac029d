"""The order book venue's matching as it was before the resting-order indexes: a reference.

A frozen copy of ``OrderBookVenue`` (and of its ``Working`` and ``InstrumentBook``
records) from before ``quantgrid.venues._resting``: every quote, snapshot and print
walks every live order of its instrument. ``test_book_differential.py`` drives it and
the venue side by side and requires the same events. Not to be edited with the venue:
it is what the venue must keep matching.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from itertools import count
from typing import Any

import numpy as np

from quantgrid.core import NANOS_PER_DAY, Clock, MessageBus, PriceCache, Serializer
from quantgrid.model import (
    CancelAllOrders,
    CancelOrder,
    Instrument,
    InvalidMarketDataError,
    LiquiditySide,
    ModifyOrder,
    Order,
    OrderAccepted,
    OrderBookDepth,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSide,
    OrderTriggered,
    OrderType,
    OrderUpdated,
    QuoteTick,
    SubmitOrder,
    TimeInForce,
    TradeTick,
    check_amend,
)
from quantgrid.venues import BookVenueConfig
from quantgrid.venues._checks import buying_power_shortfall, check_increments, closable_quantity
from quantgrid.venues._levels import (
    EMPTY,
    Levels,
    affordable_quantity,
    depth_levels,
    quote_prices,
    set_top,
    size_at,
    trade_price,
)
from quantgrid.venues._simulated import EXEC_PROCESS_ENDPOINT, AccountState


class Working:
    """The venue's record of one order it received."""

    __slots__ = ("day", "live", "order", "price", "queue_ahead", "resting", "seq")

    def __init__(self, order: Order) -> None:
        self.order = order
        self.live = False  # accepted and not yet ended
        self.resting = False  # in the book at ``price``, with a queue position
        self.price = 0.0  # the limit price, on the tick
        self.queue_ahead = 0.0
        self.seq = 0  # time priority among our orders
        self.day = 0  # UTC day of acceptance, for DAY orders


def priority(working: Working) -> int:
    """Return the sort key of time priority."""
    return working.seq


class InstrumentBook:
    """One instrument's displayed book of the rest of the market, and our live orders."""

    __slots__ = ("asks", "bids", "has_trades", "last_trade", "orders")

    def __init__(self) -> None:
        self.bids: Levels = []
        self.asks: Levels = []
        self.orders: list[Working] = []  # in arrival order
        self.has_trades = False
        self.last_trade = 0.0

    def mid(self) -> float | None:
        """Return the mid of the best bid and ask, if both sides are displayed."""
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        return None

    def reference(self) -> float | None:
        """Return the price stops trigger on: the last print, else the mid."""
        return self.last_trade if self.has_trades else self.mid()

    def side(self, buy: bool) -> tuple[Levels, int]:
        """Return the levels an order of this side rests on, and their sign."""
        return (self.bids, 1) if buy else (self.asks, -1)

    def size_at(self, working: Working) -> float | None:
        """Return the displayed size at a resting order's price (see ``size_at``)."""
        levels, sign = self.side(working.order.side is OrderSide.BUY)
        return size_at(levels, working.price, sign)

    def quote(self, bid: float, ask: float, bid_size: float, ask_size: float) -> None:
        """Replace the top level of each side."""
        set_top(self.bids, bid, bid_size, 1)
        set_top(self.asks, ask, ask_size, -1)

    def hit(self, price: float, size: float, aggressor: OrderSide | None) -> None:
        """Take a print's size off the displayed level it traded against.

        The aggressor tells the side; without one, a print at or below the best bid
        hit the bids and one at or above the best ask lifted the asks.
        """
        if aggressor is OrderSide.SELL or (
            aggressor is None and self.bids and price <= self.bids[0][0]
        ):
            levels = self.bids
        elif aggressor is OrderSide.BUY or (self.asks and price >= self.asks[0][0]):
            levels = self.asks
        else:
            return
        for k, level in enumerate(levels):
            if level[0] == price:
                if level[1] - size <= level[1] * EMPTY:
                    del levels[k]
                else:
                    level[1] -= size
                return


_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT)
_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)
_COMMANDS = (SubmitOrder, CancelOrder, CancelAllOrders, ModifyOrder)


class ReferenceBookVenue:
    """Matches orders against a replayed order book and reports order events.

    Commands arrive at the endpoint ``venue.<name>.execute``; events go to the execution
    engine's endpoint. The replay (or a paper-trading feed) hands it every quote, depth
    snapshot and trade through ``on_quote``, ``on_depth`` and ``on_trade`` before any
    strategy sees them.

    Notes
    -----
    Invariants: an order never fills after the venue cancelled, expired or rejected
    it; a cancel that arrives after the order ended is refused (``OrderCancelRejected``);
    fills never exceed the order's quantity. Handling is strictly sequential: a command
    sent while the venue is matching (by a strategy reacting to a fill) is handled
    right after, at the same time.
    """

    def __init__(
        self,
        name: str,
        bus: MessageBus,
        clock: Clock,
        prices: PriceCache,
        instruments: dict[str, Instrument],
        account: AccountState,
        config: BookVenueConfig | None = None,
    ) -> None:
        self.name = name
        self.endpoint = f"venue.{name}.execute"
        self._bus = bus
        self._clock = clock
        self._instruments = instruments
        self._account = account
        self._config = config or BookVenueConfig()
        self._commission = self._config.commission.commission
        self._proportional = self._config.queue_position == "proportional"
        self._books = {iid: InstrumentBook() for iid in instruments}
        self._orders: dict[str, Working] = {}
        self._last_price = prices.last
        self._rng = np.random.default_rng(self._config.seed)
        self._last_arrival = -1
        self._in_flight = 0
        self._serializer = Serializer()
        self._seq = count(1)
        self._venue_ids = 0
        self._trade_ids = 0
        bus.register(self.endpoint, self.execute)

    # -- read-only views -----------------------------------------------------------------
    def best_bid(self, instrument_id: str) -> float | None:
        """Return the best displayed bid, if any."""
        bids = self._book(instrument_id).bids
        return bids[0][0] if bids else None

    def best_ask(self, instrument_id: str) -> float | None:
        """Return the best displayed ask, if any."""
        asks = self._book(instrument_id).asks
        return asks[0][0] if asks else None

    def mid(self, instrument_id: str) -> float | None:
        """Return the mid of the best bid and ask, if both sides are displayed."""
        return self._book(instrument_id).mid()

    def depth(self, instrument_id: str) -> OrderBookDepth:
        """Return the displayed book as the venue sees it (liquidity we took removed)."""
        book = self._book(instrument_id)
        return OrderBookDepth(
            instrument_id,
            self._clock.timestamp_ns(),
            tuple((p, s) for p, s in book.bids),
            tuple((p, s) for p, s in book.asks),
        )

    def queue_ahead(self, client_order_id: str) -> float | None:
        """Return the displayed size ahead of a resting order (``None`` if not resting)."""
        working = self._orders.get(client_order_id)
        if working is None or not (working.live and working.resting):
            return None
        return working.queue_ahead

    def working_orders(self, instrument_id: str | None = None) -> list[Order]:
        """Return the orders working at the venue, optionally of one instrument."""
        books = self._books.values() if instrument_id is None else [self._book(instrument_id)]
        return [w.order for book in books for w in book.orders if w.live]

    def _book(self, instrument_id: str) -> InstrumentBook:
        book = self._books.get(instrument_id)
        if book is None:
            msg = f"unknown instrument {instrument_id!r} at venue {self.name}"
            raise KeyError(msg)
        return book

    # -- commands ------------------------------------------------------------------------
    def execute(self, command: object) -> None:
        """Send a command on its way to the matching engine.

        Handles ``SubmitOrder``, ``ModifyOrder``, ``CancelOrder`` and
        ``CancelAllOrders``; each takes effect when it arrives (see the latency rule).
        """
        if not isinstance(command, _COMMANDS):
            msg = f"venue {self.name} cannot handle {type(command).__name__}"
            raise TypeError(msg)
        config = self._config
        delay = config.latency_ns
        if config.latency_jitter_ns:
            delay += int(self._rng.integers(0, config.latency_jitter_ns, endpoint=True))
        if delay == 0 and self._in_flight == 0:
            self._serially(self._handle, command)
            return
        # Never earlier than the command sent before: jitter must not reorder them.
        arrival = max(self._clock.timestamp_ns() + delay, self._last_arrival)
        self._last_arrival = arrival
        self._in_flight += 1
        self._clock.set_alert(arrival, partial(self._arrive, command))

    def _arrive(self, command: object, ts_ns: int) -> None:
        self._in_flight -= 1
        self._serially(self._handle, command)

    def _serially(self, action: Callable[[Any], None], argument: Any) -> None:
        """Run ``action`` now, or after the matching in progress if there is one."""
        self._serializer.run(action, argument)

    def _handle(self, command: object) -> None:
        kind = type(command)
        if kind is SubmitOrder:
            assert isinstance(command, SubmitOrder)
            self._submit(command.order)
        elif kind is CancelOrder:
            assert isinstance(command, CancelOrder)
            working = self._orders.get(command.client_order_id)
            if working is None:
                return  # never reached this venue: nothing to cancel or refuse
            if working.live:
                self._cancel(working, command.reason or "canceled on request")
            else:
                status = working.order.status.value
                self._emit(OrderCancelRejected, working.order, f"order is already {status}")
        elif kind is ModifyOrder:
            assert isinstance(command, ModifyOrder)
            self._modify(command)
        else:
            assert isinstance(command, CancelAllOrders)
            iid = command.instrument_id
            books = (
                self._books.values() if iid is None else [self._books.get(iid, InstrumentBook())]
            )
            for book in books:
                for working in list(book.orders):
                    if working.live and working.order.strategy_id == command.strategy_id:
                        self._cancel(working, "canceled on request")

    def _submit(self, order: Order) -> None:
        working = Working(order)
        # Kept even when rejected, so that a later cancel is refused rather than lost.
        self._orders[order.client_order_id] = working
        reason = check_increments(order, self._instruments, self.name)
        if not reason and order.post_only and order.price is not None:
            reason = self._post_only_cross(order, order.price)
        if reason:
            self._emit(OrderRejected, order, reason)
            return
        instrument = self._instruments[order.instrument_id]
        book = self._books[order.instrument_id]
        if order.price is not None:
            working.price = instrument.round_price(order.price)
        working.day = self._clock.timestamp_ns() // NANOS_PER_DAY
        working.live = True
        book.orders.append(working)
        self._venue_ids += 1
        self._emit(OrderAccepted, order, f"{self.name}-{self._venue_ids}")
        self._work(working, book)

    def _post_only_cross(self, order: Order, price: float) -> str:
        book = self._books[order.instrument_id]
        if order.side is OrderSide.BUY:
            best = book.asks[0][0] if book.asks else None
            if best is not None and price >= best:
                return f"post-only buy limit {price:g} would cross the best ask {best:g}"
        else:
            best = book.bids[0][0] if book.bids else None
            if best is not None and price <= best:
                return f"post-only sell limit {price:g} would cross the best bid {best:g}"
        return ""

    def _modify(self, command: ModifyOrder) -> None:
        working = self._orders.get(command.client_order_id)
        if working is None:
            return
        order = working.order
        if not working.live:
            self._emit(OrderModifyRejected, order, f"order is already {order.status.value}")
            return
        instrument = self._instruments[order.instrument_id]
        reason = check_amend(order, command, instrument)
        if not reason and order.post_only and command.price is not None:
            reason = self._post_only_cross(order, command.price)
        if reason:
            self._emit(OrderModifyRejected, order, reason)
            return
        old_quantity = order.quantity or 0.0
        quantity = command.quantity if command.quantity is not None else old_quantity
        self._emit(OrderUpdated, order, quantity, command.price, command.trigger_price)
        old_price = working.price
        if command.price is not None:
            working.price = instrument.round_price(command.price)
        book = self._books[order.instrument_id]
        if working.resting:
            if working.price != old_price or quantity > old_quantity:
                working.resting = False  # back of the queue, or across the spread
                self._work(working, book)
        elif order.order_type in _STOPS and not order.triggered:
            self._work(working, book)  # the moved trigger may already be reached

    # -- matching ------------------------------------------------------------------------
    def _work(self, working: Working, book: InstrumentBook) -> None:
        """Trigger, take liquidity or rest a live order that is not resting."""
        order = working.order
        kind = order.order_type
        if kind in _STOPS and not order.triggered:
            reference = book.reference()
            if reference is None or not _stop_reached(order, reference):
                return
            self._emit(OrderTriggered, order)
        if kind is OrderType.MARKET or kind is OrderType.STOP:
            self._take(working, book, None)
            return
        buy = order.side is OrderSide.BUY
        limit = working.price
        opposite = book.asks if buy else book.bids
        tif = order.time_in_force
        if opposite and (opposite[0][0] <= limit if buy else opposite[0][0] >= limit):
            self._take(working, book, limit)
        elif tif in _IMMEDIATE:
            self._cancel(working, f"{tif.value}: not marketable on arrival")
        if working.live and order.leaves_qty > 0 and tif not in _IMMEDIATE:
            working.resting = True
            working.seq = next(self._seq)
            working.queue_ahead = book.size_at(working) or 0.0

    def _take(self, working: Working, book: InstrumentBook, limit: float | None) -> None:
        """Walk the opposite levels, best first, up to ``limit`` (``None``: no limit)."""
        order = working.order
        buy = order.side is OrderSide.BUY
        levels = book.asks if buy else book.bids
        instrument = self._instruments[order.instrument_id]
        if order.quantity is None:
            quantity = self._size_from_cash(order, instrument, levels)
            if quantity <= 0:
                reason = (
                    "insufficient buying power for one lot"
                    if levels
                    else "no displayed liquidity to size the order against"
                )
                self._cancel(working, reason)
                return
            self._emit(OrderUpdated, order, quantity)
        wanted = order.leaves_qty
        tif = order.time_in_force
        if tif is TimeInForce.FOK:
            reason = self._fok_refusal(order, instrument, levels, limit, wanted)
            if reason:
                self._cancel(working, reason)
                return
        taken = 0.0
        i = 0
        while working.live and order.leaves_qty > 0 and i < len(levels):
            level = levels[i]
            price, size = level
            if limit is not None and (price > limit if buy else price < limit):
                break
            quantity = min(order.leaves_qty, instrument.round_size_down(size))
            if quantity <= 0:
                i += 1  # less than a lot displayed here
                continue
            filled = self._fill(working, instrument, quantity, price, LiquiditySide.TAKER)
            if filled <= 0:
                return  # cancelled: reduce-only or buying power
            taken += filled
            if size - filled <= size * EMPTY:
                del levels[i]
            else:
                level[1] = size - filled
                i += 1
        if not working.live or order.leaves_qty <= 0:
            return
        if limit is None:
            reason = (
                f"market order exhausted the displayed book: filled {taken:g} of "
                f"{wanted:g}, remainder cancelled"
                if taken
                else "market order found no displayed liquidity: cancelled"
            )
            self._cancel(working, reason)
        elif tif in _IMMEDIATE:
            self._cancel(working, f"{tif.value}: remainder cancelled")

    def _fok_refusal(
        self,
        order: Order,
        instrument: Instrument,
        levels: Levels,
        limit: float | None,
        wanted: float,
    ) -> str:
        """Return why a FOK order cannot fill completely at once, or ``""``."""
        buy = order.side is OrderSide.BUY
        need, notional, commission = wanted, 0.0, 0.0
        for price, size in levels:
            if need <= 0 or (limit is not None and (price > limit if buy else price < limit)):
                break
            quantity = min(need, instrument.round_size_down(size))
            need -= quantity
            notional += quantity * price
            commission += self._commission(instrument, quantity, price, LiquiditySide.TAKER)
        if need > wanted * 1e-12:
            return f"FOK: the displayed book holds {wanted - need:g} of {wanted:g}"
        if not self._config.check_buying_power:
            return ""
        position = self._account.position_quantity(order.instrument_id)
        closable = closable_quantity(position, order.side)
        shortfall = buying_power_shortfall(
            self._account, instrument, wanted, notional / wanted, commission, closable
        )
        return f"FOK: {shortfall}" if shortfall else ""

    def _size_from_cash(self, order: Order, instrument: Instrument, levels: Levels) -> float:
        """Return the most whole lots the buying power buys from ``levels``."""
        account = self._account
        fraction = order.cash_fraction or 1.0
        budget = min(account.buying_power(), account.equity() * account.leverage * fraction)
        closable = closable_quantity(account.position_quantity(order.instrument_id), order.side)
        if closable and levels:
            budget += closable * levels[0][0] * instrument.multiplier
        return affordable_quantity(levels, instrument, budget, self._commission)

    def _fill(
        self,
        working: Working,
        instrument: Instrument,
        quantity: float,
        price: float,
        liquidity: LiquiditySide,
    ) -> float:
        """Fill what reduce-only and the buying power allow; return the quantity filled."""
        order = working.order
        closable = closable_quantity(
            self._account.position_quantity(order.instrument_id), order.side
        )
        if order.reduce_only:
            if closable <= 0:
                self._cancel(working, "reduce-only order would open or increase a position")
                return 0.0
            quantity = min(quantity, closable)
        commission = self._commission(instrument, quantity, price, liquidity)
        if self._config.check_buying_power:
            reason = buying_power_shortfall(
                self._account, instrument, quantity, price, commission, closable
            )
            if reason:
                self._cancel(working, reason)
                return 0.0
        self._trade_ids += 1
        self._emit(
            OrderFilled,
            order,
            f"{self.name}-T{self._trade_ids}",  # trade_id
            order.side,
            quantity,  # last_qty
            price,  # last_px
            commission,
            liquidity,
            instrument.currency,
        )
        if order.leaves_qty <= 0:
            self._close(working)
        elif order.reduce_only and quantity >= closable:
            self._cancel(working, "reduce-only: position closed, remainder cancelled")
        return quantity

    # -- market data ---------------------------------------------------------------------
    def on_quote(self, quote: QuoteTick) -> None:
        """Replace the top level of each side and match our orders against the new book.

        Raises
        ------
        InvalidMarketDataError
            If the quote is malformed (see ``check``).
        """
        bid, ask = quote_prices(self._instrument(quote.instrument_id), quote)
        self._serially(self._apply_quote, (bid, ask, quote))

    def on_depth(self, depth: OrderBookDepth) -> None:
        """Replace the whole book of the instrument and match our orders against it.

        Raises
        ------
        InvalidMarketDataError
            If the snapshot is malformed (see ``check``).
        """
        bids, asks = depth_levels(self._instrument(depth.instrument_id), depth)
        self._serially(self._apply_depth, (bids, asks, depth))

    def on_trade(self, trade: TradeTick) -> None:
        """Apply a print of the market to the queues and fill our orders it reaches.

        Raises
        ------
        InvalidMarketDataError
            If the print is malformed (see ``check``).
        """
        price = trade_price(self._instrument(trade.instrument_id), trade)
        self._serially(self._apply_trade, (price, trade))

    def check(self, item: QuoteTick | TradeTick | OrderBookDepth) -> None:
        """Check a market data item without applying it.

        Raises
        ------
        InvalidMarketDataError
            For an unknown instrument, a price off the tick or not positive, a size not
            positive, a quote whose bid is not below its ask, or a malformed book (see
            ``OrderBookDepth.validate``).
        """
        instrument = self._instrument(item.instrument_id)
        if isinstance(item, QuoteTick):
            quote_prices(instrument, item)
        elif isinstance(item, TradeTick):
            trade_price(instrument, item)
        else:
            depth_levels(instrument, item)

    def _instrument(self, instrument_id: str) -> Instrument:
        instrument = self._instruments.get(instrument_id)
        if instrument is None:
            msg = f"market data for unknown instrument {instrument_id!r} at venue {self.name}"
            raise InvalidMarketDataError(msg)
        return instrument

    def _apply_quote(self, item: tuple[float, float, QuoteTick]) -> None:
        bid, ask, quote = item
        book = self._books[quote.instrument_id]
        self._expire(book)
        before = [(w, book.size_at(w)) for w in book.orders if w.resting]
        book.quote(bid, ask, quote.bid_size, quote.ask_size)
        self._after_book_update(quote.instrument_id, book, before)

    def _apply_depth(self, item: tuple[Levels, Levels, OrderBookDepth]) -> None:
        bids, asks, depth = item
        book = self._books[depth.instrument_id]
        self._expire(book)
        before = [(w, book.size_at(w)) for w in book.orders if w.resting]
        book.bids = bids
        book.asks = asks
        self._after_book_update(depth.instrument_id, book, before)

    def _after_book_update(
        self, iid: str, book: InstrumentBook, before: list[tuple[Working, float | None]]
    ) -> None:
        # The queue ahead: shrinks with the level (proportional), never exceeds it.
        for working, old in before:
            new = book.size_at(working)
            if new is None:
                continue
            ahead = working.queue_ahead
            if self._proportional and old and new < old:
                ahead *= new / old
            working.queue_ahead = min(ahead, new)
        mid = book.mid()
        if mid is not None:
            self._last_price[iid] = mid
        # The opposite side moved onto or through our resting prices.
        best_bid = book.bids[0][0] if book.bids else None
        best_ask = book.asks[0][0] if book.asks else None
        crossed = [
            w
            for w in book.orders
            if w.resting
            and (
                (best_ask is not None and best_ask <= w.price)
                if w.order.side is OrderSide.BUY
                else (best_bid is not None and best_bid >= w.price)
            )
        ]
        if crossed:
            self._fill_through(crossed, self._instruments[iid])
        if not book.has_trades:
            self._trigger_stops(book)

    def _apply_trade(self, item: tuple[float, TradeTick]) -> None:
        price, trade = item
        iid = trade.instrument_id
        book = self._books[iid]
        self._expire(book)
        self._last_price[iid] = price
        book.has_trades = True
        book.last_trade = price
        size = trade.size
        aggressor = trade.aggressor_side
        through: list[Working] = []
        bids_at: list[Working] = []
        asks_at: list[Working] = []
        for working in book.orders:
            if not working.resting:
                continue
            limit = working.price
            if working.order.side is OrderSide.BUY:
                if price < limit:
                    through.append(working)
                elif price == limit and aggressor is not OrderSide.BUY:
                    bids_at.append(working)
            elif price > limit:
                through.append(working)
            elif price == limit and aggressor is not OrderSide.SELL:
                asks_at.append(working)
        instrument = self._instruments[iid]
        if through:
            self._fill_through(through, instrument)
        ours = 0.0
        if bids_at:
            ours += self._fill_queue(bids_at, size, instrument)
        if asks_at:
            ours += self._fill_queue(asks_at, size, instrument)
        # Only the part of the print our orders did not take used up displayed size.
        book.hit(price, size - ours, aggressor)
        self._trigger_stops(book)

    def _fill_through(self, orders: list[Working], instrument: Instrument) -> None:
        """Fill resting orders the market traded through, completely, at their limits."""
        orders.sort(key=priority)
        for working in orders:
            if working.live:
                quantity = working.order.leaves_qty
                self._fill(working, instrument, quantity, working.price, LiquiditySide.MAKER)

    def _fill_queue(self, orders: list[Working], size: float, instrument: Instrument) -> float:
        """Run a print of ``size`` down the queue at one price: the external size ahead of
        each of our orders first, then the order itself, in time priority.

        Returns the quantity our orders took from the print.
        """
        orders.sort(key=priority)
        remaining = size
        taken = 0.0  # external size the print has used up so far, all ahead of what follows
        for working in orders:
            step = min(remaining, max(0.0, working.queue_ahead - taken))
            remaining -= step
            taken += step
            ahead = working.queue_ahead - taken
            working.queue_ahead = ahead if ahead > size * 1e-12 else 0.0
            if working.queue_ahead > 0 or remaining <= 0 or not working.live:
                continue
            quantity = instrument.round_size_down(min(remaining, working.order.leaves_qty))
            if quantity > 0:
                remaining -= self._fill(
                    working, instrument, quantity, working.price, LiquiditySide.MAKER
                )
        return size - remaining - taken

    def _trigger_stops(self, book: InstrumentBook) -> None:
        for working in list(book.orders):
            order = working.order
            if working.live and order.order_type in _STOPS and not order.triggered:
                self._work(working, book)

    def _expire(self, book: InstrumentBook) -> None:
        day = self._clock.timestamp_ns() // NANOS_PER_DAY
        for working in list(book.orders):
            if working.order.time_in_force is TimeInForce.DAY and day > working.day:
                self._emit(OrderExpired, working.order)
                self._close(working)

    # -- events --------------------------------------------------------------------------
    def _cancel(self, working: Working, reason: str) -> None:
        self._emit(OrderCanceled, working.order, reason)
        self._close(working)

    def _close(self, working: Working) -> None:
        if working.live:
            working.live = False
            working.resting = False
            self._books[working.order.instrument_id].orders.remove(working)

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


def _stop_reached(order: Order, price: float) -> bool:
    trigger = order.trigger_price
    assert trigger is not None  # guaranteed by Order validation
    return price >= trigger if order.side is OrderSide.BUY else price <= trigger
