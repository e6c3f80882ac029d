"""The regime routes: validate, ask `MarketRegimes`, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from quantgrid.adapters.storage import Role
from quantgrid.gateway import require_role
from quantgrid.services.market_data import (
    UNKNOWN_SYMBOL_PROBLEM,
    UPSTREAM_PROBLEMS,
    Instant,
    Symbol,
)
from quantgrid.services.regime._models import (
    RegimeBatchRequest,
    RegimeBatchResponse,
    RegimeHistoryResponse,
    RegimeName,
    RegimeOverviewResponse,
    RegimeResponse,
)
from quantgrid.services.regime._regimes import UNKNOWN, MarketRegimes, market_regime

_NAMES: tuple[RegimeName, ...] = ("TRENDING", "RANGING", "CHOPPY", "CRISIS", "UNKNOWN")


def _response(
    regimes: MarketRegimes, symbol: str, reading: dict[str, Any] | None
) -> RegimeResponse:
    if reading is None:
        return RegimeResponse(
            symbol=symbol,
            regime="UNKNOWN",
            confidence=0.0,
            ts_event=None,
            as_of=None,
            timeframe=regimes.timeframe,
            indicators=None,
        )
    return RegimeResponse.model_validate(
        {"symbol": symbol, "timeframe": regimes.timeframe, **reading}
    )


def regime_router(regimes: MarketRegimes) -> APIRouter:
    """Return the ``/regime`` routes, each for callers with the viewer role or up.

    ``/regime/overview`` is matched before ``/regime/{symbol}``: ``overview`` cannot be
    a symbol here.
    """
    router = APIRouter(
        prefix="/regime",
        tags=["regime"],
        dependencies=[Depends(require_role(Role.VIEWER))],
        responses=UPSTREAM_PROBLEMS,
    )

    @router.get("/overview")
    async def get_regime_overview() -> RegimeOverviewResponse:
        """Count the covered symbols by regime, and label the market as a whole."""
        current = await regimes.current()
        readings = current["readings"]
        names = [UNKNOWN if r is None else r["regime"] for r in readings.values()]
        counts = {name: names.count(name) for name in _NAMES}
        known = [r["confidence"] for r in readings.values() if r and r["regime"] != UNKNOWN]
        return RegimeOverviewResponse(
            as_of=current["as_of"],
            timeframe=regimes.timeframe,
            symbols=len(readings),
            counts=counts,
            market_regime=market_regime(names),
            mean_confidence=sum(known) / len(known) if known else None,
        )

    @router.post("/batch")
    async def get_regimes_batch(body: RegimeBatchRequest) -> RegimeBatchResponse:
        """Return the current regimes of several symbols at once."""
        current = await regimes.current()
        readings = current["readings"]
        wanted = list(dict.fromkeys(body.symbols))
        return RegimeBatchResponse(
            as_of=current["as_of"],
            regimes=[_response(regimes, s, readings[s]) for s in wanted if s in readings],
            unknown=[s for s in wanted if s not in readings],
        )

    @router.get("/{symbol}", responses=UNKNOWN_SYMBOL_PROBLEM)
    async def get_regime(symbol: Symbol) -> RegimeResponse:
        """Return the current regime of a symbol, its confidence and the indicators behind it."""
        await regimes.require(symbol)
        current = await regimes.current()
        return _response(regimes, symbol, current["readings"].get(symbol))

    @router.get("/{symbol}/history", responses=UNKNOWN_SYMBOL_PROBLEM)
    async def get_regime_history(
        symbol: Symbol,
        start: Annotated[
            Instant | None,
            Query(description="Window start (ISO 8601; naive is UTC). Default: 24 h before end."),
        ] = None,
        end: Annotated[
            Instant | None,
            Query(description="Window end. Default: the bar holding its latest price."),
        ] = None,
    ) -> RegimeHistoryResponse:
        """Return the regime of each bar of a symbol within a window, and its runs."""
        return RegimeHistoryResponse.model_validate(await regimes.history(symbol, start, end))

    return router
