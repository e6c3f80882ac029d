"""The execution service: submit, amend, cancel and list orders; list fills."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response

from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator, Principal, RateLimiter, install_auth, require_role
from quantgrid.model import OrderEvent, OrderStatus
from quantgrid.node import TradingNode
from quantgrid.services import (
    ServiceError,
    ServiceMetrics,
    ServiceSettings,
    create_service_app,
    problem_responses,
)
from quantgrid.services.execution._backend import ExecutionBackend
from quantgrid.services.execution._errors import (
    NODE_PROBLEMS,
    VALIDATION_ERROR,
    OrderDeniedError,
    install_node_errors,
)
from quantgrid.services.execution._models import (
    ID_PATTERN,
    AmendOrderBody,
    CancelAllBody,
    CanceledOut,
    FillOut,
    FillPage,
    OrderDetailOut,
    OrderOut,
    OrderPage,
    SubmitOrderBody,
)

SERVICE = "execution"
IDEMPOTENT_REPLAYED = "Idempotent-Replayed"
_TS = Query(ge=0, le=2**63 - 1)

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Trader = Annotated[Principal, Depends(require_role(Role.TRADER))]
OrderId = Annotated[str, Path(pattern=ID_PATTERN, description="The client order id.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=ID_PATTERN,
        description="Names the order when the body has no client_order_id.",
    ),
]


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread.
async def _backend(request: Request) -> ExecutionBackend:
    backend: ExecutionBackend = request.app.state.backend
    return backend


Backend = Annotated[ExecutionBackend, Depends(_backend)]


async def _metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


Metrics = Annotated[ServiceMetrics, Depends(_metrics)]
_NOT_FOUND = {404: "No order has this client order id."}


class _KeyMismatchError(ServiceError):
    status = 422
    title = "Request validation failed"
    type_uri = VALIDATION_ERROR


def orders_router() -> APIRouter:
    """Return the routes of ``/orders`` and ``/fills``."""
    router = APIRouter(tags=["orders"], responses=NODE_PROBLEMS)

    @router.post(
        "/orders",
        status_code=201,
        responses={
            200: {"model": OrderOut, "description": "A repeated request: the order it made first."},
            **problem_responses(
                {409: "The client order id names an earlier order with other fields."}
            ),
        },
    )
    async def submit_order(
        body: SubmitOrderBody,
        backend: Backend,
        metrics: Metrics,
        response: Response,
        _caller: Trader,
        idempotency_key: IdempotencyKey = None,
    ) -> OrderOut:
        """Submit an order; answered once it and its first events are durable.

        201 with the new order; 200 with the first one when the request repeats an
        earlier one (same client order id, same fields), never a second order. An
        order the risk checks deny is a 422 ``order-denied`` problem with the check,
        its value and limit (the denied order is stored for the record).
        """
        oid = body.client_order_id or idempotency_key
        if body.client_order_id and idempotency_key and body.client_order_id != idempotency_key:
            message = "must equal body.client_order_id when both are sent"
            raise _KeyMismatchError(
                f"header.Idempotency-Key: {message}",
                extensions={
                    "errors": [
                        {"field": "header.Idempotency-Key", "rule": "mismatch", "message": message}
                    ]
                },
            )
        result = await backend.submit(body.to_request(oid or uuid4().hex))
        order = result.order
        if result.created:
            metrics.orders.labels(order.side.value, order.order_type.value).inc()
        else:
            response.status_code = 200
            response.headers[IDEMPOTENT_REPLAYED] = "true"
        if result.denial is not None:
            denial = result.denial
            if result.created:
                metrics.rejections.labels("risk", denial.check).inc()
            raise OrderDeniedError(
                f"order {order.client_order_id} denied: {denial.reason}",
                extensions={
                    "client_order_id": order.client_order_id,
                    "check": denial.check,
                    "value": denial.value,
                    "limit": denial.limit,
                    "reason": denial.reason,
                },
                headers={} if result.created else {IDEMPOTENT_REPLAYED: "true"},
            )
        return OrderOut.of(order)

    @router.patch(
        "/orders/{client_order_id}",
        responses=problem_responses(
            {**_NOT_FOUND, 409: "The order ended, or the amendment is refused."}
        ),
    )
    async def amend_order(
        client_order_id: OrderId, body: AmendOrderBody, backend: Backend, _caller: Trader
    ) -> OrderOut:
        """Amend a working order's quantity, price or trigger price.

        A refusal (risk limits, a quantity below what filled, a cancel pending) is a
        409 ``order-refused`` problem with the reason; the order works on unchanged.
        """
        view = await backend.amend(
            client_order_id,
            quantity=None if body.quantity is None else float(body.quantity),
            price=None if body.price is None else float(body.price),
            trigger_price=None if body.trigger_price is None else float(body.trigger_price),
        )
        return OrderOut.of(view)

    @router.delete(
        "/orders/{client_order_id}",
        responses=problem_responses({**_NOT_FOUND, 409: "The order already ended."}),
    )
    async def cancel_order(client_order_id: OrderId, backend: Backend, _caller: Trader) -> OrderOut:
        """Cancel a working order (answered PENDING_CANCEL or CANCELED)."""
        return OrderOut.of(await backend.cancel(client_order_id))

    @router.post("/orders/cancel-all")
    async def cancel_all_orders(
        backend: Backend, _caller: Trader, body: CancelAllBody | None = None
    ) -> CanceledOut:
        """Cancel every working order, or those of a strategy and/or instrument."""
        body = body or CancelAllBody()
        canceled = await backend.cancel_all(body.strategy_id, body.instrument_id)
        return CanceledOut(canceled=canceled)

    @router.get("/orders")
    async def list_orders(
        backend: Backend,
        _caller: Viewer,
        strategy_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        status: Annotated[list[OrderStatus] | None, Query(max_length=12)] = None,
        since_ns: Annotated[int | None, _TS] = None,
        until_ns: Annotated[int | None, _TS] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        after: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
    ) -> OrderPage:
        """List orders by submission time, filtered; pass ``next_cursor`` as ``after``."""
        page = await backend.list_orders(
            strategy_id=strategy_id,
            status=status,
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
            after=after,
        )
        return OrderPage(items=[OrderOut.of(v) for v in page.items], next_cursor=page.next_cursor)

    @router.get("/orders/{client_order_id}", responses=problem_responses(_NOT_FOUND))
    async def get_order(
        client_order_id: OrderId, backend: Backend, _caller: Viewer
    ) -> OrderDetailOut:
        """Return an order with its history (every event, in order) and its fills."""
        return OrderDetailOut.of_detail(await backend.get_order(client_order_id))

    @router.get("/fills")
    async def list_fills(
        backend: Backend,
        _caller: Viewer,
        client_order_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        since_ns: Annotated[int | None, _TS] = None,
        until_ns: Annotated[int | None, _TS] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        after: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
    ) -> FillPage:
        """List fills by time, of one order or of a time range."""
        page = await backend.list_fills(
            client_order_id=client_order_id,
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
            after=after,
        )
        return FillPage(items=[FillOut.of(f) for f in page.items], next_cursor=page.next_cursor)

    return router


def create_app(
    backend: ExecutionBackend,
    settings: ServiceSettings,
    *,
    auth: Authenticator,
    limiter: RateLimiter | None = None,
    metrics: ServiceMetrics | None = None,
) -> FastAPI:
    """Return the execution service over ``backend`` (a ``TradingNode``, or a client).

    Parameters
    ----------
    backend
        Who takes the orders.
    settings
        The service's settings (``ServiceSettings.from_env()``).
    auth, limiter
        Who checks callers' credentials and budgets: viewers list, traders trade.
    metrics
        The service's metrics, if made already.

    Notes
    -----
    The app neither starts nor stops the node: its composition root does (in one
    process, ``ASGITransport`` does not run an app's lifespan anyway). With a
    ``TradingNode`` the app counts its fills and venue rejections on the node's bus.
    """
    metrics = metrics or ServiceMetrics(SERVICE)
    app = create_service_app(
        SERVICE,
        settings=settings,
        routers=[orders_router()],
        dependencies={"node": backend.check_ready},
        metrics=metrics,
        description="Orders and fills: submit, amend, cancel, list.",
    )
    app.state.backend = backend
    install_auth(app, auth, limiter=limiter)
    install_node_errors(app)
    if isinstance(backend, TradingNode):
        _count_node_events(backend, metrics)
    return app


def _count_node_events(node: TradingNode, metrics: ServiceMetrics) -> None:
    fills, rejections = metrics.fills, metrics.rejections

    def on_fill(event: Any) -> None:
        fills.labels(event.side.value).inc()

    def on_rejected(_event: OrderEvent) -> None:
        rejections.labels("venue", "rejected").inc()

    node.bus.subscribe("events.order.filled", on_fill)
    node.bus.subscribe("events.order.rejected", on_rejected)
