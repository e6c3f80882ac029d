"""Paper trading of strategies: the backtest's strategy classes on the trading node.

``StrategyHost`` attaches ``Strategy`` subclasses to a ``TradingNode`` the way the
backtest engine attaches them to its own core, and fills their orders with the
backtest's bar venue; ``ReplayFeed`` plays stored bars into it at N times their speed.
The same strategy on the same bars gives the same orders and fills as ``run_backtest``
with the same venue configuration (``tests/unit/paper/test_parity.py``).
"""

from quantgrid.paper._host import (
    HOST_ENDPOINT,
    NOT_STORED,
    STATE_CHECKPOINT,
    StrategyHost,
    latest_stored_moment,
)
from quantgrid.paper._replay import BarSink, ReplayFeed, Sleep

__all__ = [
    "HOST_ENDPOINT",
    "NOT_STORED",
    "STATE_CHECKPOINT",
    "BarSink",
    "ReplayFeed",
    "Sleep",
    "StrategyHost",
    "latest_stored_moment",
]
