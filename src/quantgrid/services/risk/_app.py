"""The risk service: pre-trade approval, limits, trading state, portfolio risk."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Depends, FastAPI, Request

from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator, Principal, RateLimiter, install_auth, require_role
from quantgrid.services import (
    ServiceError,
    ServiceMetrics,
    ServiceSettings,
    create_service_app,
    problem_type,
)
from quantgrid.services.execution import NODE_PROBLEMS, SubmitOrderBody, install_node_errors
from quantgrid.services.risk import _calc
from quantgrid.services.risk._backend import RiskBackend
from quantgrid.services.risk._calc import RiskInputError
from quantgrid.services.risk._models import (
    ApprovalOut,
    CorrelationBody,
    CorrelationOut,
    KellyBody,
    KellyReturnsBody,
    KillOut,
    PositionSizeOut,
    ReasonBody,
    RiskLimits,
    RiskStateOut,
    VarBody,
    VarOut,
    VolTargetBody,
)

SERVICE = "risk"
DRY_RUN_ID = "dry-run"

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
PositionSizeBody = Annotated[
    KellyBody | KellyReturnsBody | VolTargetBody, Body(discriminator="method")
]


async def _backend(request: Request) -> RiskBackend:
    backend: RiskBackend = request.app.state.backend
    return backend


Backend = Annotated[RiskBackend, Depends(_backend)]


class RiskInputRefusedError(ServiceError):
    """Numbers a risk estimator cannot work with (too few, degenerate, mismatched)."""

    status = 422
    title = "Request validation failed"
    type_uri = problem_type("validation-error")

    @classmethod
    def of(cls, error: RiskInputError) -> RiskInputRefusedError:
        """Return the problem of ``error``, naming its field."""
        return cls(
            str(error),
            extensions={
                "errors": [{"field": error.field, "rule": "risk_input", "message": error.message}]
            },
        )


def _who(caller: Principal, body: ReasonBody | None) -> str:
    return f"{caller.subject}: {(body or ReasonBody()).reason}"


def risk_router() -> APIRouter:
    """Return the routes of ``/risk``."""
    router = APIRouter(prefix="/risk", tags=["risk"], responses=NODE_PROBLEMS)

    @router.post("/approve")
    async def approve_order(
        body: SubmitOrderBody, backend: Backend, _caller: Viewer
    ) -> ApprovalOut:
        """Check an order against the limits without sending or recording it.

        Approved, or the check that failed with its figure and limit
        (``max_position``, ``halted``, ...; see ``quantgrid.risk.CHECK_ORDER``).
        """
        request = body.to_request(body.client_order_id or DRY_RUN_ID)
        return ApprovalOut.of(await backend.approve(request))

    @router.get("/limits")
    async def get_risk_limits(backend: Backend, _caller: Viewer) -> RiskLimits:
        """Return the limits in force."""
        return RiskLimits.of(await backend.risk_limits())

    @router.put("/limits")
    async def set_risk_limits(body: RiskLimits, backend: Backend, _caller: Admin) -> RiskLimits:
        """Replace every limit; they apply from the next order (the state is kept)."""
        return RiskLimits.of(await backend.set_risk_limits(body.to_config()))

    @router.get("/state")
    async def get_trading_state(backend: Backend, _caller: Viewer) -> RiskStateOut:
        """Return the trading state (ACTIVE, REDUCING, HALTED), why, and the drawdown."""
        return RiskStateOut.of(await backend.risk_status())

    @router.post("/halt")
    async def halt_trading(
        backend: Backend, caller: Admin, body: ReasonBody | None = None
    ) -> RiskStateOut:
        """Deny every new order from now on; cancels still pass."""
        return RiskStateOut.of(await backend.halt(_who(caller, body)))

    @router.post("/resume")
    async def resume_trading(
        backend: Backend, caller: Admin, body: ReasonBody | None = None
    ) -> RiskStateOut:
        """Trade again; the drawdown breaker measures from the current equity."""
        return RiskStateOut.of(await backend.resume(_who(caller, body)))

    @router.post("/kill")
    async def kill_switch(
        backend: Backend, caller: Admin, body: ReasonBody | None = None
    ) -> KillOut:
        """Halt, then cancel every working order."""
        canceled = await backend.kill(_who(caller, body))
        return KillOut(state=RiskStateOut.of(await backend.risk_status()), canceled=canceled)

    @router.post("/var")
    async def portfolio_var(body: VarBody, backend: Backend, _caller: Viewer) -> VarOut:
        """Value at risk and expected shortfall (historical, parametric, Monte Carlo)."""
        history = await backend.equity_returns()
        equity = await backend.equity()
        try:
            # Monte Carlo paths take a while: off the event loop.
            return await asyncio.to_thread(_calc.value_at_risk, body, history, equity)
        except RiskInputError as error:
            raise RiskInputRefusedError.of(error) from None

    @router.post("/correlation")
    async def correlation_matrix(body: CorrelationBody, _caller: Viewer) -> CorrelationOut:
        """The correlation matrix of asset returns: sample, rolling window or EWMA."""
        try:
            return await asyncio.to_thread(_calc.correlation, body)
        except RiskInputError as error:
            raise RiskInputRefusedError.of(error) from None

    @router.post("/position-size")
    async def position_size(
        body: PositionSizeBody, backend: Backend, _caller: Viewer
    ) -> PositionSizeOut:
        """A position size: Kelly fraction, or units for a volatility target."""
        try:
            if isinstance(body, VolTargetBody):
                price = body.price
                if price is None and body.instrument_id is not None:
                    price = await backend.last_price(body.instrument_id)
                if price is None:
                    msg = "give a price, or an instrument_id that has a last price"
                    raise RiskInputError("body.price", msg)
                equity = body.equity if body.equity is not None else await backend.equity()
                return _calc.vol_target(body, price, equity)
            return _calc.kelly(body)
        except RiskInputError as error:
            raise RiskInputRefusedError.of(error) from None

    return router


def create_app(
    backend: RiskBackend,
    settings: ServiceSettings,
    *,
    auth: Authenticator,
    limiter: RateLimiter | None = None,
    metrics: ServiceMetrics | None = None,
) -> FastAPI:
    """Return the risk service over ``backend`` (a ``TradingNode``, or a client).

    Viewers read the state and limits and run the calculators; admins change limits,
    halt, resume and pull the kill switch. The app does not start or stop the node.
    """
    app = create_service_app(
        SERVICE,
        settings=settings,
        routers=[risk_router()],
        dependencies={"node": backend.check_ready},
        metrics=metrics or ServiceMetrics(SERVICE),
        description="Pre-trade approval, limits, trading state, portfolio VaR and sizing.",
    )
    app.state.backend = backend
    install_auth(app, auth, limiter=limiter)
    install_node_errors(app)
    return app
