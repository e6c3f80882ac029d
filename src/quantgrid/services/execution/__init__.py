"""The execution service: orders and fills over a trading node.

``create_app(node, settings, auth=...)`` serves ``POST /orders`` (submit, idempotent
by client order id), ``PATCH /orders/{id}`` (amend), ``DELETE /orders/{id}``
(cancel), ``POST /orders/cancel-all``, ``GET /orders``, ``GET /orders/{id}`` (with its
history and fills) and ``GET /fills``. Viewers list; traders trade. See
``docs/node.md``.
"""

from quantgrid.services.execution._app import IDEMPOTENT_REPLAYED, create_app, orders_router
from quantgrid.services.execution._backend import ExecutionBackend
from quantgrid.services.execution._errors import (
    NODE_PROBLEMS,
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
    OrderEventOut,
    OrderOut,
    OrderPage,
    SubmitOrderBody,
)

__all__ = [
    "IDEMPOTENT_REPLAYED",
    "ID_PATTERN",
    "NODE_PROBLEMS",
    "AmendOrderBody",
    "CancelAllBody",
    "CanceledOut",
    "ExecutionBackend",
    "FillOut",
    "FillPage",
    "OrderDeniedError",
    "OrderDetailOut",
    "OrderEventOut",
    "OrderOut",
    "OrderPage",
    "SubmitOrderBody",
    "create_app",
    "install_node_errors",
    "orders_router",
]
