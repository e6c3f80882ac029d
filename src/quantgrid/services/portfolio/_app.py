"""The portfolio service: positions, cash, P&L and equity history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator, Principal, RateLimiter, install_auth, require_role
from quantgrid.services import ServiceMetrics, ServiceSettings, create_service_app
from quantgrid.services.execution import NODE_PROBLEMS, install_node_errors
from quantgrid.services.portfolio._backend import PortfolioBackend
from quantgrid.services.portfolio._models import (
    CashOut,
    EquityOut,
    EquityPointOut,
    PnlOut,
    PositionOut,
)

SERVICE = "portfolio"

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]


async def _backend(request: Request) -> PortfolioBackend:
    backend: PortfolioBackend = request.app.state.backend
    return backend


Backend = Annotated[PortfolioBackend, Depends(_backend)]


def portfolio_router() -> APIRouter:
    """Return the routes of ``/portfolio``."""
    router = APIRouter(prefix="/portfolio", tags=["portfolio"], responses=NODE_PROBLEMS)

    @router.get("/positions")
    async def list_positions(
        backend: Backend, _caller: Viewer, include_flat: bool = False
    ) -> list[PositionOut]:
        """Open positions by instrument (and flat ones with realized P&L, if asked)."""
        return [PositionOut.of(p) for p in await backend.positions(include_flat=include_flat)]

    @router.get("/cash")
    async def get_cash(backend: Backend, _caller: Viewer) -> CashOut:
        """The account's cash, its exact stored balance and the buying power."""
        return CashOut.of(await backend.cash())

    @router.get("/pnl")
    async def get_pnl(backend: Backend, _caller: Viewer) -> PnlOut:
        """Realized, unrealized and total P&L, commissions, equity and capital."""
        return PnlOut.of(await backend.pnl())

    @router.get("/equity")
    async def get_equity_history(
        backend: Backend,
        _caller: Viewer,
        since_ns: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    ) -> EquityOut:
        """Equity samples since ``since_ns`` (the latest ``limit``), oldest first."""
        points = await backend.equity_history(since_ns=since_ns, limit=limit)
        return EquityOut(points=[EquityPointOut.of(p) for p in points])

    return router


def create_app(
    backend: PortfolioBackend,
    settings: ServiceSettings,
    *,
    auth: Authenticator,
    limiter: RateLimiter | None = None,
    metrics: ServiceMetrics | None = None,
) -> FastAPI:
    """Return the portfolio service over ``backend`` (a ``TradingNode``, or a client).

    Every route is a read: the viewer role suffices. The app does not start or stop
    the node.
    """
    app = create_service_app(
        SERVICE,
        settings=settings,
        routers=[portfolio_router()],
        dependencies={"node": backend.check_ready},
        metrics=metrics or ServiceMetrics(SERVICE),
        description="Positions, cash, P&L and equity history.",
    )
    app.state.backend = backend
    install_auth(app, auth, limiter=limiter)
    install_node_errors(app)
    return app
