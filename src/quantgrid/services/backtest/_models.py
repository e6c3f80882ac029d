"""What the backtest service is asked and answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantgrid.adapters.storage import BacktestJob
from quantgrid.risk import RiskConfig
from quantgrid.services.strategy import InstrumentId


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class SyntheticData(_Body):
    """The seeded synthetic market: same seed and shape, same bars."""

    kind: Literal["synthetic"]
    seed: int = Field(default=7, ge=0, le=2**32 - 1)
    bars: int = Field(default=5_000, ge=2, le=10_000_000, description="Bars per instrument.")
    instruments: list[InstrumentId] = Field(
        default_factory=lambda: ["SYN0"], min_length=1, max_length=16
    )
    bar_seconds: int = Field(default=60, ge=1, le=604_800)


class DataFile(_Body):
    """A CSV or Parquet bar file in the server's data directory."""

    path: str = Field(
        min_length=1,
        max_length=255,
        description="Relative to the data directory (`daily/AAPL.csv`); no `..`.",
    )
    instrument_id: InstrumentId | None = Field(
        default=None, description="Defaults to the file name without its suffix."
    )


class FileData(_Body):
    """Bar files from the server's data directory, one instrument each."""

    kind: Literal["file"]
    files: list[DataFile] = Field(min_length=1, max_length=16)


DataSource = Annotated[SyntheticData | FileData, Field(discriminator="kind")]


class RiskLimits(_Body):
    """Pre-trade limits and drawdown breakers; any of them sends orders through risk checks."""

    reduce_at_drawdown: float | None = Field(
        default=None, gt=0, le=1, description="From this drawdown only reducing orders pass."
    )
    halt_at_drawdown: float | None = Field(
        default=None, gt=0, le=1, description="At this drawdown trading halts."
    )
    max_position: float | None = Field(default=None, gt=0, description="Units per position.")
    max_order_quantity: float | None = Field(default=None, gt=0, description="Units per order.")
    max_order_notional: float | None = Field(default=None, gt=0, description="Value per order.")

    @model_validator(mode="after")
    def _reduce_before_halt(self) -> RiskLimits:
        reduce, halt = self.reduce_at_drawdown, self.halt_at_drawdown
        if reduce is not None and halt is not None and reduce >= halt:
            msg = f"reduce_at_drawdown ({reduce}) must be below halt_at_drawdown ({halt})"
            raise ValueError(msg)
        return self

    def to_config(self) -> RiskConfig:
        """Return the risk engine's configuration."""
        return RiskConfig(**self.model_dump())


class BacktestRequest(_Body):
    """A backtest to run: strategy, data, costs and limits."""

    strategy: str = Field(min_length=1, max_length=64, description="A registered strategy.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Its parameters; checked by the strategy's rules."
    )
    data: DataSource
    initial_cash: float = Field(default=100_000.0, gt=0, le=1e15)
    commission: float = Field(
        default=0.0, ge=0, lt=1, description="A fraction of traded value, each side."
    )
    spread_bps: float = Field(default=0.0, ge=0, lt=10_000, description="Bid-ask spread.")
    slippage_bps: float = Field(default=0.0, ge=0, lt=10_000)
    volume_cap: float | None = Field(
        default=None, gt=0, le=1, description="Most of a bar's volume one fill may take."
    )
    tick_size: float = Field(default=0.01, gt=0, le=1e6)
    lot_size: float = Field(default=1.0, gt=0, le=1e9)
    risk: RiskLimits | None = None


JobState = Literal["queued", "running", "done", "failed"]


class BacktestLinks(BaseModel):
    """Where a job's parts are."""

    self: str
    results: str
    report: str
    equity: str


class BacktestJobView(BaseModel):
    """A backtest job: what was asked, how far it got, what went wrong."""

    job_id: str
    status: JobState
    progress: float = Field(description="The fraction of bars run, 0 to 1.")
    strategy: str
    submitted_by: str | None
    request: dict[str, Any] = Field(description="The request, strategy defaults filled in.")
    error: str | None = Field(description="Why it failed, or that it was cancelled.")
    created_ns: int = Field(description="Nanoseconds since the epoch, UTC.")
    started_ns: int | None
    finished_ns: int | None
    links: BacktestLinks

    @classmethod
    def of(cls, job: BacktestJob) -> BacktestJobView:
        """Return the view of a stored job."""
        request = job.params.get("request")
        request = request if isinstance(request, dict) else {}
        submitted_by = job.params.get("submitted_by")
        base = f"/backtests/{job.job_id}"
        return cls(
            job_id=job.job_id,
            status=job.status.value,
            progress=job.progress,
            strategy=str(request.get("strategy", "")),
            submitted_by=submitted_by if isinstance(submitted_by, str) else None,
            request=request,
            error=job.error,
            created_ns=job.created_ns,
            started_ns=job.started_ns,
            finished_ns=job.finished_ns,
            links=BacktestLinks(
                self=base,
                results=f"{base}/results",
                report=f"{base}/report",
                equity=f"{base}/equity",
            ),
        )


class BacktestJobPage(BaseModel):
    """One page of jobs, oldest first; pass ``next_cursor`` back as ``after``."""

    items: list[BacktestJobView]
    next_cursor: str | None


class BacktestResults(BaseModel):
    """A finished job's statistics (``stats.json``) and its risk summary."""

    job_id: str
    stats: dict[str, Any] = Field(
        description="strategy, params, instruments, then every statistic; NaN is null."
    )
    final_trading_state: str = Field(description="ACTIVE, REDUCING or HALTED at the end.")
    risk_rejections: int = Field(description="Orders the risk checks denied.")


class EquityPoint(BaseModel):
    """The account's equity after one bar."""

    timestamp: str = Field(description="ISO 8601, UTC.")
    equity: float
    drawdown: float = Field(description="From the running peak, a fraction <= 0.")


class EquityPage(BaseModel):
    """A slice of the equity curve."""

    job_id: str
    total: int = Field(description="Points in the whole curve.")
    offset: int
    items: list[EquityPoint]
