"""The router: which algorithm works a parent order, by its notional and urgency."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, NoReturn

from quantgrid.core import NANOS_PER_SECOND
from quantgrid.execution.algorithms._messages import ParentOrder, Urgency

_MINUTE = 60 * NANOS_PER_SECOND
_SCHEDULES = ("twap", "vwap")


def _default_horizons() -> Mapping[Urgency, int]:
    return {Urgency.LOW: 30 * _MINUTE, Urgency.NORMAL: 10 * _MINUTE, Urgency.HIGH: 3 * _MINUTE}


def _default_deadlines() -> Mapping[Urgency, int]:
    return {
        Urgency.LOW: 5 * _MINUTE,
        Urgency.NORMAL: 1 * _MINUTE,
        Urgency.HIGH: 20 * NANOS_PER_SECOND,
    }


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """Thresholds and default horizons of the router.

    Parameters
    ----------
    market_below
        A parent whose notional (mid x quantity x multiplier, in the instrument's
        currency) is below this goes to ``market``.
    post_only_up_to
        Up to this notional (inclusive) it goes to ``post_only``; above, to ``schedule``.
    schedule
        The scheduled algorithm for the largest parents: ``"twap"`` or ``"vwap"``.
    horizons_ns
        Default horizon of a schedule (``twap``, ``vwap``, or any algorithm not named
        below), per urgency.
    deadlines_ns
        Default deadline of ``post_only``, per urgency.
    slice_interval_ns
        A schedule the router chooses gets one slice per this much of its horizon (at
        least one).

    Raises
    ------
    ValueError
        If a field breaks its rule; the message names the field and the rule.

    Notes
    -----
    ``market`` and ``iceberg`` have no default horizon. The horizon mappings must name
    every urgency; they are kept read-only.
    """

    market_below: float = 1_000.0
    post_only_up_to: float = 5_000.0
    schedule: str = "twap"
    horizons_ns: Mapping[Urgency, int] = field(default_factory=_default_horizons)
    deadlines_ns: Mapping[Urgency, int] = field(default_factory=_default_deadlines)
    slice_interval_ns: int = _MINUTE

    def __post_init__(self) -> None:
        def fail(name: str, rule: str, value: object) -> NoReturn:
            msg = f"RouterConfig.{name} {rule}, got {value!r}"
            raise ValueError(msg)

        for name in ("market_below", "post_only_up_to"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                fail(name, "must be a finite notional >= 0", value)
        if self.post_only_up_to < self.market_below:
            fail(
                "post_only_up_to",
                f"must be >= market_below ({self.market_below:g})",
                self.post_only_up_to,
            )
        if self.schedule not in _SCHEDULES:
            fail("schedule", "must be 'twap' or 'vwap'", self.schedule)
        for name in ("horizons_ns", "deadlines_ns"):
            mapping = getattr(self, name)
            if not isinstance(mapping, Mapping):
                fail(name, "must map every Urgency to nanoseconds", mapping)
            missing = [u.value for u in Urgency if u not in mapping]
            if missing:
                fail(name, f"must name every urgency (missing {', '.join(missing)})", mapping)
            for urgency, value in mapping.items():
                if not isinstance(urgency, Urgency):
                    fail(name, "must be keyed by Urgency", urgency)
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    fail(f"{name}[{urgency.value}]", "must be whole nanoseconds > 0", value)
            object.__setattr__(self, name, MappingProxyType(dict(mapping)))
        interval = self.slice_interval_ns
        if isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0:
            fail("slice_interval_ns", "must be whole nanoseconds > 0", interval)

    def horizon_for(self, algorithm: str, urgency: Urgency) -> int | None:
        """Return the default horizon of ``algorithm`` at ``urgency`` (``None``: none)."""
        if algorithm in ("market", "iceberg"):
            return None
        if algorithm == "post_only":
            return self.deadlines_ns[urgency]
        return self.horizons_ns[urgency]


class Route(NamedTuple):
    """The router's choice: the algorithm's name and its parameters."""

    algorithm: str
    params: dict[str, Any]


class Router:
    """Chooses the algorithm of a parent order from its notional and urgency.

    By notional: below ``market_below`` a market order, up to ``post_only_up_to`` a
    post-only limit, above a schedule (TWAP by default). HIGH urgency moves one step
    towards market, LOW one step towards the schedule (never past either end). The
    parameters set are the horizon-dependent ones: the slice count of a schedule (one
    per ``slice_interval_ns`` of the horizon) and what a post-only does at its deadline
    (cancel for LOW urgency, cross otherwise).
    """

    LADDER = ("market", "post_only", "schedule")

    def __init__(self, config: RouterConfig | None = None) -> None:
        self.config = config or RouterConfig()

    @staticmethod
    def notional(parent: ParentOrder, mid: float, multiplier: float = 1.0) -> float:
        """Return the parent's notional at ``mid``, in the instrument's currency."""
        return mid * parent.quantity * multiplier

    def choose(self, parent: ParentOrder, mid: float, multiplier: float = 1.0) -> Route:
        """Return the algorithm and parameters for ``parent`` when the mid is ``mid``.

        Routes by notional and urgency whatever ``parent.algorithm`` says: the engine
        asks only for parents that leave the choice to the router.

        Raises
        ------
        ValueError
            If ``mid`` or ``multiplier`` is not a positive finite number.
        """
        for name, value in (("mid", mid), ("multiplier", multiplier)):
            if not (math.isfinite(value) and value > 0):
                msg = f"Router.choose: {name} must be a positive finite number, got {value!r}"
                raise ValueError(msg)
        config = self.config
        notional = self.notional(parent, mid, multiplier)
        if notional < config.market_below:
            step = 0
        elif notional <= config.post_only_up_to:
            step = 1
        else:
            step = 2
        if parent.urgency is Urgency.HIGH:
            step = max(0, step - 1)
        elif parent.urgency is Urgency.LOW:
            step = min(2, step + 1)
        if step == 0:
            return Route("market", {})
        if step == 1:
            on_deadline = "cancel" if parent.urgency is Urgency.LOW else "cross"
            return Route("post_only", {"on_deadline": on_deadline})
        algorithm = config.schedule
        horizon = parent.horizon_ns or config.horizon_for(algorithm, parent.urgency) or 1
        slices = max(1, horizon // config.slice_interval_ns)
        return Route(algorithm, {"slices": int(slices)})
