"""Enumerations of the trading domain."""

from __future__ import annotations

from enum import Enum, IntEnum


class OrderSide(Enum):
    """Which way an order trades."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """Return +1 for a buy and -1 for a sell."""
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        """Return the other side."""
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(Enum):
    """How an order's price is determined."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(Enum):
    """How long an order stays working."""

    GTC = "GTC"  # good till cancelled
    IOC = "IOC"  # immediate or cancel: fill what can be filled at once, cancel the rest
    FOK = "FOK"  # fill or kill: fill completely at once, or cancel
    DAY = "DAY"  # expires at the end of the trading day (UTC midnight by default)


class OrderStatus(Enum):
    """Where an order is in its lifecycle."""

    # Members are singletons, so identity hashing is correct, and it is done in C: the
    # transition table is looked up several times per order.
    __hash__ = object.__hash__

    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TRIGGERED = "TRIGGERED"
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_UPDATE = "PENDING_UPDATE"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"

    @property
    def is_closed(self) -> bool:
        """Tell whether no further event can change the order."""
        return self in _CLOSED


_CLOSED = frozenset(
    {
        OrderStatus.DENIED,
        OrderStatus.REJECTED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }
)


class ContingencyType(Enum):
    """How an order depends on the other orders of its list."""

    NONE = "NONE"
    OTO = "OTO"  # one triggers other: the children are released when this order fills
    OCO = "OCO"  # one cancels other: a fill or cancel of one cancels the rest
    OUO = "OUO"  # one updates other: OCO, and a partial fill of one shrinks the rest


class LiquiditySide(Enum):
    """Whether a fill added liquidity (maker) or took it (taker)."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class Regime(IntEnum):
    """Market regime of an instrument at a bar."""

    TRENDING = 0
    RANGING = 1
    CHOPPY = 2
    CRISIS = 3
