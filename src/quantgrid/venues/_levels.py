"""The order book venue's records: displayed levels, our working orders, data checks.

Levels are ``[price, size]`` lists, best first, with prices exactly on the tick (the
checks below put them there), so that a price identifies a level by equality.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from quantgrid.model import (
    Instrument,
    InvalidMarketDataError,
    LiquiditySide,
    Order,
    OrderBookDepth,
    OrderSide,
    QuoteTick,
    TradeTick,
)
from quantgrid.venues._resting import RestingSide, WaitingStops

Levels = list[list[float]]
# A level whose size falls below this share of what it was is gone (float noise).
EMPTY = 1e-12
# ``InstrumentBook.first_day`` with no DAY order live: after every day.
NO_DAY = 1 << 62


class Working:
    """The venue's record of one order it received."""

    __slots__ = (
        "arrival",
        "day",
        "live",
        "order",
        "price",
        "queue_ahead",
        "resting",
        "seq",
        "stop_trigger",
    )

    def __init__(self, order: Order) -> None:
        self.order = order
        self.live = False  # accepted and not yet ended
        self.resting = False  # in the book at ``price``, with a queue position
        self.price = 0.0  # the limit price, on the tick
        self.queue_ahead = 0.0
        self.seq = 0  # time priority among our orders
        self.day = 0  # UTC day of acceptance, for DAY orders
        self.arrival = 0  # place in the venue's arrival order, once accepted
        self.stop_trigger: float | None = None  # the trigger ``WaitingStops`` holds it under


def priority(working: Working) -> int:
    """Return the sort key of time priority."""
    return working.seq


class InstrumentBook:
    """One instrument's displayed book of the rest of the market, and our live orders.

    Notes
    -----
    Besides ``orders`` (every live order, in arrival order), the book indexes what
    market data can reach: ``buys`` and ``sells`` hold the resting limits by price,
    ``stops`` the stops waiting for their trigger, and ``first_day`` is at most the
    acceptance day of every live DAY order. ``shrunk_bids`` and ``shrunk_asks`` hold the
    prices of our resting orders whose displayed level lost size to a print or to our
    own taking since the last quote or snapshot: there alone the queue ahead may exceed
    the displayed size (see ``OrderBookVenue._requeue``).
    """

    __slots__ = (
        "asks",
        "bids",
        "buys",
        "first_day",
        "has_trades",
        "last_trade",
        "orders",
        "sells",
        "shrunk_asks",
        "shrunk_bids",
        "stops",
    )

    def __init__(self) -> None:
        self.bids: Levels = []
        self.asks: Levels = []
        self.orders: dict[Working, None] = {}  # in arrival order
        self.has_trades = False
        self.last_trade = 0.0
        self.buys = RestingSide()
        self.sells = RestingSide()
        self.stops = WaitingStops()
        self.first_day = NO_DAY
        self.shrunk_bids: set[float] = set()
        self.shrunk_asks: set[float] = set()

    def resting(self, buy: bool) -> RestingSide:
        """Return our resting orders of one side."""
        return self.buys if buy else self.sells

    def shrunk(self, levels: Levels, price: float) -> None:
        """Note that the displayed level at ``price`` of ``levels`` lost size."""
        if levels is self.bids:
            if price in self.buys.at:
                self.shrunk_bids.add(price)
        elif price in self.sells.at:
            self.shrunk_asks.add(price)

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
                self.shrunk(levels, price)
                return


def size_at(levels: Levels, price: float, sign: int) -> float | None:
    """Return the displayed size at ``price``.

    0 in a gap between levels or better than the best; ``None`` beyond the deepest
    known level (or on an empty side), where nothing is known.
    """
    for level in levels:
        if level[0] == price:
            return level[1]
        if sign * level[0] < sign * price:
            return 0.0
    return None


def set_top(levels: Levels, price: float, size: float, sign: int) -> None:
    """Make ``price`` the best level with ``size``, dropping the levels better than it."""
    better = 0
    while better < len(levels) and sign * levels[better][0] > sign * price:
        better += 1
    del levels[:better]
    if levels and levels[0][0] == price:
        levels[0][1] = size
    else:
        levels.insert(0, [price, size])


def affordable_quantity(
    levels: Levels,
    instrument: Instrument,
    budget: float,
    commission: Callable[[Instrument, float, float, LiquiditySide], float],
) -> float:
    """Return the most whole lots that ``budget`` buys walking ``levels`` as a taker.

    Each level's fill pays its own commission, so each is sized on its own, by
    bisection over whole lots (cost grows with size), from what the levels before it
    left of the budget.
    """
    total = 0.0
    for price, size in levels:
        if budget <= 0:
            break
        most = int(instrument.round_size_down(size) / instrument.size_increment + 0.5)

        def cost(lots: int, price: float = price) -> float:
            qty = instrument.lots_to_size(lots)
            notional = qty * price * instrument.multiplier
            return notional + commission(instrument, qty, price, LiquiditySide.TAKER)

        low, high = 0, most
        while low < high:
            middle = (low + high + 1) // 2
            if cost(middle) <= budget:
                low = middle
            else:
                high = middle - 1
        if low:
            budget -= cost(low)
            total += instrument.lots_to_size(low)
        if low < most:
            break
    return total


# -- market data checks --------------------------------------------------------------------
def quote_prices(instrument: Instrument, quote: QuoteTick) -> tuple[float, float]:
    """Return the quote's bid and ask on the tick, refusing a malformed quote."""
    bid = _on_tick(instrument, quote.bid, "quote bid")
    ask = _on_tick(instrument, quote.ask, "quote ask")
    _positive_size(instrument, quote.bid_size, "quote bid_size")
    _positive_size(instrument, quote.ask_size, "quote ask_size")
    if bid >= ask:
        msg = f"{instrument.id}: quote is crossed: bid {bid:g} is not below ask {ask:g}"
        raise InvalidMarketDataError(msg)
    return bid, ask


def depth_levels(instrument: Instrument, depth: OrderBookDepth) -> tuple[Levels, Levels]:
    """Return the snapshot's bid and ask levels on the tick, refusing a malformed book."""
    depth.validate()
    bids = [[_on_tick(instrument, p, "bid level"), float(s)] for p, s in depth.bids]
    asks = [[_on_tick(instrument, p, "ask level"), float(s)] for p, s in depth.asks]
    return bids, asks


def trade_price(instrument: Instrument, trade: TradeTick) -> float:
    """Return the print's price on the tick, refusing a malformed print."""
    price = _on_tick(instrument, trade.price, "trade price")
    _positive_size(instrument, trade.size, "trade size")
    return price


def _on_tick(instrument: Instrument, price: float, what: str) -> float:
    if not (math.isfinite(price) and price > 0):
        msg = f"{instrument.id}: {what} must be a positive finite price, got {price!r}"
        raise InvalidMarketDataError(msg)
    rounded = instrument.round_price(price)
    if abs(rounded - price) > 1e-9 * price:
        msg = f"{instrument.id}: {what} {price!r} is not on the tick {instrument.price_increment:g}"
        raise InvalidMarketDataError(msg)
    return rounded


def _positive_size(instrument: Instrument, size: float, what: str) -> None:
    if not (math.isfinite(size) and size > 0):
        msg = f"{instrument.id}: {what} must be a positive finite size, got {size!r}"
        raise InvalidMarketDataError(msg)
