"""Instruments: what can be traded and at which increments."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument.

    Parameters
    ----------
    id
        The instrument's symbol, unique within a venue, e.g. ``"AAPL"``.
    price_increment
        Tick size. Order prices and model-adjusted fill prices are rounded to it.
    size_increment
        Lot size. Order quantities must be whole multiples of it.
    multiplier
        Contract multiplier: value of one unit is ``price * multiplier``.
    currency
        Quote currency, in which P&L and cash are kept.
    """

    id: str
    price_increment: float = 0.01
    size_increment: float = 1.0
    multiplier: float = 1.0
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            msg = "instrument id must be a non-empty string"
            raise ValueError(msg)
        for name in ("price_increment", "size_increment", "multiplier"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                msg = f"instrument {self.id}: {name} must be a positive finite number, got {value}"
                raise ValueError(msg)

    def round_price(self, price: float) -> float:
        """Round ``price`` to the nearest tick."""
        ticks = round(price / self.price_increment)
        return _clean(ticks * self.price_increment, self.price_increment)

    def round_price_adverse(self, price: float, side_sign: int) -> float:
        """Round a fill price to a tick against the trader: up for buys, down for sells."""
        ticks = price / self.price_increment
        nearest = round(ticks)
        if abs(ticks - nearest) < 1e-9:
            ticks = nearest
        else:
            ticks = math.ceil(ticks) if side_sign > 0 else math.floor(ticks)
        return _clean(ticks * self.price_increment, self.price_increment)

    def round_size_down(self, quantity: float) -> float:
        """Round ``quantity`` down to a whole number of lots."""
        lots = math.floor(quantity / self.size_increment + 1e-9)
        return _clean(lots * self.size_increment, self.size_increment)

    def is_valid_size(self, quantity: float) -> bool:
        """Tell whether ``quantity`` is a positive whole number of lots."""
        if not (math.isfinite(quantity) and quantity > 0):
            return False
        lots = quantity / self.size_increment
        return abs(lots - round(lots)) < 1e-9


def _clean(value: float, increment: float) -> float:
    # Strip binary noise (0.30000000000000004) to the increment's decimal places.
    return round(value, _decimals(increment))


@functools.lru_cache(maxsize=256)
def _decimals(increment: float) -> int:
    return max(0, -math.floor(math.log10(increment)) + 2)
