"""What the regime API answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from quantgrid.adapters.market_data import SYMBOL_PATTERN, Timeframe

RegimeName = Literal["TRENDING", "RANGING", "CHOPPY", "CRISIS", "UNKNOWN"]
"""A regime, or UNKNOWN during the detector's warm-up or without bars."""

#: The most symbols one batch request may name.
MAX_BATCH_SYMBOLS = 100


class RegimeIndicators(BaseModel):
    """The features behind a regime at one bar; null where not defined."""

    natr: float | None = Field(description="ATR divided by the close.")
    adx: float | None = Field(description="Wilder's ADX.")
    choppiness: float | None = Field(description="Choppiness Index.")
    efficiency: float | None = Field(description="|EWMA(r)| / EWMA(|r|) of log returns.")
    autocorrelation: float | None = Field(description="EWMA lag-1 autocorrelation.")
    volatility: float | None = Field(description="Short EWMA volatility per bar.")
    volatility_ratio: float | None = Field(description="Short over long volatility.")
    correlation: float | None = Field(description="Mean correlation with the other symbols.")


class RegimeResponse(BaseModel):
    """The current regime of a symbol."""

    symbol: str
    regime: RegimeName
    confidence: float = Field(
        description="Posterior probability of `regime` given the features, 0 when UNKNOWN."
    )
    ts_event: int | None = Field(description="Close of the bar classified, UTC nanoseconds.")
    as_of: str | None = Field(description="`ts_event` as ISO 8601.")
    timeframe: Timeframe
    indicators: RegimeIndicators | None


class RegimePoint(BaseModel):
    """The regime at one bar."""

    ts_event: int
    regime: RegimeName
    confidence: float


class RegimeSegment(BaseModel):
    """A run of bars in one regime."""

    regime: RegimeName
    start_ts: int = Field(description="Close of the run's first bar, UTC nanoseconds.")
    end_ts: int = Field(description="Close of the run's last bar, UTC nanoseconds.")
    bars: int


class RegimeHistoryResponse(BaseModel):
    """The regime of each bar of a symbol within a window."""

    symbol: str
    timeframe: Timeframe
    start: str
    end: str
    points: list[RegimePoint]
    segments: list[RegimeSegment]


class RegimeBatchRequest(BaseModel):
    """Symbols whose current regimes are wanted."""

    symbols: list[Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN)]] = Field(
        min_length=1, max_length=MAX_BATCH_SYMBOLS
    )


class RegimeBatchResponse(BaseModel):
    """Current regimes of several symbols; those the service does not cover listed apart."""

    as_of: str | None
    regimes: list[RegimeResponse]
    unknown: list[str] = Field(description="Requested symbols the service does not cover.")


class RegimeOverviewResponse(BaseModel):
    """Every covered symbol's regime, counted, and one label for the market."""

    as_of: str | None
    timeframe: Timeframe
    symbols: int
    counts: dict[RegimeName, int]
    market_regime: RegimeName = Field(
        description=(
            "CRISIS when at least a third of the classified symbols are in crisis, else "
            "the most common regime (ties to the more defensive: CHOPPY, RANGING, "
            "TRENDING); UNKNOWN when none is classified."
        )
    )
    mean_confidence: float | None
