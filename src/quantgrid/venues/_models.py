"""Fill models of the simulated venue: commissions, spread and slippage.

Hand-written on purpose: how a simulated order fills is the product's edge, and each
model is a few lines whose exact arithmetic tests pin down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from quantgrid.model import Instrument, LiquiditySide


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


class CommissionModel(Protocol):
    """Computes the commission of one fill, in the instrument's currency."""

    def commission(
        self, instrument: Instrument, quantity: float, price: float, liquidity: LiquiditySide
    ) -> float:
        """Return the commission for a fill of ``quantity`` at ``price``."""
        ...


class SpreadModel(Protocol):
    """Gives the half-spread a taker crosses, as an absolute price difference."""

    def half_spread(self, instrument: Instrument, price: float) -> float:
        """Return half the bid-ask spread around ``price``."""
        ...


class SlippageModel(Protocol):
    """Gives the adverse price move of a taker fill, as an absolute price difference."""

    def slippage(
        self, instrument: Instrument, price: float, quantity: float, bar_volume: float
    ) -> float:
        """Return how far against the trader a fill of ``quantity`` moves the price."""
        ...


@dataclass(frozen=True, slots=True)
class NoCommission:
    """Charge nothing."""

    def commission(
        self, instrument: Instrument, quantity: float, price: float, liquidity: LiquiditySide
    ) -> float:
        """Return 0."""
        return 0.0


@dataclass(frozen=True, slots=True)
class PercentCommission:
    """Charge ``rate`` of the traded value (0.001 = 10 bps), at least ``minimum``."""

    rate: float
    minimum: float = 0.0

    def __post_init__(self) -> None:
        _require(
            0 <= self.rate < 1 and math.isfinite(self.rate),
            f"rate must be in [0, 1), got {self.rate}",
        )
        _require(self.minimum >= 0, f"minimum must be >= 0, got {self.minimum}")

    def commission(
        self, instrument: Instrument, quantity: float, price: float, liquidity: LiquiditySide
    ) -> float:
        """Return ``max(minimum, rate * quantity * price * multiplier)``."""
        return max(self.minimum, self.rate * quantity * price * instrument.multiplier)


@dataclass(frozen=True, slots=True)
class PerUnitCommission:
    """Charge ``per_unit`` for each unit traded, at least ``minimum`` per fill."""

    per_unit: float
    minimum: float = 0.0

    def __post_init__(self) -> None:
        _require(self.per_unit >= 0, f"per_unit must be >= 0, got {self.per_unit}")
        _require(self.minimum >= 0, f"minimum must be >= 0, got {self.minimum}")

    def commission(
        self, instrument: Instrument, quantity: float, price: float, liquidity: LiquiditySide
    ) -> float:
        """Return ``max(minimum, per_unit * quantity)``."""
        return max(self.minimum, self.per_unit * quantity)


@dataclass(frozen=True, slots=True)
class MakerTakerCommission:
    """Charge a fraction of traded value that depends on the liquidity side.

    A negative ``maker_rate`` is a rebate.
    """

    maker_rate: float
    taker_rate: float

    def __post_init__(self) -> None:
        _require(
            -0.01 < self.maker_rate < 1, f"maker_rate must be in (-0.01, 1), got {self.maker_rate}"
        )
        _require(0 <= self.taker_rate < 1, f"taker_rate must be in [0, 1), got {self.taker_rate}")

    def commission(
        self, instrument: Instrument, quantity: float, price: float, liquidity: LiquiditySide
    ) -> float:
        """Return the maker or taker rate times the traded value."""
        rate = self.maker_rate if liquidity is LiquiditySide.MAKER else self.taker_rate
        return rate * quantity * price * instrument.multiplier


@dataclass(frozen=True, slots=True)
class FixedSpread:
    """A constant bid-ask spread in price units (e.g. 0.02 = two cents)."""

    spread: float

    def __post_init__(self) -> None:
        _require(
            self.spread >= 0 and math.isfinite(self.spread),
            f"spread must be >= 0, got {self.spread}",
        )

    def half_spread(self, instrument: Instrument, price: float) -> float:
        """Return half the fixed spread."""
        return self.spread / 2


@dataclass(frozen=True, slots=True)
class BpsSpread:
    """A bid-ask spread proportional to price, in basis points of the mid."""

    bps: float

    def __post_init__(self) -> None:
        _require(0 <= self.bps < 10_000, f"bps must be in [0, 10000), got {self.bps}")

    def half_spread(self, instrument: Instrument, price: float) -> float:
        """Return half of ``bps`` of ``price``."""
        return price * self.bps / 20_000


@dataclass(frozen=True, slots=True)
class BpsSlippage:
    """A constant adverse move of ``bps`` basis points on every taker fill."""

    bps: float

    def __post_init__(self) -> None:
        _require(0 <= self.bps < 10_000, f"bps must be in [0, 10000), got {self.bps}")

    def slippage(
        self, instrument: Instrument, price: float, quantity: float, bar_volume: float
    ) -> float:
        """Return ``bps`` of ``price``."""
        return price * self.bps / 10_000


@dataclass(frozen=True, slots=True)
class TickSlippage:
    """An adverse move of a whole number of ticks on every taker fill."""

    ticks: int = 1

    def __post_init__(self) -> None:
        _require(self.ticks >= 0, f"ticks must be >= 0, got {self.ticks}")

    def slippage(
        self, instrument: Instrument, price: float, quantity: float, bar_volume: float
    ) -> float:
        """Return ``ticks`` tick sizes."""
        return self.ticks * instrument.price_increment


@dataclass(frozen=True, slots=True)
class VolumeShareSlippage:
    """Market impact growing with the order's share of the bar's volume.

    ``slippage = impact * price * sqrt(quantity / bar_volume)`` (the square-root law);
    a bar with no volume gives ``max_bps`` of the price.
    """

    impact: float = 0.1
    max_bps: float = 100.0

    def __post_init__(self) -> None:
        _require(self.impact >= 0, f"impact must be >= 0, got {self.impact}")
        _require(self.max_bps >= 0, f"max_bps must be >= 0, got {self.max_bps}")

    def slippage(
        self, instrument: Instrument, price: float, quantity: float, bar_volume: float
    ) -> float:
        """Return the square-root impact, capped at ``max_bps`` of the price."""
        cap = price * self.max_bps / 10_000
        if bar_volume <= 0:
            return cap
        return min(cap, self.impact * price * math.sqrt(quantity / bar_volume))
