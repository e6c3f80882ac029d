"""Portfolio accounting and the read-only view strategies get of it."""

from quantgrid.portfolio._portfolio import (
    POSITION_TOPIC,
    Portfolio,
    PortfolioView,
    PositionSnapshot,
    equity_from_fills,
)

__all__ = [
    "POSITION_TOPIC",
    "Portfolio",
    "PortfolioView",
    "PositionSnapshot",
    "equity_from_fills",
]
