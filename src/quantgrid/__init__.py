"""QuantGrid: one event-driven core for backtesting, paper and live trading."""

__version__ = "0.1.0"

__all__ = ["__version__"]
