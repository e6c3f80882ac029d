"""The portfolio service: positions, cash, P&L and equity history of a trading node.

``create_app(node, settings, auth=...)`` serves ``GET /portfolio/positions``,
``/portfolio/cash``, ``/portfolio/pnl``, ``/portfolio/equity`` and
``/portfolio/stream`` (server-sent events of ``SnapshotOut``), for viewers and up.
See ``docs/node.md`` and ``docs/console.md``.
"""

from quantgrid.services.portfolio._app import create_app, portfolio_router
from quantgrid.services.portfolio._backend import PortfolioBackend
from quantgrid.services.portfolio._models import (
    CashOut,
    EquityOut,
    EquityPointOut,
    PnlOut,
    PositionOut,
    SnapshotOut,
)

__all__ = [
    "CashOut",
    "EquityOut",
    "EquityPointOut",
    "PnlOut",
    "PortfolioBackend",
    "PositionOut",
    "SnapshotOut",
    "create_app",
    "portfolio_router",
]
