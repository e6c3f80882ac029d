"""A simulated venue that matches orders against a replayed order book, with queue position.

The venue keeps, per instrument, the displayed book of the rest of the market (from
quotes and depth snapshots) and our own working orders, which the market never sees:
it answers "what would have happened had these orders been there". Hand-written on
purpose: the fill model is the product's edge, and every rule below is a few lines a
test pins down. The per-event path uses plain lists and dicts, and indexes our orders
by price and by trigger (``_resting``): market data costs what it can reach (the
orders it fills, the queues whose level it moves, the stops it triggers), not what
rests.

Matching rules (every one is tested):

- Commands (submit, amend, cancel) reach the matching engine ``latency_ns`` after they
  are sent, plus a uniform jitter in ``[0, latency_jitter_ns]`` drawn from a generator
  seeded with ``seed``; arrival times never decrease, so jitter never lets a command
  overtake an earlier one (a cancel never beats its submit). An order works against
  the book as it is when it arrives. With no delay a command is handled at once.
- Market data: a quote replaces the top level of each side (levels better than the
  quote's price are gone, the level at its price takes the quote's size, deeper levels
  stay); a depth snapshot replaces the whole book. Trades are prints of the rest of
  the market. Prices must lie on the instrument's tick.
- Marketable orders (market, or a limit that reaches the opposite best) take liquidity:
  they walk the displayed opposite levels best first, one partial fill per level, at
  the level's price, TAKER. Liquidity taken is removed from the venue's copy of the
  book until the next quote or depth update of that level, so the same displayed size
  never fills twice. A market order that exhausts the displayed book fills what there
  is and the rest is cancelled (the reason says so). IOC fills what it can and cancels
  the rest; FOK fills completely from the displayed book, within the buying power, or
  is cancelled unfilled.
- A post-only limit that would reach the opposite best is rejected (the reason names
  both prices).
- A limit order that does not fill at once rests at its price, behind the displayed
  size there when it arrives (``queue_ahead``; 0 when it opens a new level or improves
  the best price, or when the level lies beyond the known book). Our own orders keep
  price-time priority among themselves and never trade with each other.
- A print at our price (sold into our bid, bought from our offer, or of unknown
  aggressor) first uses up the queue ahead; what is left of the print fills our orders
  at that price in time priority, at our price, MAKER. A print through our price (a
  print below our buy limit, above our sell limit), or the opposite best moving onto
  or through it (a best ask at or below our buy limit), fills our order completely at
  its limit price, MAKER. A print also takes its size off the displayed level it hit.
- When the displayed size at our level shrinks without a trade, ``queue_position``
  decides who left: ``"conservative"`` (the default) assumes the cancels came from
  behind us, so only trades move us forward; ``"proportional"`` spreads the cancels
  evenly over the queue, so the queue ahead shrinks in proportion to the level. Either
  way the queue ahead never exceeds the displayed size, and growth joins behind us.
- An amend that changes the price or raises the quantity loses the queue position (the
  order re-enters as if new, and may take liquidity at its new price); lowering the
  quantity keeps it.
- Stops trigger on trade prints at or through the trigger (on the mid of quotes while
  the instrument has had no print), including at arrival, and then work as a market
  order (STOP) or a limit order (STOP_LIMIT).
- Reduce-only orders are cut to the position they reduce, or cancelled if none. Fills
  that would open exposure beyond the buying power cancel the order, as a broker
  would. Market orders sized from cash get the most whole lots the buying power buys
  from the displayed book, commission included. Fill quantities are whole lots.
- DAY orders expire at the first market data of their instrument on a later UTC day.
- The venue writes each trade's price, and each quote's or snapshot's mid, into the
  shared prices, where the portfolio marks positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import count
from typing import Any, Literal

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
from quantgrid.venues._checks import buying_power_shortfall, check_increments, closable_quantity
from quantgrid.venues._levels import (
    EMPTY,
    NO_DAY,
    InstrumentBook,
    Levels,
    Working,
    affordable_quantity,
    depth_levels,
    priority,
    quote_prices,
    size_at,
    trade_price,
)
from quantgrid.venues._models import CommissionModel, NoCommission
from quantgrid.venues._simulated import EXEC_PROCESS_ENDPOINT, AccountState

QueuePosition = Literal["conservative", "proportional"]
_QUEUE_POSITIONS = ("conservative", "proportional")
_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT)
_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)
_COMMANDS = (SubmitOrder, CancelOrder, CancelAllOrders, ModifyOrder)


@dataclass(frozen=True, slots=True)
class BookVenueConfig:
    """How the order book venue matches orders.

    Parameters
    ----------
    commission
        The commission model; ``MakerTakerCommission`` charges the two sides apart.
    latency_ns
        One-way delay from sending a command (submit, amend, cancel) to its arrival at
        the matching engine, in nanoseconds.
    latency_jitter_ns
        Upper bound of a uniform extra delay added to each command.
    seed
        Seed of the jitter's random generator: the same seed gives the same fills.
    queue_position
        How the queue ahead of a resting order moves when its level shrinks without a
        trade: ``"conservative"`` or ``"proportional"`` (see the module notes).
    check_buying_power
        Cancel orders whose fills would open more exposure than the buying power covers.
    """

    commission: CommissionModel = field(default_factory=NoCommission)
    latency_ns: int = 0
    latency_jitter_ns: int = 0
    seed: int = 0
    queue_position: QueuePosition = "conservative"
    check_buying_power: bool = True

    def __post_init__(self) -> None:
        if not callable(getattr(self.commission, "commission", None)):
            msg = (
                "BookVenueConfig.commission must be a CommissionModel (e.g. "
                f"MakerTakerCommission), got {self.commission!r}"
            )
            raise ValueError(msg)
        for name in ("latency_ns", "latency_jitter_ns", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                msg = f"BookVenueConfig.{name} must be a whole number >= 0, got {value!r}"
                raise ValueError(msg)
        if self.queue_position not in _QUEUE_POSITIONS:
            msg = (
                "BookVenueConfig.queue_position must be 'conservative' or 'proportional', "
                f"got {self.queue_position!r}"
            )
            raise ValueError(msg)
        if not isinstance(self.check_buying_power, bool):
            msg = (
                "BookVenueConfig.check_buying_power must be True or False, "
                f"got {self.check_buying_power!r}"
            )
            raise ValueError(msg)


class OrderBookVenue:
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
        self._arrivals = count(1)
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
        working.arrival = next(self._arrivals)
        book.orders[working] = None
        if order.time_in_force is TimeInForce.DAY:
            book.first_day = min(book.first_day, working.day)
        self._venue_ids += 1
        self._emit(OrderAccepted, order, f"{self.name}-{self._venue_ids}")
        self._work(working, book)
        if working.live and order.order_type in _STOPS and not order.triggered:
            book.stops.add(working)

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
        price = old_price if command.price is None else instrument.round_price(command.price)
        book = self._books[order.instrument_id]
        if working.resting:
            if price != old_price or quantity > old_quantity:
                # Back of the queue, or across the spread; out of the index at the old price.
                book.resting(order.side is OrderSide.BUY).remove(working)
                working.resting = False
                working.price = price
                self._work(working, book)
            return
        working.price = price
        if order.order_type in _STOPS and not order.triggered:
            book.stops.add(working)  # under its new trigger
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
            book.stops.discard(working)
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
            book.resting(buy).add(working)

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
            book.shrunk(levels, price)
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
        # Below the new bid (above the new ask) a quote leaves the displayed sizes as
        # they were: only our orders at or better than it can see their level change.
        bids = self._sizes(book, True, book.buys.prices_from(bid))
        asks = self._sizes(book, False, book.sells.prices_to(ask))
        book.quote(bid, ask, quote.bid_size, quote.ask_size)
        self._after_book_update(quote.instrument_id, book, bids, asks)

    def _apply_depth(self, item: tuple[Levels, Levels, OrderBookDepth]) -> None:
        bids, asks, depth = item
        book = self._books[depth.instrument_id]
        self._expire(book)
        # Beyond the snapshot's deepest level nothing is known: queues there stay put.
        before_bids = self._sizes(book, True, book.buys.prices_from(bids[-1][0]) if bids else [])
        before_asks = self._sizes(book, False, book.sells.prices_to(asks[-1][0]) if asks else [])
        book.bids = bids
        book.asks = asks
        self._after_book_update(depth.instrument_id, book, before_bids, before_asks)

    def _sizes(
        self, book: InstrumentBook, buy: bool, reached: list[float]
    ) -> dict[float, float | None]:
        """Return the displayed size at the prices of one side a book update may move.

        Those are the prices of our resting orders the update ``reached``, and those
        whose level shrank since the last update; call it before the update.
        """
        levels, sign = book.side(buy)
        shrunk = book.shrunk_bids if buy else book.shrunk_asks
        return {price: size_at(levels, price, sign) for price in (*reached, *shrunk)}

    def _after_book_update(
        self,
        iid: str,
        book: InstrumentBook,
        before_bids: dict[float, float | None],
        before_asks: dict[float, float | None],
    ) -> None:
        self._requeue(book, True, before_bids)
        self._requeue(book, False, before_asks)
        book.shrunk_bids.clear()
        book.shrunk_asks.clear()
        mid = book.mid()
        if mid is not None:
            self._last_price[iid] = mid
        # The opposite side moved onto or through our resting prices.
        crossed: list[Working] = []
        if book.asks:
            crossed += book.buys.orders_at(book.buys.prices_from(book.asks[0][0]))
        if book.bids:
            crossed += book.sells.orders_at(book.sells.prices_to(book.bids[0][0]))
        if crossed:
            self._fill_through(crossed, self._instruments[iid])
        if not book.has_trades:
            self._trigger_stops(book)

    def _requeue(self, book: InstrumentBook, buy: bool, before: dict[float, float | None]) -> None:
        """Move the queue ahead of our resting orders at ``before``'s prices of one side.

        The queue ahead shrinks with the level (proportional) and never exceeds it.

        Notes
        -----
        The queue ahead never grows while an order rests, and after each book update it
        is at most the displayed size wherever that size is known. Between updates only
        a print or our own taking shrinks a level (``InstrumentBook.shrunk``). So at a
        price whose level neither shrank since nor shrinks now, the rule would leave
        every queue as it is: skipping it changes nothing, and the update costs what it
        moves, not what rests.
        """
        levels, sign = book.side(buy)
        shrunk = book.shrunk_bids if buy else book.shrunk_asks
        at = book.resting(buy).at
        proportional = self._proportional
        for price, old in before.items():
            new = size_at(levels, price, sign)
            if new is None or (old is not None and not new < old and price not in shrunk):
                continue
            for working in at.get(price, ()):
                ahead = working.queue_ahead
                if proportional and old and new < old:
                    ahead *= new / old
                working.queue_ahead = min(ahead, new)

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
        buys, sells = book.buys, book.sells
        # Through our price: buys above the print, sells below it.
        through = [
            *buys.orders_at(buys.prices_above(price)),
            *sells.orders_at(sells.prices_below(price)),
        ]
        bids_at = list(buys.at.get(price, ())) if aggressor is not OrderSide.BUY else []
        asks_at = list(sells.at.get(price, ())) if aggressor is not OrderSide.SELL else []
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
        """Work the stops the reference reached, in arrival order.

        One pass in arrival order, as a walk over every order would make it: a stop
        that triggers may take liquidity and so move the mid, which then decides for
        the stops after it (not for those before it, until the next market data).
        """
        stops = book.stops
        after = 0  # arrival of the stop worked last in this pass
        while stops:
            reference = book.reference()
            if reference is None:
                return
            working = stops.first_reached(reference, after)
            if working is None:
                return
            after = working.arrival
            if working.live and not working.order.triggered:
                self._work(working, book)
            else:  # not waiting any more: never indexed so, but keep the walk's rule
                stops.discard(working)

    def _expire(self, book: InstrumentBook) -> None:
        day = self._clock.timestamp_ns() // NANOS_PER_DAY
        if day <= book.first_day:
            return  # no DAY order was accepted before today
        for working in list(book.orders):
            if working.order.time_in_force is TimeInForce.DAY and day > working.day:
                self._emit(OrderExpired, working.order)
                self._close(working)
        book.first_day = min(
            (w.day for w in book.orders if w.order.time_in_force is TimeInForce.DAY),
            default=NO_DAY,
        )

    # -- events --------------------------------------------------------------------------
    def _cancel(self, working: Working, reason: str) -> None:
        self._emit(OrderCanceled, working.order, reason)
        self._close(working)

    def _close(self, working: Working) -> None:
        if working.live:
            working.live = False
            book = self._books[working.order.instrument_id]
            if working.resting:
                working.resting = False
                book.resting(working.order.side is OrderSide.BUY).remove(working)
            book.stops.discard(working)
            del book.orders[working]

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
