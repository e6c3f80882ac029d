"""Parent orders, the commands that start and stop them, and the events they publish.

A *parent order* is one decision to trade (buy 500 X within ten minutes, say); an
execution algorithm works it through *child orders* sent to the execution engine.
Messages are frozen msgspec Structs, like the order commands and events, so they can
cross a network bus unchanged.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, NoReturn

import msgspec

from quantgrid.analytics import ParentExecution
from quantgrid.execution.algorithms._params import BUILTIN_PARAMS, parse_params
from quantgrid.model import OrderFilled, OrderSide


class InvalidParentOrderError(ValueError):
    """A parent order's field breaks a rule; the message names the field and the rule."""


class Urgency(Enum):
    """How much the trader will pay to finish sooner.

    The router moves HIGH one step towards aggressive (market) and LOW one step towards
    passive (TWAP), and picks shorter horizons for higher urgency.
    """

    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"


class ParentOrder(msgspec.Struct, frozen=True):
    """One decision to trade, worked by an execution algorithm.

    Parameters
    ----------
    parent_id
        Unique id of the decision; child orders get the client ids
        ``f"{parent_id}-{n}"`` (n = 1, 2, ...) and the tag ``parent_id``.
    strategy_id
        The strategy the child orders belong to: its ``on_fill`` sees their fills.
    instrument_id, side
        What to trade and which way.
    quantity
        Total to trade, > 0; a whole number of lots of the instrument (checked when the
        engine receives the parent, which knows the instrument).
    urgency
        Used by the router to choose the algorithm and the default horizon, and by the
        passive algorithms to choose what happens at the deadline.
    algorithm
        Name of the algorithm (``market``, ``post_only``, ``twap``, ``vwap``,
        ``iceberg`` or one given to the engine); ``None`` lets the router choose.
    limit_price
        Never buy above / sell below this price (``None``: no limit). Rounded to the tick
        in the trader's favour (down for a buy, up for a sell) by the engine.
    horizon_ns
        Duration of a TWAP or VWAP schedule, deadline of ``post_only`` and ``iceberg``,
        in nanoseconds from the start; ``None`` takes the router's default for the
        algorithm and urgency (``iceberg`` then has no deadline).
    params
        Algorithm-specific parameters, validated by the algorithm (for the built-in
        names, already here). Only with an explicit ``algorithm``: the router sets the
        parameters of what it chooses.

    Raises
    ------
    InvalidParentOrderError
        If a field breaks its rule; the message names the parent, the field and the rule.
    AlgorithmParameterError
        If ``params`` do not suit the built-in ``algorithm`` named.
    """

    parent_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    quantity: float
    urgency: Urgency = Urgency.NORMAL
    algorithm: str | None = None
    limit_price: float | None = None
    horizon_ns: int | None = None
    params: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        def fail(name: str, rule: str, value: object) -> NoReturn:
            msg = f"ParentOrder {self.parent_id!r}: {name} {rule}, got {value!r}"
            raise InvalidParentOrderError(msg)

        for name in ("parent_id", "strategy_id", "instrument_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                fail(name, "must be a non-empty string", value)
        if not isinstance(self.side, OrderSide):
            fail("side", "must be an OrderSide", self.side)
        if not isinstance(self.urgency, Urgency):
            fail("urgency", "must be an Urgency", self.urgency)
        if not _positive(self.quantity):
            fail("quantity", "must be a positive finite number", self.quantity)
        if self.limit_price is not None and not _positive(self.limit_price):
            fail("limit_price", "must be a positive finite price or None", self.limit_price)
        horizon = self.horizon_ns
        if horizon is not None and (
            isinstance(horizon, bool) or not isinstance(horizon, int) or horizon <= 0
        ):
            fail("horizon_ns", "must be a whole number of nanoseconds > 0 or None", horizon)
        if self.algorithm is not None and (
            not isinstance(self.algorithm, str) or not self.algorithm.strip()
        ):
            fail("algorithm", "must be an algorithm name or None (the router chooses)", None)
        if not isinstance(self.params, dict) or not all(isinstance(k, str) for k in self.params):
            fail("params", "must be a dict with string keys", self.params)
        if self.algorithm is None and self.params:
            fail("params", "need an algorithm: the router sets the parameters it chooses", None)
        model = BUILTIN_PARAMS.get(self.algorithm or "")
        if model is not None:
            parse_params(self.algorithm or "", model, self.params)


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


class ExecuteParentOrder(msgspec.Struct, frozen=True):
    """Ask the algorithm engine to start working ``parent``."""

    parent: ParentOrder
    ts_init: int


class CancelParentOrder(msgspec.Struct, frozen=True):
    """Ask the algorithm engine to stop working a parent and cancel its open children."""

    parent_id: str
    ts_init: int


class ParentOrderEvent(msgspec.Struct, frozen=True):
    """What every parent order event carries."""

    parent_id: str
    strategy_id: str
    instrument_id: str
    ts_event: int


class ParentOrderRejected(ParentOrderEvent, frozen=True):
    """The engine refused the parent; nothing was sent. ``reason`` says why."""

    reason: str


class ParentOrderStarted(ParentOrderEvent, frozen=True):
    """The engine started working the parent.

    ``arrival_price`` is the mid of the latest quote when the parent arrived
    (``ts_arrival``), the benchmark of every execution cost; ``algorithm`` and
    ``params`` are what was asked for or what the router chose, and ``horizon_ns`` the
    horizon in force (``None``: none).
    """

    side: OrderSide
    quantity: float
    urgency: Urgency
    algorithm: str
    params: dict[str, Any]
    horizon_ns: int | None
    arrival_price: float
    arrival_bid: float
    arrival_ask: float
    ts_arrival: int


class ParentOrderEnded(ParentOrderEvent, frozen=True):
    """The parent stopped working: every child order had ended.

    ``fills`` are the children's fills in order; ``avg_px`` is their average price (0
    when nothing filled); ``end_price`` the mid of the latest quote at ``ts_event``.
    Together with the arrival fields they make a ``ParentExecution``
    (``parent_execution``).
    """

    side: OrderSide
    quantity: float
    filled_quantity: float
    avg_px: float
    algorithm: str
    child_order_ids: tuple[str, ...]
    arrival_price: float
    ts_arrival: int
    end_price: float
    reason: str
    fills: tuple[OrderFilled, ...]

    @property
    def leaves_quantity(self) -> float:
        """Return the quantity that was not filled."""
        return max(0.0, self.quantity - self.filled_quantity)


class ParentOrderCompleted(ParentOrderEnded, frozen=True):
    """The algorithm ran to its end.

    Either it filled the whole quantity (``reason`` ``"filled"``), or its own rules
    ended it with less: a deadline reached with ``on_deadline="cancel"``, a market order
    that found too little displayed liquidity. ``filled_quantity`` tells them apart.
    """


class ParentOrderCanceled(ParentOrderEnded, frozen=True):
    """The parent was stopped before its end: on request (``CancelParentOrder``), or
    because the algorithm could not go on (children rejected again and again)."""


_TOPICS: dict[type[ParentOrderEvent], str] = {
    ParentOrderRejected: "events.algo.rejected",
    ParentOrderStarted: "events.algo.started",
    ParentOrderCompleted: "events.algo.completed",
    ParentOrderCanceled: "events.algo.canceled",
}


def algo_event_topic(event: ParentOrderEvent) -> str:
    """Return the topic a parent order event is published on (``events.algo.<kind>``)."""
    return _TOPICS[type(event)]


def parent_execution(event: ParentOrderEnded, multiplier: float = 1.0) -> ParentExecution:
    """Return the ``ParentExecution`` that execution analytics measure for ``event``.

    Parameters
    ----------
    event
        A ``ParentOrderCompleted`` or ``ParentOrderCanceled``.
    multiplier
        The instrument's contract multiplier.
    """
    return ParentExecution(
        parent_id=event.parent_id,
        instrument_id=event.instrument_id,
        side=event.side,
        target_quantity=event.quantity,
        arrival_price=event.arrival_price,
        ts_arrival=event.ts_arrival,
        ts_end=event.ts_event,
        end_price=event.end_price,
        fills=event.fills,
        multiplier=multiplier,
    )
