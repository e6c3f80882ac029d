"""Order management: the execution engine that owns every order's state."""

from quantgrid.execution._contingency import check_order_list, link_bracket, link_group
from quantgrid.execution._engine import (
    EXECUTE_ENDPOINT,
    PROCESS_ENDPOINT,
    ExecutionEngine,
    order_event_topic,
)

__all__ = [
    "EXECUTE_ENDPOINT",
    "PROCESS_ENDPOINT",
    "ExecutionEngine",
    "check_order_list",
    "link_bracket",
    "link_group",
    "order_event_topic",
]
