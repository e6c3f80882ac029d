"""Execution algorithms: post-only with repricing, TWAP, VWAP, iceberg, and a router.

A strategy sends a ``ParentOrder`` (one decision to trade) to ``ExecAlgo.execute`` in an
``ExecuteParentOrder``; the ``ExecAlgorithmEngine`` works it with the algorithm named on
it, or the one the ``Router`` picks by notional and urgency, through child orders sent
to the execution engine (or a risk engine in front of it). Fills of the children reach
the strategy's ``on_fill`` as for any of its orders; the parent's start and end are
published on ``events.algo.<kind>``, with what ``quantgrid.analytics`` needs to measure
the execution (``parent_execution``).
"""

from quantgrid.execution.algorithms._base import AlgorithmContext, ChildOrder, ExecAlgorithm
from quantgrid.execution.algorithms._engine import (
    ALGO_ENDPOINT,
    BUILTIN_ALGORITHMS,
    ExecAlgorithmEngine,
)
from quantgrid.execution.algorithms._messages import (
    CancelParentOrder,
    ExecuteParentOrder,
    InvalidParentOrderError,
    ParentOrder,
    ParentOrderCanceled,
    ParentOrderCompleted,
    ParentOrderEnded,
    ParentOrderEvent,
    ParentOrderRejected,
    ParentOrderStarted,
    Urgency,
    algo_event_topic,
    parent_execution,
)
from quantgrid.execution.algorithms._params import (
    AlgorithmParameterError,
    AlgorithmParams,
    IcebergParams,
    MarketParams,
    PassiveParams,
    PostOnlyParams,
    TwapParams,
    VwapParams,
)
from quantgrid.execution.algorithms._passive import PassiveWorker
from quantgrid.execution.algorithms._router import Route, Router, RouterConfig
from quantgrid.execution.algorithms._schedule import (
    ScheduleAlgorithm,
    TwapAlgorithm,
    VwapAlgorithm,
    cumulative_lots,
    u_shaped_profile,
)
from quantgrid.execution.algorithms._simple import (
    IcebergAlgorithm,
    MarketAlgorithm,
    PostOnlyAlgorithm,
)

__all__ = [
    "ALGO_ENDPOINT",
    "BUILTIN_ALGORITHMS",
    "AlgorithmContext",
    "AlgorithmParameterError",
    "AlgorithmParams",
    "CancelParentOrder",
    "ChildOrder",
    "ExecAlgorithm",
    "ExecAlgorithmEngine",
    "ExecuteParentOrder",
    "IcebergAlgorithm",
    "IcebergParams",
    "InvalidParentOrderError",
    "MarketAlgorithm",
    "MarketParams",
    "ParentOrder",
    "ParentOrderCanceled",
    "ParentOrderCompleted",
    "ParentOrderEnded",
    "ParentOrderEvent",
    "ParentOrderRejected",
    "ParentOrderStarted",
    "PassiveParams",
    "PassiveWorker",
    "PostOnlyAlgorithm",
    "PostOnlyParams",
    "Route",
    "Router",
    "RouterConfig",
    "ScheduleAlgorithm",
    "TwapAlgorithm",
    "TwapParams",
    "Urgency",
    "VwapAlgorithm",
    "VwapParams",
    "algo_event_topic",
    "cumulative_lots",
    "parent_execution",
    "u_shaped_profile",
]
