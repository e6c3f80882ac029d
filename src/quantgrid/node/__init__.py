"""The paper trading node: the core on the wall clock, with a store and an event bus.

``TradingNode`` is the composition root of a live process: it wires the core as a
replay does (clock, message bus, prices, portfolio, the order-book venue as a paper
venue, the execution and risk engines), makes every order durable in the ``Store``
before acknowledging it, stores and then publishes every event on the ``EventBus``,
and recovers its orders, positions and cash from the store when it starts again. The
execution, risk and portfolio services are thin HTTP routes over it. See
``docs/node.md``.
"""

from quantgrid.node._config import NodeConfig
from quantgrid.node._errors import (
    InvalidOrderRequestError,
    NodeError,
    NodeNotRunningError,
    OrderClosedError,
    OrderConflictError,
    OrderNotFoundError,
    OrderRefusedError,
    RecoveryError,
    StorageFailedError,
)
from quantgrid.node._node import TradingNode
from quantgrid.node._views import (
    CashView,
    Denial,
    EquityPoint,
    OrderDetail,
    OrderRequest,
    OrderView,
    PnlView,
    PositionView,
    RecoveryReport,
    RiskDecision,
    RiskStatus,
    SubmitResult,
)
from quantgrid.node._writer import SaveOrder, StoreWriter, SupportsTransaction

__all__ = [
    "CashView",
    "Denial",
    "EquityPoint",
    "InvalidOrderRequestError",
    "NodeConfig",
    "NodeError",
    "NodeNotRunningError",
    "OrderClosedError",
    "OrderConflictError",
    "OrderDetail",
    "OrderNotFoundError",
    "OrderRefusedError",
    "OrderRequest",
    "OrderView",
    "PnlView",
    "PositionView",
    "RecoveryError",
    "RecoveryReport",
    "RiskDecision",
    "RiskStatus",
    "SaveOrder",
    "StorageFailedError",
    "StoreWriter",
    "SubmitResult",
    "SupportsTransaction",
    "TradingNode",
]
