"""What a trading node refuses, and why: each error names the order and the rule."""

from __future__ import annotations

from quantgrid.model import OrderStatus


class NodeError(Exception):
    """Base of the errors a ``TradingNode`` raises."""


class NodeNotRunningError(NodeError):
    """The node was not started, or has stopped: it takes no orders."""


class RecoveryError(NodeError):
    """The store holds a state the node cannot start from (the message says which)."""


class StorageFailedError(NodeError):
    """A write the answer depends on did not reach the store; nothing was acknowledged."""


class InvalidOrderRequestError(NodeError, ValueError):
    """An order request breaks a rule of its instrument or of the order types.

    Attributes
    ----------
    field
        The request field at fault (``quantity``, ``price``, ``instrument_id``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class OrderNotFoundError(NodeError, LookupError):
    """No order has this client order id."""

    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"no order {client_order_id!r}")
        self.client_order_id = client_order_id


class OrderConflictError(NodeError):
    """A client order id already names an order with other fields.

    Attributes
    ----------
    fields
        The fields that differ, sorted.
    """

    def __init__(self, client_order_id: str, fields: list[str]) -> None:
        super().__init__(
            f"client order id {client_order_id!r} already names an order with other "
            f"{', '.join(fields)}; a retry must repeat the request, a new order needs a new id"
        )
        self.client_order_id = client_order_id
        self.fields = fields


class OrderClosedError(NodeError):
    """The order has ended (filled, cancelled, ...): it can no longer be changed."""

    def __init__(self, client_order_id: str, status: OrderStatus) -> None:
        super().__init__(f"order {client_order_id!r} is already {status.value}")
        self.client_order_id = client_order_id
        self.status = status


class OrderRefusedError(NodeError):
    """An amend or cancel was refused before it reached the venue (the reason says why)."""

    def __init__(self, client_order_id: str, reason: str) -> None:
        super().__init__(f"order {client_order_id!r}: {reason}")
        self.client_order_id = client_order_id
        self.reason = reason
