"""Order management: the execution engine that owns every order's state."""

from quantgrid.execution._engine import (
    EXECUTE_ENDPOINT,
    PROCESS_ENDPOINT,
    ExecutionEngine,
    order_event_topic,
)

__all__ = ["EXECUTE_ENDPOINT", "PROCESS_ENDPOINT", "ExecutionEngine", "order_event_topic"]
