"""Parameters of the built-in execution algorithms: typed, validated, immutable.

Every algorithm declares a pydantic model; a parent order's ``params`` mapping is
checked against it when the parent is built (for the built-in names) and again by the
engine before the algorithm starts. Unknown names are refused, so a typo never falls
back silently to a default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quantgrid.core import NANOS_PER_SECOND

OnDeadline = Literal["cross", "cancel"]
"""What happens to the unfilled rest at the deadline: cross the spread, or leave it."""
OnSliceEnd = Literal["cross", "carry"]
"""What happens to a slice's unfilled rest at its end: cross it, or add it to the next."""
RepriceMethod = Literal["amend", "replace"]
"""How a resting child follows the touch: amend it in place, or cancel and replace it."""

P = TypeVar("P", bound="AlgorithmParams")


class AlgorithmParameterError(ValueError):
    """An algorithm parameter broke a rule; the message names the parameter and the rule.

    ``problems`` pairs each parameter name (``None`` for a rule over several
    parameters) with the rule it broke.
    """

    def __init__(self, algorithm: str, problems: list[tuple[str | None, str]]) -> None:
        self.algorithm = algorithm
        self.problems = problems
        lines = "; ".join(
            f"parameter {name!r}: {rule}" if name else rule for name, rule in problems
        )
        super().__init__(f"{algorithm}: invalid parameters: {lines}")


class AlgorithmParams(BaseModel):
    """Base of every algorithm's parameters: typed, validated, immutable, no unknown names."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def parse_params(algorithm: str, model: type[P], params: Mapping[str, Any] | P | None) -> P:
    """Validate ``params`` against ``model``, raising ``AlgorithmParameterError``."""
    if isinstance(params, model):
        return params
    if isinstance(params, AlgorithmParams):
        params = params.model_dump()
    if params is not None and not isinstance(params, Mapping):
        raise AlgorithmParameterError(
            algorithm, [(None, f"params must be a mapping, got {type(params).__name__}")]
        )
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        problems: list[tuple[str | None, str]] = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or None
            rule = error["msg"].removeprefix("Value error, ")
            if name and error["type"] != "missing":
                rule += f" (got {error['input']!r})"
            problems.append((name, rule))
        raise AlgorithmParameterError(algorithm, problems) from None


class MarketParams(AlgorithmParams):
    """The ``market`` algorithm takes no parameters."""


class PassiveParams(AlgorithmParams):
    """How a resting post-only child is worked at the touch.

    Parameters
    ----------
    reprice_ticks
        Follow the touch once it has moved this many ticks away from the child's price
        (up for a buy, down for a sell).
    reprice_interval_ns
        Also bring the child back to the touch, in either direction, when it has not
        been priced for this long (``None``: only ``reprice_ticks``).
    reprice_method
        ``"amend"`` changes the child's price in place (``ModifyOrder``, one message,
        the child never leaves the book); ``"replace"`` cancels it and sends a new child
        once the cancel is confirmed (for venues without amends).
    improve_ticks
        Rest this many ticks inside the spread when it is wide enough to stay passive
        (0: join the touch).
    max_rejections
        Give up (cancel the parent) after this many children in a row were rejected,
        denied or cancelled by the venue without being asked.
    """

    reprice_ticks: int = Field(1, ge=1)
    reprice_interval_ns: int | None = Field(5 * NANOS_PER_SECOND, gt=0)
    reprice_method: RepriceMethod = "amend"
    improve_ticks: int = Field(0, ge=0)
    max_rejections: int = Field(20, ge=1)


class PostOnlyParams(PassiveParams):
    """Parameters of ``post_only``.

    ``on_deadline``: at the deadline (the parent's horizon) cross the spread for the rest
    (``"cross"``) or cancel it (``"cancel"``); ``None`` decides by urgency: cancel for
    LOW, cross for NORMAL and HIGH.
    """

    on_deadline: OnDeadline | None = None


class TwapParams(PassiveParams):
    """Parameters of ``twap``.

    ``slices``: number of equal time slices of the horizon. ``on_slice_end``: cross what
    a slice left unfilled, or carry it into the next slice; ``None`` decides by urgency
    (carry for LOW, cross otherwise). ``on_deadline``: as for ``post_only``, for what is
    left when the last slice ends.
    """

    slices: int = Field(10, ge=1, le=10_000)
    on_slice_end: OnSliceEnd | None = None
    on_deadline: OnDeadline | None = None


class VwapParams(PassiveParams):
    """Parameters of ``vwap``.

    ``profile``: relative volume expected in each of equal time slices of the horizon
    (weights >= 0, any scale). ``slices``: the number of slices; without a profile the
    default U-shaped profile is drawn with that many slices (10 if neither is given).
    ``on_slice_end`` and ``on_deadline`` as for ``twap``.
    """

    profile: tuple[float, ...] | None = None
    slices: int | None = Field(None, ge=1, le=10_000)
    on_slice_end: OnSliceEnd | None = None
    on_deadline: OnDeadline | None = None

    @model_validator(mode="after")
    def _check_profile(self) -> VwapParams:
        profile = self.profile
        if profile is None:
            return self
        if not profile:
            raise ValueError("profile must hold at least one weight")
        if len(profile) > 10_000:
            raise ValueError(f"profile may hold at most 10000 weights, got {len(profile)}")
        for i, weight in enumerate(profile):
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(f"profile weight {i} must be finite and >= 0, got {weight!r}")
        if not sum(profile) > 0:
            raise ValueError("profile weights must not all be 0")
        if self.slices is not None and self.slices != len(profile):
            raise ValueError(
                f"slices ({self.slices}) must equal the number of profile weights "
                f"({len(profile)}) when both are given"
            )
        return self


class IcebergParams(AlgorithmParams):
    """Parameters of ``iceberg``.

    Parameters
    ----------
    display_quantity
        Quantity shown at a time, a whole number of lots (checked against the
        instrument when the parent starts).
    display_jitter
        Draw each shown quantity uniformly within ``display_quantity * (1 ± jitter)``
        (whole lots, at least one), so the refills do not repeat one size.
    seed
        Seed of those draws; ``None`` derives one from the parent id (reproducible).
    post_only
        Send the shown children post-only (rejected rather than taking liquidity).
    on_deadline
        With a horizon on the parent: cancel the rest at the deadline, or cross it.
    max_rejections
        As for ``post_only``.
    """

    display_quantity: float = Field(gt=0, allow_inf_nan=False)
    display_jitter: float = Field(0.0, ge=0.0, lt=1.0)
    seed: int | None = Field(None, ge=0)
    post_only: bool = False
    on_deadline: OnDeadline = "cancel"
    max_rejections: int = Field(20, ge=1)


BUILTIN_PARAMS: dict[str, type[AlgorithmParams]] = {
    "iceberg": IcebergParams,
    "market": MarketParams,
    "post_only": PostOnlyParams,
    "twap": TwapParams,
    "vwap": VwapParams,
}
