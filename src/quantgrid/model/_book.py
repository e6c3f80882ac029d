"""Order book market data: a level-2 snapshot of one instrument's book."""

from __future__ import annotations

import math
from typing import NamedTuple

BookLevels = tuple[tuple[float, float], ...]


class InvalidMarketDataError(ValueError):
    """A quote, trade or book snapshot breaks a rule; the message names it and the rule."""


class OrderBookDepth(NamedTuple):
    """The displayed book of one instrument at a moment (level 2).

    ``bids`` and ``asks`` hold ``(price, size)`` levels, best first: bids in falling
    price, asks in rising price. Either side may be empty.

    Notes
    -----
    A tuple subclass like ``QuoteTick``: a replay makes one per book update. Nothing is
    checked on construction (that would cost every update); ``validate`` checks the
    rules and names the one broken.
    """

    instrument_id: str
    ts_event: int
    bids: BookLevels
    asks: BookLevels

    def validate(self) -> None:
        """Check that the book is well formed.

        Raises
        ------
        InvalidMarketDataError
            Naming the instrument, the side, the level and the rule: prices and sizes
            positive and finite, levels strictly sorted best first, best bid below best
            ask (a crossed or locked book is refused).
        """
        iid = self.instrument_id
        for side, levels, sign in (("bid", self.bids, 1), ("ask", self.asks, -1)):
            previous = math.nan
            for k, level in enumerate(levels):
                if len(level) != 2:
                    msg = f"book of {iid}: {side} level {k} must be (price, size), got {level!r}"
                    raise InvalidMarketDataError(msg)
                price, size = level
                if not (math.isfinite(price) and price > 0):
                    msg = f"book of {iid}: {side} level {k} has a non-positive price {price!r}"
                    raise InvalidMarketDataError(msg)
                if not (math.isfinite(size) and size > 0):
                    msg = f"book of {iid}: {side} level {k} has a non-positive size {size!r}"
                    raise InvalidMarketDataError(msg)
                if k and not sign * price < sign * previous:
                    order = "falling" if sign > 0 else "rising"
                    msg = (
                        f"book of {iid}: {side} levels are not sorted best first: level {k} "
                        f"at {price!r} after {previous!r} (must be strictly {order})"
                    )
                    raise InvalidMarketDataError(msg)
                previous = price
        if self.bids and self.asks and self.bids[0][0] >= self.asks[0][0]:
            msg = (
                f"book of {iid} is crossed: best bid {self.bids[0][0]!r} is not below "
                f"best ask {self.asks[0][0]!r}"
            )
            raise InvalidMarketDataError(msg)
