"""The market-data routes: validate, ask `MarketDataQueries`, answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from quantgrid.adapters.market_data import Timeframe
from quantgrid.adapters.storage import Role
from quantgrid.gateway import require_role
from quantgrid.services.market_data._cache import CacheReport
from quantgrid.services.market_data._models import (
    Instant,
    OhlcvResponse,
    PriceResponse,
    Symbol,
    SymbolsResponse,
    TickerResponse,
)
from quantgrid.services.market_data._problems import UNKNOWN_SYMBOL_PROBLEM, UPSTREAM_PROBLEMS
from quantgrid.services.market_data._queries import MarketDataQueries

#: The most bars one OHLCV answer holds.
MAX_OHLCV_LIMIT = 1000


def market_data_router(queries: MarketDataQueries) -> APIRouter:
    """Return the ``/market-data`` routes, each for callers with the viewer role or up."""
    router = APIRouter(
        prefix="/market-data",
        tags=["market-data"],
        dependencies=[Depends(require_role(Role.VIEWER))],
        responses=UPSTREAM_PROBLEMS,
    )

    @router.get("/symbols")
    async def list_symbols() -> SymbolsResponse:
        """List the symbols served."""
        return await queries.symbols()

    @router.get("/price/{symbol}", responses=UNKNOWN_SYMBOL_PROBLEM)
    async def get_price(symbol: Symbol) -> PriceResponse:
        """Return the latest price of a symbol."""
        return await queries.price(symbol)

    @router.get("/ohlcv/{symbol}", responses=UNKNOWN_SYMBOL_PROBLEM)
    async def get_ohlcv(
        symbol: Symbol,
        start: Annotated[
            Instant | None,
            Query(description="Window start (ISO 8601; naive is UTC). Default: `limit` bars back."),
        ] = None,
        end: Annotated[
            Instant | None,
            Query(description="Window end. Default: the close of the bar now forming."),
        ] = None,
        timeframe: Annotated[Timeframe, Query(description="Bar length.")] = Timeframe.M1,
        limit: Annotated[
            int, Query(ge=1, le=MAX_OHLCV_LIMIT, description="The most bars answered.")
        ] = 500,
    ) -> OhlcvResponse:
        """Return OHLCV bars of a symbol lying within a window, oldest first."""
        return await queries.ohlcv(symbol, start=start, end=end, timeframe=timeframe, limit=limit)

    @router.get("/ticker/{symbol}", responses=UNKNOWN_SYMBOL_PROBLEM)
    async def get_ticker(symbol: Symbol) -> TickerResponse:
        """Return best quotes, last price and 24-hour volume and change of a symbol."""
        return await queries.ticker(symbol)

    @router.get("/cache")
    async def get_cache_stats() -> CacheReport:
        """Report the cache's hits, misses and hit rate, overall and by kind of answer."""
        return queries.answers.report()

    return router
