"""The node's refusals as RFC 9457 problems, for every service over a trading node."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from quantgrid.adapters.storage import InvalidRecordError, StoreError
from quantgrid.node import (
    InvalidOrderRequestError,
    NodeError,
    NodeNotRunningError,
    OrderClosedError,
    OrderConflictError,
    OrderNotFoundError,
    OrderRefusedError,
    StorageFailedError,
)
from quantgrid.services import ServiceError, problem_response, problem_responses, problem_type

VALIDATION_ERROR = problem_type("validation-error")
ORDER_DENIED = problem_type("order-denied")

#: The OpenAPI responses of what every route over the node may answer besides its own
#: (``install_node_errors``): pass as ``APIRouter(responses=NODE_PROBLEMS)``.
NODE_PROBLEMS = problem_responses(
    {503: "The trading node or its store is down; retry after `Retry-After` seconds."}
)


class OrderDeniedError(ServiceError):
    """The risk checks denied the order (it is stored, DENIED, for the record)."""

    status = 422
    title = "Order denied by the risk checks"
    type_uri = ORDER_DENIED


def _invalid(request: Request, field: str, message: str, rule: str) -> JSONResponse:
    return problem_response(
        422,
        f"{field}: {message}",
        title="Request validation failed",
        type_uri=VALIDATION_ERROR,
        instance=request.url.path,
        extensions={"errors": [{"field": field, "rule": rule, "message": message}]},
    )


async def _node_error(request: Request, exc: Exception) -> JSONResponse:
    instance = request.url.path
    extensions: dict[str, Any] = {}
    if isinstance(exc, InvalidOrderRequestError):
        field = "body" if exc.field in ("order", "amend") else f"body.{exc.field}"
        return _invalid(request, field, exc.message, "order_rule")
    if isinstance(exc, OrderNotFoundError):
        status, title, slug = 404, "Order not found", "order-not-found"
        extensions["client_order_id"] = exc.client_order_id
    elif isinstance(exc, OrderConflictError):
        status, title, slug = 409, "Client order id reused", "order-conflict"
        extensions.update(client_order_id=exc.client_order_id, fields=exc.fields)
    elif isinstance(exc, OrderClosedError):
        status, title, slug = 409, "Order already ended", "order-closed"
        extensions.update(client_order_id=exc.client_order_id, order_status=exc.status.value)
    elif isinstance(exc, OrderRefusedError):
        status, title, slug = 409, "Request refused", "order-refused"
        extensions.update(client_order_id=exc.client_order_id, reason=exc.reason)
    elif isinstance(exc, StorageFailedError):
        status, title, slug = 503, "Storage unavailable", "storage-unavailable"
    elif isinstance(exc, NodeNotRunningError):
        status, title, slug = 503, "Trading node not running", "node-unavailable"
    else:
        status, title, slug = 409, "Refused by the trading node", "node-refused"
    headers = {"Retry-After": "1"} if status == 503 else None
    return problem_response(
        status,
        str(exc),
        title=title,
        type_uri=problem_type(slug),
        instance=instance,
        extensions=extensions,
        headers=headers,
    )


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidRecordError):
        # The store refused a query's value (a cursor, a range): the caller's input.
        message = str(exc)
        field = "query.after" if "after must be" in message else "query"
        return _invalid(request, field, message, "store_rule")
    return problem_response(
        503,
        "the store is unavailable; try again",
        title="Storage unavailable",
        type_uri=problem_type("storage-unavailable"),
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


def install_node_errors(app: FastAPI) -> None:
    """Answer the trading node's errors, and the store's, as problems.

    Notes
    -----
    ``InvalidOrderRequestError`` is a 422 validation problem naming the body field;
    unknown order 404; reused id, ended order and refused amend or cancel 409;
    storage or node down 503 with ``Retry-After``. A store refusal of a query value
    (a bad cursor) is a 422 on that query field.
    """
    app.add_exception_handler(NodeError, _node_error)
    app.add_exception_handler(StoreError, _store_error)
