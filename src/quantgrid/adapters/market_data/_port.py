"""The market-data source port: where prices, bars and tickers come from."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from quantgrid.core import NANOS_PER_SECOND
from quantgrid.model import BarSeries

#: What a symbol may look like: letters, digits, ``.``, ``_`` and ``-``, 1-32 of them,
#: starting with a letter or digit. Sources list only symbols of this shape, so a
#: symbol is always safe in a URL, a cache key and a log line.
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
_SYMBOL = re.compile(SYMBOL_PATTERN.strip("^$"))


def is_symbol(text: str) -> bool:
    """Tell whether ``text`` has the shape of a symbol (`SYMBOL_PATTERN`)."""
    return _SYMBOL.fullmatch(text) is not None


class Timeframe(StrEnum):
    """The bar lengths the market-data API serves, spelled as exchanges spell them."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        """Return the bar length in seconds."""
        return _SECONDS[self]

    @property
    def nanos(self) -> int:
        """Return the bar length in nanoseconds."""
        return _SECONDS[self] * NANOS_PER_SECOND


_SECONDS = {
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.H1: 3_600,
    Timeframe.H4: 14_400,
    Timeframe.D1: 86_400,
}


@dataclass(frozen=True, slots=True)
class RequestRate:
    """How fast an upstream may be called: its token bucket's rate and burst.

    Attributes
    ----------
    per_second
        Calls a second on average.
    burst
        Calls at once after a quiet spell.
    """

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and math.isfinite(self.per_second)) or self.burst < 1:
            msg = f"a request rate is positive with a burst of 1 or more, not {self}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Price:
    """The latest traded (or closing) price of a symbol.

    Attributes
    ----------
    symbol
        The instrument.
    price
        The price.
    ts_event
        When it was true, UTC nanoseconds: the last bar's close for bar sources, the
        time the answer arrived for a venue that does not stamp it.
    """

    symbol: str
    price: float
    ts_event: int


@dataclass(frozen=True, slots=True)
class Ticker:
    """Best quotes, last price and the rolling 24-hour figures of a symbol.

    Attributes
    ----------
    symbol
        The instrument.
    bid, ask
        Best bid and ask; None when the source has no quotes (bar files).
    last
        The last price.
    volume_24h
        Volume traded over the last 24 hours, in the instrument's units.
    change_24h, change_24h_pct
        ``last`` minus the price 24 hours before, and that change in percent of it.
    ts_event
        When the figures were true, UTC nanoseconds.
    """

    symbol: str
    bid: float | None
    ask: float | None
    last: float
    volume_24h: float
    change_24h: float
    change_24h_pct: float
    ts_event: int


class MarketDataSource(Protocol):
    """Prices, OHLCV bars and tickers of a set of symbols, from one upstream.

    Notes
    -----
    Every method is async: a source may be a file, a generator or a vendor's HTTP API.
    A source raises `UnknownSymbolError` for a symbol it does not have,
    `UnsupportedTimeframeError` for bars it cannot make, `UpstreamError` (and its
    subclasses) when the upstream fails or answers nonsense, and `RateLimitedError`
    when the upstream asks it to slow down. It does no caching, rate limiting or
    circuit breaking of its own: the services wrap it in those.
    """

    @property
    def name(self) -> str:
        """Return the upstream's name, for errors, logs and metric labels."""
        ...

    @property
    def request_rate(self) -> RequestRate | None:
        """Return the rate the upstream may be called at, or None if it needs no limit.

        A vendor's source gives a safe share of the vendor's published limit; a local
        one (files, the synthetic market) gives None. Settings may override it.
        """
        ...

    async def symbols(self) -> list[str]:
        """Return the symbols this source serves, each matching `SYMBOL_PATTERN`."""
        ...

    async def latest_price(self, symbol: str) -> Price:
        """Return the latest price of ``symbol``."""
        ...

    async def ohlcv(
        self,
        symbol: str,
        start: int,
        end: int,
        timeframe: Timeframe,
        *,
        limit: int | None = None,
    ) -> BarSeries:
        """Return the bars of ``symbol`` lying within ``[start, end]`` (UTC nanoseconds).

        A bar is stamped at its close (``ts``), so these are the bars with
        ``start + timeframe <= ts <= end``, bucketed on multiples of the timeframe
        since the epoch; the last may still be forming. With ``limit``, only the first
        ``limit`` of them.
        """
        ...

    async def ticker(self, symbol: str) -> Ticker:
        """Return the ticker of ``symbol``."""
        ...

    async def close(self) -> None:
        """Release the source's connections; idempotent."""
        ...
