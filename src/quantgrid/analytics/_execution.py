"""Execution quality (capability EX-3): how well one decision to trade was worked.

A *parent execution* is one decision to trade ``target_quantity`` of an instrument,
made at ``ts_arrival`` when the mid was ``arrival_price`` and worked by child orders
until ``ts_end``, when the mid was ``end_price``. Its fills are the ``OrderFilled``
events of those child orders. :func:`execution_report` measures it;
:func:`summarize_executions` aggregates many.

Conventions
-----------
Signs
    Every cost is **positive when it costs the trader** and negative when it gains, for
    buys and sells alike. ``s`` below is the side's sign: +1 for a buy, -1 for a sell.
Units
    Amounts (``fees``, ``*_cost``, ``implementation_shortfall``, ``*_notional``) are in
    the instrument's quote currency: ``quantity * price * multiplier``. Commissions are
    taken as charged in that currency too; a negative commission is a rebate. Basis
    points are 1e-4 of the notional named in each definition.
Per parent (``q``, ``p``: the fills' quantities and prices; ``Q`` the target; ``m`` the
multiplier; ``a`` the arrival price; ``e`` the end price)
    ``filled_quantity`` = ``Σq``; ``fill_rate`` = ``Σq / Q``.
    ``avg_fill_price`` = ``Σqp / Σq``.
    ``slippage_bps`` = ``s * (avg_fill_price - a) / a * 1e4``.
    ``execution_cost`` = ``s * Σq(p - a) * m``, the cost of the filled part against
    arrival; ``slippage_bps`` is it over the filled quantity's notional at arrival.
    ``fees`` = sum of the fills' commissions; ``fees_bps`` = ``fees / filled_notional``
    with ``filled_notional`` = ``Σqp * m``.
    ``opportunity_cost`` = ``s * (Q - Σq) * (e - a) * m``: the move against the trader
    of the part left unfilled, valued at the end price.
    ``total_cost`` = ``execution_cost + fees``: the cost of what was traded, the figure
    to compare with a benchmark.
    ``implementation_shortfall`` = ``total_cost + opportunity_cost`` (Perold, 1988):
    the paper portfolio (all of ``Q`` at ``a``, no fees) minus the real one, both marked
    at ``e``. ``implementation_shortfall_bps`` is over ``target_notional`` = ``Q * a * m``.
    ``vwap_benchmark_price`` = ``Σ price * size / Σ size`` of the market prints with
    ``ts_arrival <= ts <= ts_end`` (both ends included, so an execution that starts and
    ends at one instant is benchmarked against the prints of that instant);
    ``slippage_vs_vwap_bps`` = ``s * (avg_fill_price - vwap) / vwap * 1e4``.
    ``maker_quantity_ratio`` = maker ``Σq / Σq``; ``maker_fill_ratio`` = maker fills over
    fills, by count.
    With no fills every price, ratio and bps figure of the filled part is NaN (the
    fill rate is 0), ``execution_cost`` and ``fees`` are 0 and the shortfall is all
    opportunity cost. Without prints in the interval (or without ``market_trades``) the
    VWAP figures are NaN.
Own fills and the VWAP
    The benchmark is the VWAP of ``market_trades`` exactly as given: the parent's fills
    are neither added to it nor removed from it. A venue's tape includes the trader's
    own prints, which pull the VWAP towards the trader's prices; pass the tape without
    them for a market-ex-self benchmark (only the caller can tell them apart).
Aggregates (:func:`summarize_executions`)
    Amounts and counts are summed. Every ratio is the ratio of the sums, which is a
    weighted mean of the parents' figures: ``slippage_bps`` weights by the filled
    quantity's notional at arrival (``Σq * a * m``), ``slippage_vs_vwap_bps`` by the
    filled notional at the VWAP (parents with a VWAP and fills only), ``fees_bps`` by
    ``filled_notional``, ``implementation_shortfall_bps`` and ``fill_rate`` by
    ``target_notional``, ``maker_quantity_ratio`` by the filled notional at arrival, and
    ``maker_fill_ratio`` by the number of fills. Weighting by notional rather than
    summing quantities keeps the aggregates meaningful across instruments; for parents
    of one instrument decided at one price they are the quantity-weighted figures.
    The summary of a single report reproduces the report's figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from quantgrid.core import NANOS_PER_SECOND
from quantgrid.model import LiquiditySide, OrderFilled, OrderSide

_BPS = 1e4
# Fills may total the target up to float noise (a quantity split into thirds, say).
_OVERFILL_TOLERANCE = 1e-9


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _is_timestamp(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentExecution:
    """One decision to trade and the fills of the child orders that worked it.

    Parameters
    ----------
    parent_id
        Identifier of the decision (the parent order or algo instance).
    instrument_id
        The instrument traded; every fill must be of it.
    side
        Which way the decision trades; every fill must be on this side.
    target_quantity
        Quantity decided on, > 0.
    arrival_price
        Mid price when the decision was made, > 0: the benchmark of every cost.
    ts_arrival
        When the decision was made, UTC nanoseconds.
    ts_end
        When working stopped (completed, cancelled or expired), ``>= ts_arrival``.
    end_price
        Mid price at ``ts_end``, > 0; values the unfilled part.
    fills
        The child orders' ``OrderFilled`` events, possibly none. Stored as a tuple.
    multiplier
        Contract multiplier, > 0: one unit is worth ``price * multiplier``.

    Raises
    ------
    ValueError
        If a field breaks its rule; the message names the field (and the fill's index)
        and the rule.

    Notes
    -----
    Each fill must have ``last_qty > 0``, a finite ``last_px > 0``, a finite
    commission, ``ts_arrival <= ts_event <= ts_end``, the parent's instrument and side,
    and the currency of the other fills; a non-empty ``(client_order_id, trade_id)``
    must not repeat (a redelivered event would count twice). The fills must not total
    more than ``target_quantity`` (beyond a relative 1e-9 of float noise).
    """

    parent_id: str
    instrument_id: str
    side: OrderSide
    target_quantity: float
    arrival_price: float
    ts_arrival: int
    ts_end: int
    end_price: float
    fills: Sequence[OrderFilled] = field(default=())
    multiplier: float = 1.0

    def __post_init__(self) -> None:
        def fail(name: str, rule: str, value: object) -> NoReturn:
            msg = f"ParentExecution.{name} {rule}, got {value!r}"
            raise ValueError(msg)

        if not isinstance(self.parent_id, str) or not self.parent_id:
            fail("parent_id", "must be a non-empty string", self.parent_id)
        if not isinstance(self.instrument_id, str) or not self.instrument_id:
            fail("instrument_id", "must be a non-empty string", self.instrument_id)
        if not isinstance(self.side, OrderSide):
            fail("side", "must be an OrderSide", self.side)
        for name in ("target_quantity", "arrival_price", "end_price", "multiplier"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value) and value > 0):
                fail(name, "must be a finite number > 0", value)
        for name in ("ts_arrival", "ts_end"):
            if not _is_timestamp(getattr(self, name)):
                fail(name, "must be an integer timestamp in nanoseconds", getattr(self, name))
        if self.ts_end < self.ts_arrival:
            fail("ts_end", f"must be >= ts_arrival ({self.ts_arrival})", self.ts_end)
        if isinstance(self.fills, str | bytes) or not isinstance(self.fills, Sequence):
            fail("fills", "must be a sequence of OrderFilled", self.fills)
        fills = tuple(self.fills)
        object.__setattr__(self, "fills", fills)
        self._check_fills(fills, fail)

    def _check_fills(
        self, fills: tuple[OrderFilled, ...], fail: Callable[[str, str, object], NoReturn]
    ) -> None:
        seen: set[tuple[str, str]] = set()
        total = 0.0
        for i, fill in enumerate(fills):
            name = f"fills[{i}]"
            if not isinstance(fill, OrderFilled):
                fail(name, "must be an OrderFilled", fill)
            if fill.instrument_id != self.instrument_id:
                fail(
                    f"{name}.instrument_id",
                    f"must be the parent's instrument {self.instrument_id!r}",
                    fill.instrument_id,
                )
            if fill.side is not self.side:
                fail(f"{name}.side", f"must be the parent's side {self.side.value}", fill.side)
            if not (
                _is_number(fill.last_qty) and math.isfinite(fill.last_qty) and fill.last_qty > 0
            ):
                fail(f"{name}.last_qty", "must be a finite number > 0", fill.last_qty)
            if not (_is_number(fill.last_px) and math.isfinite(fill.last_px) and fill.last_px > 0):
                fail(f"{name}.last_px", "must be a finite number > 0", fill.last_px)
            if not (_is_number(fill.commission) and math.isfinite(fill.commission)):
                fail(f"{name}.commission", "must be a finite number", fill.commission)
            if not self.ts_arrival <= fill.ts_event <= self.ts_end:
                fail(
                    f"{name}.ts_event",
                    f"must lie in [ts_arrival, ts_end] = [{self.ts_arrival}, {self.ts_end}]",
                    fill.ts_event,
                )
            if fill.currency != fills[0].currency:
                fail(
                    f"{name}.currency",
                    f"must be the currency of the other fills ({fills[0].currency!r})",
                    fill.currency,
                )
            key = (fill.client_order_id, fill.trade_id)
            if fill.trade_id:
                if key in seen:
                    fail(name, "must not repeat an earlier fill's (client_order_id, trade_id)", key)
                seen.add(key)
            total += fill.last_qty
        if total > self.target_quantity * (1.0 + _OVERFILL_TOLERANCE):
            fail(
                "fills",
                f"must not total more than target_quantity ({self.target_quantity!r})",
                total,
            )


def _to_json(value: object) -> object:
    if isinstance(value, OrderSide):
        return value.value
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    msg = f"cannot encode {value!r} for JSON"  # pragma: no cover - fields are typed
    raise TypeError(msg)  # pragma: no cover


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """The execution quality of one parent execution.

    Amounts are in the quote currency, costs positive when they cost the trader,
    undefined figures NaN (``None`` in :meth:`to_dict`).

    Notes
    -----
    The module docstring of ``quantgrid.analytics._execution`` defines every field.
    ``implementation_shortfall == execution_cost + fees + opportunity_cost`` and
    ``total_cost == execution_cost + fees``.
    """

    parent_id: str
    instrument_id: str
    side: OrderSide
    ts_arrival: int
    ts_end: int
    duration_s: float
    multiplier: float
    target_quantity: float
    filled_quantity: float
    fill_rate: float
    n_fills: int
    arrival_price: float
    avg_fill_price: float
    end_price: float
    vwap_benchmark_price: float
    target_notional: float
    filled_notional: float
    slippage_bps: float
    slippage_vs_vwap_bps: float
    fees: float
    fees_bps: float
    execution_cost: float
    opportunity_cost: float
    total_cost: float
    implementation_shortfall: float
    implementation_shortfall_bps: float
    maker_quantity: float
    maker_quantity_ratio: float
    n_maker_fills: int
    maker_fill_ratio: float

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict in field order.

        The side becomes its name (``"BUY"``), NaN and infinities become ``None``.
        """
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    """The execution quality of many parent executions together.

    Amounts are summed; ratios and bps are ratios of sums, i.e. weighted means of the
    parents' figures (weights in the module docstring). Undefined figures are NaN.

    Notes
    -----
    ``n_vwap_benchmarked`` counts the parents with fills and a VWAP benchmark: only
    they enter ``slippage_vs_vwap_bps``.
    """

    n_parents: int
    n_fills: int
    n_vwap_benchmarked: int
    target_notional: float
    filled_notional: float
    fill_rate: float
    slippage_bps: float
    slippage_vs_vwap_bps: float
    fees: float
    fees_bps: float
    execution_cost: float
    opportunity_cost: float
    total_cost: float
    implementation_shortfall: float
    implementation_shortfall_bps: float
    maker_quantity_ratio: float
    maker_fill_ratio: float

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict in field order (NaN becomes ``None``)."""
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _interval_vwap(
    market_trades: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    ts_start: int,
    ts_end: int,
) -> float:
    """Return the VWAP of the prints with ``ts_start <= ts <= ts_end`` (NaN if none).

    Parameters
    ----------
    market_trades
        ``(ts, price, size)``: equal-length 1-D arrays of int64 UTC nanoseconds, prices
        > 0 and sizes >= 0, in any order.
    ts_start, ts_end
        The interval, both ends included.

    Raises
    ------
    ValueError
        If the arrays differ in length or are not 1-D, or a price or size breaks its
        rule.
    """
    try:
        ts_raw, price_raw, size_raw = market_trades
    except (TypeError, ValueError):
        msg = "market_trades must be a (ts, price, size) tuple of arrays"
        raise ValueError(msg) from None
    ts = np.asarray(ts_raw, dtype=np.int64)
    price = np.asarray(price_raw, dtype=np.float64)
    size = np.asarray(size_raw, dtype=np.float64)
    if ts.ndim != 1 or price.shape != ts.shape or size.shape != ts.shape:
        msg = (
            "market_trades ts, price and size must be 1-D arrays of one length, got "
            f"shapes {ts.shape}, {price.shape}, {size.shape}"
        )
        raise ValueError(msg)
    for name, values, ok in (
        ("prices", price, np.isfinite(price) & (price > 0)),
        ("sizes", size, np.isfinite(size) & (size >= 0)),
    ):
        bad = np.flatnonzero(~ok)
        if len(bad):
            rule = "> 0" if name == "prices" else ">= 0"
            i = int(bad[0])
            msg = f"market_trades {name} must be finite and {rule}, got {float(values[i])!r} at {i}"
            raise ValueError(msg)
    inside = (ts >= ts_start) & (ts <= ts_end)
    volume = float(size[inside].sum())
    if volume == 0.0:
        return math.nan
    return float(np.dot(price[inside], size[inside])) / volume


def execution_report(
    parent: ParentExecution,
    market_trades: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike] | None = None,
) -> ExecutionReport:
    """Measure one parent execution against its arrival price and the interval VWAP.

    Parameters
    ----------
    parent
        The decision and its fills.
    market_trades
        The market's prints as ``(ts, price, size)``: equal-length 1-D arrays of int64
        UTC nanoseconds, prices > 0 and sizes >= 0, in any order. They give the VWAP
        benchmark over ``[ts_arrival, ts_end]``, both ends included; ``None`` leaves the
        VWAP figures NaN. Used as given: the parent's own fills are neither added to
        them nor removed from them.

    Returns
    -------
    ExecutionReport

    Raises
    ------
    ValueError
        If ``market_trades`` is malformed.

    Notes
    -----
    The module docstring defines every figure and its sign: positive is a cost.
    """
    n = len(parent.fills)
    qty = np.fromiter((f.last_qty for f in parent.fills), dtype=np.float64, count=n)
    px = np.fromiter((f.last_px for f in parent.fills), dtype=np.float64, count=n)
    commission = np.fromiter((f.commission for f in parent.fills), dtype=np.float64, count=n)
    maker = np.fromiter(
        (f.liquidity_side is LiquiditySide.MAKER for f in parent.fills), dtype=np.bool_, count=n
    )
    sign = parent.side.sign
    mult = parent.multiplier
    arrival = parent.arrival_price

    filled = float(qty.sum())
    traded_value = float(np.dot(qty, px))
    avg_px = traded_value / filled if n else math.nan
    # Per-fill differences from arrival, not avg - arrival: no cancellation in a big sum.
    execution_cost = sign * float(np.dot(qty, px - arrival)) * mult
    fees = float(commission.sum())
    unfilled = max(parent.target_quantity - filled, 0.0)
    opportunity_cost = sign * unfilled * (parent.end_price - arrival) * mult
    total_cost = execution_cost + fees
    shortfall = total_cost + opportunity_cost
    target_notional = parent.target_quantity * arrival * mult
    filled_notional = traded_value * mult

    vwap = math.nan
    if market_trades is not None:
        vwap = _interval_vwap(market_trades, parent.ts_arrival, parent.ts_end)
    maker_qty = float(qty[maker].sum())
    n_maker = int(maker.sum())

    return ExecutionReport(
        parent_id=parent.parent_id,
        instrument_id=parent.instrument_id,
        side=parent.side,
        ts_arrival=int(parent.ts_arrival),
        ts_end=int(parent.ts_end),
        duration_s=(int(parent.ts_end) - int(parent.ts_arrival)) / NANOS_PER_SECOND,
        multiplier=float(mult),
        target_quantity=float(parent.target_quantity),
        filled_quantity=filled,
        fill_rate=filled / parent.target_quantity,
        n_fills=n,
        arrival_price=float(arrival),
        avg_fill_price=avg_px,
        end_price=float(parent.end_price),
        vwap_benchmark_price=vwap,
        target_notional=target_notional,
        filled_notional=filled_notional,
        slippage_bps=sign * (avg_px - arrival) / arrival * _BPS,
        slippage_vs_vwap_bps=sign * (avg_px - vwap) / vwap * _BPS,
        fees=fees,
        fees_bps=_ratio(fees, filled_notional) * _BPS,
        execution_cost=execution_cost,
        opportunity_cost=opportunity_cost,
        total_cost=total_cost,
        implementation_shortfall=shortfall,
        implementation_shortfall_bps=shortfall / target_notional * _BPS,
        maker_quantity=maker_qty,
        maker_quantity_ratio=_ratio(maker_qty, filled),
        n_maker_fills=n_maker,
        maker_fill_ratio=_ratio(n_maker, n),
    )


def summarize_executions(reports: Iterable[ExecutionReport]) -> ExecutionSummary:
    """Aggregate execution reports, weighting every ratio by the right notional.

    Parameters
    ----------
    reports
        Reports of parents whose amounts are in one currency.

    Returns
    -------
    ExecutionSummary
        With no reports: counts and amounts 0, ratios NaN.

    Raises
    ------
    TypeError
        If an element is not an :class:`ExecutionReport`.

    Notes
    -----
    Ratios are ratios of sums (see the module docstring), so the summary of one report
    reproduces its figures and the cost figures add up across parents.
    """
    rows = list(reports)
    for i, report in enumerate(rows):
        if not isinstance(report, ExecutionReport):
            msg = f"reports[{i}] must be an ExecutionReport, got {type(report).__name__}"
            raise TypeError(msg)

    def column(name: str) -> npt.NDArray[np.float64]:
        return np.fromiter((getattr(r, name) for r in rows), dtype=np.float64, count=len(rows))

    sign = np.fromiter((r.side.sign for r in rows), dtype=np.float64, count=len(rows))
    filled = column("filled_quantity")
    mult = column("multiplier")
    avg_px = column("avg_fill_price")
    vwap = column("vwap_benchmark_price")
    n_fills = column("n_fills")
    # The filled quantity's notional at arrival: the slippage and maker weights.
    filled_at_arrival = filled * column("arrival_price") * mult
    execution_cost = float(column("execution_cost").sum())
    fees = float(column("fees").sum())
    opportunity_cost = float(column("opportunity_cost").sum())
    target_notional = float(column("target_notional").sum())
    filled_notional = float(column("filled_notional").sum())
    maker_at_arrival = float(np.dot(column("maker_quantity") * mult, column("arrival_price")))

    benchmarked = (n_fills > 0) & np.isfinite(vwap)
    units = filled[benchmarked] * mult[benchmarked]
    vwap_b = vwap[benchmarked]
    vwap_cost = float(np.dot(sign[benchmarked] * units, avg_px[benchmarked] - vwap_b))
    vwap_notional = float(np.dot(units, vwap_b))

    total_cost = execution_cost + fees
    shortfall = total_cost + opportunity_cost
    return ExecutionSummary(
        n_parents=len(rows),
        n_fills=int(n_fills.sum()),
        n_vwap_benchmarked=int(benchmarked.sum()),
        target_notional=target_notional,
        filled_notional=filled_notional,
        fill_rate=_ratio(float(filled_at_arrival.sum()), target_notional),
        slippage_bps=_ratio(execution_cost, float(filled_at_arrival.sum())) * _BPS,
        slippage_vs_vwap_bps=_ratio(vwap_cost, vwap_notional) * _BPS,
        fees=fees,
        fees_bps=_ratio(fees, filled_notional) * _BPS,
        execution_cost=execution_cost,
        opportunity_cost=opportunity_cost,
        total_cost=total_cost,
        implementation_shortfall=shortfall,
        implementation_shortfall_bps=_ratio(shortfall, target_notional) * _BPS,
        maker_quantity_ratio=_ratio(maker_at_arrival, float(filled_at_arrival.sum())),
        maker_fill_ratio=_ratio(float(column("n_maker_fills").sum()), float(n_fills.sum())),
    )
