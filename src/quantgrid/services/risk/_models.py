"""The risk service's request bodies and answers."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from quantgrid.model import Regime
from quantgrid.node import Denial, RiskDecision, RiskStatus
from quantgrid.risk import InstrumentLimits, RiskConfig, TradingState
from quantgrid.services.execution import ID_PATTERN

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Amount = Annotated[float, Field(gt=0, le=1e15, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Return = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]
Returns = Annotated[list[Return], Field(min_length=2, max_length=100_000)]
Row = Annotated[list[Return], Field(min_length=1, max_length=100)]
Matrix = Annotated[list[Row], Field(min_length=2, max_length=20_000)]
RegimeName = Literal["TRENDING", "RANGING", "CHOPPY", "CRISIS"]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class DenialOut(BaseModel):
    """Why an order is refused: the check, the figure that broke its limit, the text."""

    check: str = Field(description="One of quantgrid.risk.CHECK_ORDER: `max_position`.")
    value: float | None
    limit: float | None
    message: str
    reason: str

    @classmethod
    def of(cls, denial: Denial) -> DenialOut:
        """Return the answer of a node's denial."""
        return cls(
            check=denial.check,
            value=denial.value,
            limit=denial.limit,
            message=denial.message,
            reason=denial.reason,
        )


class ApprovalOut(BaseModel):
    """The outcome of a dry-run pre-trade check."""

    approved: bool
    state: TradingState
    denial: DenialOut | None

    @classmethod
    def of(cls, decision: RiskDecision) -> ApprovalOut:
        """Return the answer of a node's decision."""
        denial = None if decision.denial is None else DenialOut.of(decision.denial)
        return cls(approved=decision.approved, state=decision.state, denial=denial)


class InstrumentLimitsBody(BaseModel):
    """Limits of one instrument, overriding the account's defaults (``null``: keep)."""

    model_config = ConfigDict(extra="forbid")

    max_order_quantity: Amount | None = None
    max_order_notional: Amount | None = None
    max_position: Amount | None = None
    max_concentration: Fraction | None = None
    price_band_pct: Fraction | None = None

    def to_limits(self) -> InstrumentLimits:
        """Return the core's limits."""
        return InstrumentLimits(**self.model_dump())


class RiskLimits(BaseModel):
    """Every pre-trade limit and breaker of the account; ``null`` means unlimited.

    Fractions are of equity (``0.25`` is 25 %); ``price_band_pct`` a fraction of the
    last price; drawdowns fractions of the equity peak.
    """

    model_config = ConfigDict(extra="forbid")

    max_order_quantity: Amount | None = None
    max_order_notional: Amount | None = None
    max_position: Amount | None = None
    max_concentration: Fraction | None = None
    price_band_pct: Fraction | None = None
    max_gross_exposure: Amount | None = None
    max_net_exposure: Amount | None = None
    max_orders: Annotated[int, Field(ge=1, le=1_000_000_000)] | None = None
    order_window_ns: Annotated[int, Field(ge=1, le=2**62)] = 1_000_000_000
    reduce_at_drawdown: Fraction | None = None
    halt_at_drawdown: Fraction | None = None
    blocked_regimes: Annotated[list[RegimeName], Field(max_length=4)] = ["CHOPPY", "CRISIS"]
    per_instrument: Annotated[dict[Id, InstrumentLimitsBody], Field(max_length=1000)] = {}

    @model_validator(mode="after")
    def _reduce_below_halt(self) -> Self:
        reduce, halt = self.reduce_at_drawdown, self.halt_at_drawdown
        if reduce is not None and halt is not None and reduce >= halt:
            msg = f"reduce_at_drawdown ({reduce:g}) must be below halt_at_drawdown ({halt:g})"
            raise ValueError(msg)
        return self

    def to_config(self) -> RiskConfig:
        """Return the core's config."""
        values = self.model_dump(exclude={"blocked_regimes", "per_instrument"})
        return RiskConfig(
            **values,
            blocked_regimes=frozenset(int(Regime[name]) for name in self.blocked_regimes),
            per_instrument={k: v.to_limits() for k, v in self.per_instrument.items()},
        )

    @classmethod
    def of(cls, config: RiskConfig) -> RiskLimits:
        """Return the limits of a core config."""
        names: list[RegimeName] = [
            name
            for name in ("TRENDING", "RANGING", "CHOPPY", "CRISIS")
            if int(Regime[name]) in config.blocked_regimes
        ]
        per_instrument = {
            iid: InstrumentLimitsBody(
                max_order_quantity=limits.max_order_quantity,
                max_order_notional=limits.max_order_notional,
                max_position=limits.max_position,
                max_concentration=limits.max_concentration,
                price_band_pct=limits.price_band_pct,
            )
            for iid, limits in config.per_instrument.items()
        }
        return cls(
            max_order_quantity=config.max_order_quantity,
            max_order_notional=config.max_order_notional,
            max_position=config.max_position,
            max_concentration=config.max_concentration,
            price_band_pct=config.price_band_pct,
            max_gross_exposure=config.max_gross_exposure,
            max_net_exposure=config.max_net_exposure,
            max_orders=config.max_orders,
            order_window_ns=config.order_window_ns,
            reduce_at_drawdown=config.reduce_at_drawdown,
            halt_at_drawdown=config.halt_at_drawdown,
            blocked_regimes=names,
            per_instrument=per_instrument,
        )


