"""Risk limits: what an account and each instrument may do, all optional."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from quantgrid.model import Regime


def _check_positive(owner: str, name: str, value: object, *, integer: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{owner}.{name} must be a number or None, got {value!r}"
        raise ValueError(msg)
    if integer and not isinstance(value, int):
        msg = f"{owner}.{name} must be a whole number or None, got {value!r}"
        raise ValueError(msg)
    if not (math.isfinite(value) and value > 0):
        msg = f"{owner}.{name} must be positive and finite, got {value!r}"
        raise ValueError(msg)


def _check_fraction(owner: str, name: str, value: float | None, upper: float = 1.0) -> None:
    _check_positive(owner, name, value)
    if value is not None and value > upper:
        msg = f"{owner}.{name} must be a fraction in (0, {upper:g}], got {value!r}"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class InstrumentLimits:
    """Limits of one instrument; each overrides the account's default, ``None`` keeps it.

    Parameters
    ----------
    max_order_quantity
        Units one order may trade.
    max_order_notional
        Value (``quantity * price * multiplier``) one order may trade.
    max_position
        Units the net position (long or short) may reach, counting working orders.
    max_concentration
        Fraction of equity the position's marked value may reach (``0.25`` = 25 %).
    price_band_pct
        How far a limit or stop price may lie from the last price, as a fraction.
    """

    max_order_quantity: float | None = None
    max_order_notional: float | None = None
    max_position: float | None = None
    max_concentration: float | None = None
    price_band_pct: float | None = None

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_positive(owner, "max_order_quantity", self.max_order_quantity)
        _check_positive(owner, "max_order_notional", self.max_order_notional)
        _check_positive(owner, "max_position", self.max_position)
        _check_fraction(owner, "max_concentration", self.max_concentration)
        _check_fraction(owner, "price_band_pct", self.price_band_pct)


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Pre-trade limits and circuit breakers of one account; ``None`` means unlimited.

    Parameters
    ----------
    max_order_quantity, max_order_notional, max_position, max_concentration, price_band_pct
        Defaults for every instrument (see ``InstrumentLimits``).
    max_gross_exposure
        Sum of ``|marked value|`` of all positions, after the order.
    max_net_exposure
        ``|sum of marked values|`` of all positions, after the order.
    max_orders, order_window_ns
        At most ``max_orders`` orders pass in any window of ``order_window_ns`` of clock
        time (account-wide).
    reduce_at_drawdown, halt_at_drawdown
        Drawdowns from the equity peak (fractions) at which trading moves to REDUCING
        and to HALTED.
    blocked_regimes
        Regimes in which ``regime_of`` blocks new entries (reducing orders still pass).
    per_instrument
        Limits of single instruments, overriding the defaults above.
    """

    max_order_quantity: float | None = None
    max_order_notional: float | None = None
    max_position: float | None = None
    max_concentration: float | None = None
    price_band_pct: float | None = None
    max_gross_exposure: float | None = None
    max_net_exposure: float | None = None
    max_orders: int | None = None
    order_window_ns: int = 1_000_000_000
    reduce_at_drawdown: float | None = None
    halt_at_drawdown: float | None = None
    blocked_regimes: frozenset[int] = frozenset({Regime.CHOPPY, Regime.CRISIS})
    per_instrument: Mapping[str, InstrumentLimits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_positive(owner, "max_order_quantity", self.max_order_quantity)
        _check_positive(owner, "max_order_notional", self.max_order_notional)
        _check_positive(owner, "max_position", self.max_position)
        _check_fraction(owner, "max_concentration", self.max_concentration)
        _check_fraction(owner, "price_band_pct", self.price_band_pct)
        _check_positive(owner, "max_gross_exposure", self.max_gross_exposure)
        _check_positive(owner, "max_net_exposure", self.max_net_exposure)
        _check_positive(owner, "max_orders", self.max_orders, integer=True)
        _check_positive(owner, "order_window_ns", self.order_window_ns, integer=True)
        _check_fraction(owner, "reduce_at_drawdown", self.reduce_at_drawdown, upper=1.0)
        _check_fraction(owner, "halt_at_drawdown", self.halt_at_drawdown, upper=1.0)
        reduce, halt = self.reduce_at_drawdown, self.halt_at_drawdown
        if reduce is not None and halt is not None and reduce >= halt:
            msg = (
                f"{owner}.reduce_at_drawdown ({reduce!r}) must be below halt_at_drawdown ({halt!r})"
            )
            raise ValueError(msg)
        for iid, limits in self.per_instrument.items():
            if not isinstance(limits, InstrumentLimits):
                msg = (
                    f"{owner}.per_instrument[{iid!r}] must be InstrumentLimits, "
                    f"got {type(limits).__name__}"
                )
                raise ValueError(msg)

    def limits_for(self, instrument_id: str) -> InstrumentLimits:
        """Return the limits that apply to ``instrument_id``: its own, else the defaults."""
        own = self.per_instrument.get(instrument_id, InstrumentLimits())

        def pick(name: str) -> float | None:
            value: float | None = getattr(own, name)
            return getattr(self, name) if value is None else value

        return InstrumentLimits(
            max_order_quantity=pick("max_order_quantity"),
            max_order_notional=pick("max_order_notional"),
            max_position=pick("max_position"),
            max_concentration=pick("max_concentration"),
            price_band_pct=pick("price_band_pct"),
        )
