"""The port of a real venue: what ``LiveVenue`` asks of a client, and what it gets back.

A client speaks one venue's API (``AlpacaClient``, ``CcxtClient``) and answers in these
venue-neutral records, with quantities and prices as ``Decimal`` (exact at the edge, as
the venue wrote them). Errors fall into three kinds, because each calls for a different
reaction from the bridge:

- ``VenueRejectedError``: the venue answered and refused; its reason is final.
- ``VenueBusyError``: the venue answered that it did not process the request (rate
  limited); the same request may be sent again after a pause.
- ``VenueUnreachableError``: no answer (a timeout, a dropped connection) or a server
  error: the request may or may not have taken effect. A submit in this state is
  looked up by its client order id, never sent again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Protocol

from quantgrid.model import LiquiditySide, OrderSide, OrderType, TimeInForce


class VenueError(Exception):
    """A venue request failed; the subclass tells whether it took effect."""


class VenueRejectedError(VenueError):
    """The venue refused the request; ``reason`` is its message, verbatim."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DuplicateClientOrderIdError(VenueRejectedError):
    """The venue refused a new order because it has one with this client order id."""


class VenueBusyError(VenueError):
    """The venue did not process the request (rate limited): it can be sent again."""


class VenueUnreachableError(VenueError):
    """No usable answer (timeout, connection lost, server error): the outcome is unknown."""


class VenueOrderStatus(Enum):
    """Where an order is at the venue, in the venue-neutral terms the bridge acts on."""

    OPEN = "OPEN"  # working: new, accepted, partially filled, pending at the venue
    PENDING_CANCEL = "PENDING_CANCEL"  # working until the venue confirms the cancel
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        """Tell whether the order can still fill at the venue."""
        return self in (VenueOrderStatus.OPEN, VenueOrderStatus.PENDING_CANCEL)


@dataclass(frozen=True, slots=True)
class VenueCapabilities:
    """What a venue takes: orders outside these are refused before any request.

    Parameters
    ----------
    order_types
        The order types the venue takes.
    time_in_force
        The times in force the venue takes.
    post_only
        Whether a limit order can be post-only.
    reduce_only
        Whether an order can be reduce-only.
    fractional_time_in_force
        The times in force a quantity that is not a whole number may have (all of
        ``time_in_force`` when fractions are not restricted).
    client_order_id
        The client order ids the venue takes.
    """

    order_types: frozenset[OrderType]
    time_in_force: frozenset[TimeInForce]
    post_only: bool
    reduce_only: bool
    fractional_time_in_force: frozenset[TimeInForce]
    client_order_id: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class VenueOrderRequest:
    """A new order as the venue gets it: rounded to the instrument's increments."""

    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    time_in_force: TimeInForce
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    post_only: bool = False


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it.

    ``reason`` carries the venue's word on why the order ended, when it gives one.
    ``created_ns`` is the venue's time of the order (0 if it gave none).
    """

    venue_order_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    filled_qty: Decimal
    status: VenueOrderStatus
    avg_price: Decimal | None = None
    reason: str = ""
    created_ns: int = 0


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One trade of an order at the venue.

    ``trade_id`` is unique at the venue; ``commission`` is in the instrument's quote
    currency (the client converts or reports what it cannot). ``liquidity_side`` is
    ``None`` when the venue does not say.
    """

    trade_id: str
    venue_order_id: str
    quantity: Decimal
    price: Decimal
    commission: Decimal = Decimal(0)
    liquidity_side: LiquiditySide | None = None
    ts_ns: int = 0


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """What the venue holds of a symbol; ``quantity`` is signed (negative: short)."""

    symbol: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What names an order at a venue: ids and the symbol (some venues need it)."""

    client_order_id: str
    symbol: str
    venue_order_id: str = ""
    created_ns: int = 0


class VenueClient(Protocol):
    """A real venue's API, as ``LiveVenue`` uses it.

    Every method may raise ``VenueRejectedError``, ``VenueBusyError`` or
    ``VenueUnreachableError``; no method retries on its own (the bridge decides).
    """

    @property
    def name(self) -> str:
        """Return the venue's name, used in trade ids (``ALPACA``, ``BINANCE``)."""
        ...

    @property
    def capabilities(self) -> VenueCapabilities:
        """Return what the venue takes."""
        ...

    async def check(self) -> str:
        """Reach the venue with the credentials; return a one-line account summary."""
        ...

    async def submit_order(self, request: VenueOrderRequest) -> VenueOrder:
        """Place a new order, sending its client order id.

        Raises
        ------
        DuplicateClientOrderIdError
            If the venue has an order with this client order id already.
        """
        ...

    async def find_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        """Return the order with this client order id, or ``None`` if the venue has none."""
        ...

    async def get_order(self, ref: OrderRef) -> VenueOrder:
        """Return an order the venue has accepted."""
        ...

    async def cancel_order(self, ref: OrderRef) -> VenueOrder | None:
        """Ask for an order's cancel; return the order if the venue's answer holds it."""
        ...

    async def order_fills(self, ref: OrderRef) -> list[VenueFill]:
        """Return every fill of an order, oldest first."""
        ...

    async def open_orders(self, symbols: list[str]) -> list[VenueOrder]:
        """Return the working orders of these symbols (of the account, if the venue
        lists all at once)."""
        ...

    async def positions(self, symbols: list[str]) -> list[VenuePosition]:
        """Return what the account holds of these symbols."""
        ...

    async def close(self) -> None:
        """Release the client's connections."""
        ...
