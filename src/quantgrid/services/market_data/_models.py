"""What the market-data API answers, and the query types it validates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field

from quantgrid.adapters.market_data import SYMBOL_PATTERN, Timeframe

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # well inside int64 nanoseconds (2262)


def _in_range(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not _EARLIEST <= aware < _LATEST:
        msg = "must be between 1970-01-01 and 2200-01-01"
        raise ValueError(msg)
    return aware


Symbol = Annotated[
    str,
    Path(
        pattern=SYMBOL_PATTERN,
        description="The instrument: 1-32 letters, digits, `.`, `_` or `-`.",
        examples=["SYN0", "BTCUSDT"],
    ),
]
"""A symbol in a path: checked against `SYMBOL_PATTERN` (422 naming ``path.symbol``)."""

Instant = Annotated[datetime, AfterValidator(_in_range)]
"""A time in a query: ISO 8601 (naive is UTC) or Unix seconds, 1970 to 2200."""


class PriceResponse(BaseModel):
    """The latest price of a symbol."""

    symbol: str
    price: float
    ts_event: int = Field(description="When the price was true, UTC nanoseconds.")
    as_of: str = Field(description="`ts_event` as ISO 8601.")
    source: str = Field(description="The upstream it came from.")


class OhlcvBar(BaseModel):
    """One bar, stamped at its close."""

    ts_event: int = Field(description="Close time, UTC nanoseconds.")
    open: float
    high: float
    low: float
    close: float
    volume: float


class OhlcvResponse(BaseModel):
    """Bars of a symbol within a window."""

    symbol: str
    timeframe: Timeframe
    start: str = Field(description="The window's start, ISO 8601.")
    end: str = Field(description="The window's end, ISO 8601.")
    bars: list[OhlcvBar] = Field(
        description="The bars lying within the window, oldest first; the last may be forming."
    )
    next_start: str | None = Field(
        description="When `limit` cut the answer short: the `start` of the next page."
    )
    source: str


class TickerResponse(BaseModel):
    """Best quotes, last price and rolling 24-hour figures."""

    symbol: str
    bid: float | None = Field(description="Best bid; null when the source has no quotes.")
    ask: float | None = Field(description="Best ask; null when the source has no quotes.")
    last: float
    volume_24h: float
    change_24h: float
    change_24h_pct: float
    ts_event: int = Field(description="UTC nanoseconds.")
    as_of: str
    source: str


class SymbolsResponse(BaseModel):
    """The symbols the service serves."""

    source: str
    symbols: list[str]
