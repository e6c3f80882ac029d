"""Instruments: what can be traded and at which increments."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from quantgrid.model._data import FloatArray

# Within this many ticks of a whole tick, a price counts as on the tick (float noise).
_ON_TICK = 1e-9


def _scale_of(increment: float) -> float:
    """Return ``1 / increment`` when it is a whole number (0.01 -> 100), else 0.

    Dividing a whole number of ticks by that scale gives the correctly rounded decimal
    (10034 / 100 is the double nearest 100.34) in one IEEE operation, which numpy
    performs bit for bit like Python: the scalar and array roundings below agree.
    """
    inverse = 1.0 / increment
    whole = round(inverse)
    return float(whole) if whole >= 1 and abs(inverse - whole) < 1e-9 * inverse else 0.0


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument.

    Parameters
    ----------
    id
        The instrument's symbol, unique within a venue, e.g. ``"AAPL"``.
    price_increment
        Tick size. Order prices are rounded to it, and every fill price is rounded to
        it against the trader.
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
    _price_scale: float = field(init=False, repr=False, compare=False, default=0.0)
    _size_scale: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            msg = "instrument id must be a non-empty string"
            raise ValueError(msg)
        for name in ("price_increment", "size_increment", "multiplier"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                msg = f"instrument {self.id}: {name} must be a positive finite number, got {value}"
                raise ValueError(msg)
        object.__setattr__(self, "_price_scale", _scale_of(self.price_increment))
        object.__setattr__(self, "_size_scale", _scale_of(self.size_increment))

    @property
    def has_decimal_ticks(self) -> bool:
        """Tell whether tick and lot are ``1/n`` for whole ``n`` (exact array rounding)."""
        return self._price_scale > 0 and self._size_scale > 0

    @property
    def size_scale(self) -> float:
        """Return lots per unit (``1 / size_increment`` as a whole number), 0 if not whole."""
        return self._size_scale

    def _to_price(self, ticks: float) -> float:
        scale = self._price_scale
        return ticks / scale if scale else ticks * self.price_increment

    def _ticks(self, price: float) -> float:
        scale = self._price_scale
        return price * scale if scale else price / self.price_increment

    def round_price(self, price: float) -> float:
        """Round ``price`` to the nearest tick."""
        return self._to_price(round(self._ticks(price)))

    def round_price_adverse(self, price: float, side_sign: int) -> float:
        """Round a fill price to a tick against the trader: up for buys, down for sells."""
        ticks = self._ticks(price)
        nearest = round(ticks)
        if abs(ticks - nearest) < _ON_TICK:
            return self._to_price(nearest)
        return self._to_price(math.ceil(ticks) if side_sign > 0 else math.floor(ticks))

    def round_prices_adverse(self, prices: FloatArray, side_sign: int) -> FloatArray:
        """Round an array of prices like ``round_price_adverse``, bit for bit."""
        scale = self._price_scale
        ticks = prices * scale if scale else prices / self.price_increment
        nearest = np.rint(ticks)  # ties differ from round() only off the tick: unused there
        off = np.abs(ticks - nearest) >= _ON_TICK
        whole = np.where(off, np.ceil(ticks) if side_sign > 0 else np.floor(ticks), nearest)
        return whole / scale if scale else whole * self.price_increment

    def lots_to_size(self, lots: int) -> float:
        """Return the quantity of ``lots`` whole lots."""
        scale = self._size_scale
        return lots / scale if scale else lots * self.size_increment

    def round_size_down(self, quantity: float) -> float:
        """Round ``quantity`` down to a whole number of lots."""
        scale = self._size_scale
        lots = quantity * scale if scale else quantity / self.size_increment
        return self.lots_to_size(math.floor(lots + 1e-9))

    def is_valid_size(self, quantity: float) -> bool:
        """Tell whether ``quantity`` is a positive whole number of lots."""
        if not (math.isfinite(quantity) and quantity > 0):
            return False
        lots = quantity / self.size_increment
        return abs(lots - round(lots)) < 1e-9
