"""The last known price of each instrument, shared by the components of one node."""

from __future__ import annotations


class PriceCache:
    """Last traded or closing price per instrument id.

    Notes
    -----
    The market's source writes it (the simulated venue in a backtest, the feed in live
    trading), so every component that reads it (portfolio marks, venue checks) sees
    the same price without each one subscribing to every bar. ``last`` is a plain dict on
    purpose: the per-bar path writes it directly.
    """

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def update(self, instrument_id: str, price: float) -> None:
        """Record the latest price of an instrument."""
        self.last[instrument_id] = price

    def price(self, instrument_id: str) -> float | None:
        """Return the latest price of an instrument, if one was seen."""
        return self.last.get(instrument_id)