class RiskStateOut(BaseModel):
    """The trading state, why it is so, and the drawdown the breaker measures."""

    state: TradingState
    reason: str
    equity: float
    equity_peak: float
    drawdown_pct: float
    denied_orders: int
    ts: int

    @classmethod
    def of(cls, status: RiskStatus) -> RiskStateOut:
        """Return the answer of a node's risk status."""
        return cls(
            state=status.state,
            reason=status.reason,
            equity=status.equity,
            equity_peak=status.equity_peak,
            drawdown_pct=status.drawdown_pct,
            denied_orders=status.denied_orders,
            ts=status.ts,
        )


class ReasonBody(BaseModel):
    """Why trading is halted, resumed or killed (kept with the state, with who did it)."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = "by hand"


class KillOut(BaseModel):
    """The state after the kill switch, and the orders it cancelled."""

    state: RiskStateOut
    canceled: list[str]


class VarBody(BaseModel):
    """Portfolio value at risk and expected shortfall.

    Give ``returns`` (the portfolio's periodic returns), or ``returns_matrix`` (``T x N``
    asset returns) with ``weights`` (equal if left out); with neither, the returns
    between the node's equity samples are used. Returns are fractions (``0.01`` is
    1 %). ``monte_carlo`` simulates ``n_paths`` paths (seeded by ``seed``).
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["historical", "parametric", "cornish_fisher", "monte_carlo"] = "historical"
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.99
    horizon: Annotated[int, Field(ge=1, le=250)] = 1
    returns: Returns | None = None
    returns_matrix: Matrix | None = None
    weights: Annotated[list[Weight], Field(min_length=1, max_length=100)] | None = None
    scaling: Literal["overlapping", "sqrt_time"] = "overlapping"
    n_paths: Annotated[int, Field(ge=100, le=200_000)] = 20_000
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None
    bootstrap: bool = False


class VarOut(BaseModel):
    """VaR and CVaR as loss fractions of equity, and in money at the current equity."""

    method: str
    confidence: float
    horizon: int
    source: Literal["returns", "returns_matrix", "equity_history"]
    observations: int
    var: float
    cvar: float
    equity: float
    var_amount: float
    cvar_amount: float


class CorrelationBody(BaseModel):
    """The correlation matrix of ``T x N`` asset returns.

    ``sample``: over all rows; ``rolling``: over the last ``window`` rows; ``ewma``:
    RiskMetrics exponential weights (``halflife`` or ``lam``; 0.94 by default), seeded
    by the first ``seed_window`` rows.
    """

    model_config = ConfigDict(extra="forbid")

    returns_matrix: Matrix
    labels: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = None
    method: Literal["sample", "rolling", "ewma"] = "sample"
    window: Annotated[int, Field(ge=2, le=20_000)] | None = None
    halflife: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)] | None = None
    lam: Annotated[float, Field(gt=0, lt=1)] | None = None
    seed_window: Annotated[int, Field(ge=2, le=20_000)] = 20


class CorrelationOut(BaseModel):
    """The matrix, row and column in ``labels`` order; ``null`` where undefined."""

    method: str
    observations: int
    labels: list[str]
    matrix: list[list[float | None]]


class KellyBody(BaseModel):
    """Kelly fraction of a repeated bet: win probability and payoff per unit lost."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["kelly"]
    win_rate: Annotated[float, Field(ge=0, le=1)]
    win_loss_ratio: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]
    cap: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None


class KellyReturnsBody(BaseModel):
    """Continuous Kelly leverage ``mean / variance`` of periodic returns."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["kelly_returns"]
    returns: Returns
    cap: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None


class VolTargetBody(BaseModel):
    """Units whose position hits a target annual volatility of equity.

    ``price`` defaults to the instrument's last price, ``equity`` to the account's;
    give ``asset_vol`` (annual) or ``asset_returns`` (periodic).
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["vol_target"]
    target_annual_vol: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
    instrument_id: Id | None = None
    price: Amount | None = None
    equity: Amount | None = None
    asset_vol: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None
    asset_returns: Returns | None = None
    periods_per_year: Annotated[int, Field(ge=1, le=1_000_000)] = 252


class PositionSizeOut(BaseModel):
    """A size: a fraction of equity (Kelly) or a number of units (volatility target)."""

    method: str
    fraction: float | None = None
    quantity: int | None = None
    price: float | None = None
    equity: float | None = None
    notional: float | None = None
