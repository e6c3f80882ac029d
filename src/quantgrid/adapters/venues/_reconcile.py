"""Reconciliation: what the node thinks is working and held, against what the venue has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from quantgrid.adapters.venues._port import VenueOrder, VenuePosition
from quantgrid.model import Instrument, Order


@dataclass(frozen=True, slots=True)
class FillDifference:
    """An order working at both ends whose filled quantities differ."""

    client_order_id: str
    node_filled: float
    venue_filled: float


@dataclass(frozen=True, slots=True)
class PositionDifference:
    """An instrument whose position differs (signed quantities; 0 when one side has none)."""

    instrument_id: str
    symbol: str
    node_quantity: float
    venue_quantity: float


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """The differences between the node and the venue; nothing was changed.

    Attributes
    ----------
    unknown_orders
        Working at the venue, not at the node (placed by hand, by another program, or
        a cancel the node completed at a restart that never reached the venue).
    missing_orders
        Working at the node, not at the venue (ended there unseen: a fill or cancel
        the next poll reports, or an order the venue never got).
    fill_differences
        Working at both, with other filled quantities (fills the node has not seen).
    position_differences
        Instruments whose position differs.
    matched
        Orders working at both with the same filled quantity.
    """

    venue: str
    unknown_orders: tuple[VenueOrder, ...] = ()
    missing_orders: tuple[str, ...] = ()
    fill_differences: tuple[FillDifference, ...] = ()
    position_differences: tuple[PositionDifference, ...] = ()
    matched: int = 0

    @property
    def clean(self) -> bool:
        """Tell whether the node and the venue agree."""
        return not (
            self.unknown_orders
            or self.missing_orders
            or self.fill_differences
            or self.position_differences
        )

    def lines(self) -> list[str]:
        """Return one line per difference, for a log or a console."""
        venue = self.venue
        out = [
            f"order {o.client_order_id or o.venue_order_id} ({o.symbol}) works at {venue}, "
            "not at the node"
            for o in self.unknown_orders
        ]
        out += [f"order {oid} works at the node, not at {venue}" for oid in self.missing_orders]
        out += [
            f"order {d.client_order_id} filled {d.node_filled:g} at the node, "
            f"{d.venue_filled:g} at {venue}"
            for d in self.fill_differences
        ]
        out += [
            f"position {d.instrument_id}: {d.node_quantity:g} at the node, "
            f"{d.venue_quantity:g} at {venue} ({d.symbol})"
            for d in self.position_differences
        ]
        return out


def compare_with_venue(
    venue: str,
    *,
    orders: Sequence[Order],
    positions: Mapping[str, float],
    venue_orders: Sequence[VenueOrder],
    venue_positions: Sequence[VenuePosition],
    symbols: Mapping[str, str],
    instruments: Mapping[str, Instrument],
) -> ReconcileReport:
    """Return the differences between the node's orders and positions and the venue's.

    Orders are matched by client order id. Positions are compared for every
    instrument of ``symbols`` (instrument id to venue symbol), to within half a lot.
    """
    working = {o.client_order_id: o for o in orders if o.is_open}
    at_venue = {o.client_order_id: o for o in venue_orders if o.status.is_open}
    unknown = tuple(o for cid, o in sorted(at_venue.items()) if cid not in working)
    missing = tuple(sorted(cid for cid in working if cid not in at_venue))
    fills: list[FillDifference] = []
    matched = 0
    for cid in sorted(working.keys() & at_venue.keys()):
        node_filled = working[cid].filled_qty
        venue_filled = float(at_venue[cid].filled_qty)
        instrument = instruments.get(working[cid].instrument_id)
        lot = instrument.size_increment if instrument is not None else 0.0
        if abs(node_filled - venue_filled) > lot / 2:
            fills.append(FillDifference(cid, node_filled, venue_filled))
        else:
            matched += 1
    held: dict[str, Decimal] = {}
    for position in venue_positions:
        held[position.symbol] = held.get(position.symbol, Decimal(0)) + position.quantity
    differences = []
    for iid, symbol in sorted(symbols.items()):
        node_qty = float(positions.get(iid, 0.0))
        venue_qty = float(held.get(symbol, Decimal(0)))
        instrument = instruments.get(iid)
        lot = instrument.size_increment if instrument is not None else 0.0
        if abs(node_qty - venue_qty) > lot / 2:
            differences.append(PositionDifference(iid, symbol, node_qty, venue_qty))
    return ReconcileReport(
        venue=venue,
        unknown_orders=unknown,
        missing_orders=missing,
        fill_differences=tuple(fills),
        position_differences=tuple(differences),
        matched=matched,
    )
