"""The order book venue's indexes of our orders: resting limits by price, stops by trigger.

A quote, depth snapshot or print must cost what it can fill, not what rests: with
thousands of our orders resting, a walk over all of them on every market data update
held the event loop for milliseconds. These indexes let the venue visit only the
prices an update reaches. Hand-written on ``bisect`` and insertion-ordered dicts
rather than a sorted-containers package: this is the venue's hot path, the number of
distinct prices is small (prices lie on the tick), and each operation is a few lines
the venue's differential test pins against the plain walk.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import TYPE_CHECKING

from quantgrid.model import OrderSide

if TYPE_CHECKING:
    from quantgrid.venues._levels import Working


class RestingSide:
    """Our resting limit orders of one side of one instrument, by price.

    Notes
    -----
    ``at[price]`` holds the orders resting at ``price`` in time priority (an order
    enters it when it rests, with a ``seq`` above all before it); ``prices`` holds the
    keys of ``at``, ascending. An order's ``price`` must not change while it is here.
    """

    __slots__ = ("at", "prices")

    def __init__(self) -> None:
        self.at: dict[float, dict[Working, None]] = {}
        self.prices: list[float] = []

    def __bool__(self) -> bool:
        return bool(self.prices)

    def add(self, working: Working) -> None:
        """Rest ``working`` at its price, behind the orders already there."""
        orders = self.at.get(working.price)
        if orders is None:
            orders = self.at[working.price] = {}
            insort(self.prices, working.price)
        orders[working] = None

    def remove(self, working: Working) -> None:
        """Take ``working`` out of the queue at its price."""
        price = working.price
        orders = self.at[price]
        del orders[working]
        if not orders:
            del self.at[price]
            del self.prices[bisect_left(self.prices, price)]

    def prices_from(self, low: float) -> list[float]:
        """Return the prices at or above ``low``, ascending."""
        return self.prices[bisect_left(self.prices, low) :]

    def prices_above(self, low: float) -> list[float]:
        """Return the prices strictly above ``low``, ascending."""
        return self.prices[bisect_right(self.prices, low) :]

    def prices_to(self, high: float) -> list[float]:
        """Return the prices at or below ``high``, ascending."""
        return self.prices[: bisect_right(self.prices, high)]

    def prices_below(self, high: float) -> list[float]:
        """Return the prices strictly below ``high``, ascending."""
        return self.prices[: bisect_left(self.prices, high)]

    def orders_at(self, prices: list[float]) -> Iterator[Working]:
        """Yield the orders resting at ``prices`` (a snapshot: safe to fill while going)."""
        at = self.at
        for price in prices:
            yield from list(at.get(price, ()))


class WaitingStops:
    """Our stops of one instrument that wait for their trigger, by trigger price.

    Notes
    -----
    Each side keeps ``(trigger, arrival)`` keys ascending, and ``waiting`` maps an
    order's ``arrival`` (its place in the book's arrival order) to the order. A buy stop
    is reached by a reference at or above its trigger, a sell stop at or below it, so
    the reached stops of a side are a prefix (buys) or a suffix (sells) of its keys.
    """

    __slots__ = ("buys", "sells", "waiting")

    def __init__(self) -> None:
        self.buys: list[tuple[float, int]] = []
        self.sells: list[tuple[float, int]] = []
        self.waiting: dict[int, Working] = {}

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def add(self, working: Working) -> None:
        """Wait for the stop's trigger (its order's ``trigger_price`` now)."""
        trigger = working.order.trigger_price
        assert trigger is not None  # guaranteed by Order validation
        self.discard(working)
        working.stop_trigger = trigger
        insort(self._keys(working), (trigger, working.arrival))
        self.waiting[working.arrival] = working

    def discard(self, working: Working) -> None:
        """Stop waiting for ``working``'s trigger, if it was waiting."""
        trigger = working.stop_trigger
        if trigger is None:
            return
        keys = self._keys(working)
        del keys[bisect_left(keys, (trigger, working.arrival))]
        del self.waiting[working.arrival]
        working.stop_trigger = None

    def first_reached(self, reference: float, after: int) -> Working | None:
        """Return the stop reached at ``reference`` that arrived first after ``after``."""
        first: int | None = None
        reached = (
            self.buys[: bisect_right(self.buys, (reference, _LAST))],
            self.sells[bisect_left(self.sells, (reference, _FIRST)) :],
        )
        for keys in reached:
            for _, arrival in keys:
                if arrival > after and (first is None or arrival < first):
                    first = arrival
        return None if first is None else self.waiting[first]

    def _keys(self, working: Working) -> list[tuple[float, int]]:
        return self.buys if working.order.side is OrderSide.BUY else self.sells


# Sentinels of the arrival part of a key: below and above every arrival number.
_FIRST = -1
_LAST = 1 << 62
