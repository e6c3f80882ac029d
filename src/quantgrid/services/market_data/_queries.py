"""The market-data answers: validated requests in, cached upstream answers out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quantgrid.adapters.market_data import MarketDataSource, Timeframe
from quantgrid.core import dt_to_ns, ns_to_iso
from quantgrid.services.market_data._cache import CachedAnswers
from quantgrid.services.market_data._models import (
    OhlcvResponse,
    PriceResponse,
    SymbolsResponse,
    TickerResponse,
)
from quantgrid.services.market_data._problems import InvalidQueryError, SymbolNotFoundError
from quantgrid.services.market_data._settings import MarketDataSettings


def _ceil_to(ts: int, step: int) -> int:
    return -((-ts) // step) * step


class MarketDataQueries:
    """Answer price, OHLCV, ticker and symbol queries from the cache or the upstream.

    Parameters
    ----------
    source
        The upstream, already guarded (rate limit, timeout, breaker).
    answers
        The cache, with its per-kind counts.
    settings
        The TTLs.

    Notes
    -----
    A symbol is checked against the (cached) symbol list before anything else is asked
    of the upstream, so an unknown symbol costs no upstream call once the list is cached.
    """

    def __init__(
        self, source: MarketDataSource, answers: CachedAnswers, settings: MarketDataSettings
    ) -> None:
        self.source = source
        self.answers = answers
        self.settings = settings

    async def symbols(self) -> SymbolsResponse:
        """Return the symbols the upstream serves."""

        async def load() -> Any:
            return {"source": self.source.name, "symbols": await self.source.symbols()}

        value = await self.answers.get("symbols", "all", self.settings.symbols_ttl_s, load)
        return SymbolsResponse.model_validate(value)

    async def require_symbol(self, symbol: str) -> None:
        """Raise a 404 problem unless the upstream serves ``symbol``."""
        if symbol not in (await self.symbols()).symbols:
            raise SymbolNotFoundError(symbol)

    async def price(self, symbol: str) -> PriceResponse:
        """Return the latest price of ``symbol``."""
        await self.require_symbol(symbol)

        async def load() -> Any:
            price = await self.source.latest_price(symbol)
            return PriceResponse(
                symbol=symbol,
                price=price.price,
                ts_event=price.ts_event,
                as_of=ns_to_iso(price.ts_event),
                source=self.source.name,
            ).model_dump(mode="json")

        value = await self.answers.get("price", symbol, self.settings.price_ttl_s, load)
        return PriceResponse.model_validate(value)

    async def ticker(self, symbol: str) -> TickerResponse:
        """Return the ticker of ``symbol``."""
        await self.require_symbol(symbol)

        async def load() -> Any:
            t = await self.source.ticker(symbol)
            return TickerResponse(
                symbol=symbol,
                bid=t.bid,
                ask=t.ask,
                last=t.last,
                volume_24h=t.volume_24h,
                change_24h=t.change_24h,
                change_24h_pct=t.change_24h_pct,
                ts_event=t.ts_event,
                as_of=ns_to_iso(t.ts_event),
                source=self.source.name,
            ).model_dump(mode="json")

        value = await self.answers.get("ticker", symbol, self.settings.ticker_ttl_s, load)
        return TickerResponse.model_validate(value)

    async def ohlcv(
        self,
        symbol: str,
        *,
        start: datetime | None,
        end: datetime | None,
        timeframe: Timeframe,
        limit: int,
    ) -> OhlcvResponse:
        """Return up to ``limit`` bars of ``symbol`` within ``[start, end]``.

        Without ``end``, the window ends with the bar holding the latest price; without
        ``start``, it holds ``limit`` bars.

        Raises
        ------
        InvalidQueryError
            If ``start`` is not before ``end``.
        """
        if start is not None and end is not None and start >= end:
            raise InvalidQueryError("query.start", "before_end", "start must be before end")
        await self.require_symbol(symbol)
        step = timeframe.nanos
        if end is not None:
            end_ns = dt_to_ns(end)
        else:
            end_ns = _ceil_to((await self.price(symbol)).ts_event, step)
        start_ns = dt_to_ns(start) if start is not None else end_ns - limit * step
        key = f"{symbol}:{timeframe.value}:{start_ns}:{end_ns}:{limit}"

        async def load() -> Any:
            bars = await self.source.ohlcv(symbol, start_ns, end_ns, timeframe, limit=limit)
            rows = [
                {
                    "ts_event": int(bars.ts[i]),
                    "open": float(bars.open[i]),
                    "high": float(bars.high[i]),
                    "low": float(bars.low[i]),
                    "close": float(bars.close[i]),
                    "volume": float(bars.volume[i]),
                }
                for i in range(len(bars))
            ]
            last_ts = int(bars.ts[-1]) if len(bars) else end_ns
            cut = len(rows) == limit and last_ts + step <= end_ns
            return {
                "symbol": symbol,
                "timeframe": timeframe.value,
                "start": ns_to_iso(start_ns),
                "end": ns_to_iso(end_ns),
                "bars": rows,
                "next_start": ns_to_iso(last_ts) if cut else None,
                "source": self.source.name,
            }

        value = await self.answers.get("ohlcv", key, self.settings.ohlcv_ttl_s, load)
        return OhlcvResponse.model_validate(value)
