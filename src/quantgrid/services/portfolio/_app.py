"""The portfolio service: positions, cash, P&L, equity history and a live stream."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import StreamingResponse

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
    SnapshotOut,
)
from quantgrid.services.portfolio._stream import (
    CHECK_INTERVAL_S,
    HEARTBEAT_S,
    SnapshotReader,
    snapshot_events,
)

SERVICE = "portfolio"

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]


async def _backend(request: Request) -> PortfolioBackend:
    backend: PortfolioBackend = request.app.state.backend
    return backend


Backend = Annotated[PortfolioBackend, Depends(_backend)]


#: The longest a stream of snapshots lasts before the client must reconnect.
#: A stream's credentials are checked when it opens: it ends within this many seconds,
#: so the client reconnects and a revoked key or an expired token stops it soon.
MAX_STREAM_S = 300.0


class EventStreamResponse(StreamingResponse):
    """A stream of server-sent events."""

    media_type = "text/event-stream"


_STREAM_DESCRIPTION = (
    "`event: snapshot` lines, each with a `SnapshotOut` as JSON, and `: heartbeat` "
    "comments; an `event: error` with a `detail` if the node fails while it runs."
)


def portfolio_router(
    *, check_interval_s: float = CHECK_INTERVAL_S, heartbeat_s: float = HEARTBEAT_S
) -> APIRouter:
    """Return the routes of ``/portfolio``.

    ``check_interval_s`` and ``heartbeat_s`` time ``/portfolio/stream`` (see
    ``snapshot_events``).
    """
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

    @router.get(
        "/stream",
        response_class=EventStreamResponse,
        responses={
            200: {
                "description": _STREAM_DESCRIPTION,
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def stream_snapshots(
        backend: Backend,
        _caller: Viewer,
        max_s: Annotated[
            float,
            Query(ge=0, le=MAX_STREAM_S, description="Seconds until the stream ends; 0: one."),
        ] = 300.0,
    ) -> EventStreamResponse:
        """Server-sent events: a snapshot of the account now, then at each change.

        The account (equity, cash, P&L, counts of positions, working orders and fills,
        the last fill, the trading state, and the node's clock) is read about twice a
        second and sent when any of it changed (the clock to the second), with a
        heartbeat comment after 15 s of silence. The stream ends after `max_s` seconds:
        reconnect then.
        """
        reader = SnapshotReader(backend)
        first: SnapshotOut = await reader.read()  # a node that is down answers 503 here
        events = snapshot_events(
            reader, first, max_s=max_s, check_interval_s=check_interval_s, heartbeat_s=heartbeat_s
        )
        return EventStreamResponse(
            events, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

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
    the node. ``/portfolio/stream`` sends the account's snapshots as server-sent
    events.
    """
    app = create_service_app(
        SERVICE,
        settings=settings,
        routers=[portfolio_router()],
        dependencies={"node": backend.check_ready},
        metrics=metrics or ServiceMetrics(SERVICE),
        description="Positions, cash, P&L, equity history and a live stream of them.",
    )
    app.state.backend = backend
    install_auth(app, auth, limiter=limiter)
    install_node_errors(app)
    return app
