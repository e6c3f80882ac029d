"""Technical indicators, each vectorised (whole arrays) and streaming (one bar at a time)."""

from quantgrid.indicators._moving import EMA, RSI, SMA, ema, rsi, sma

__all__ = ["EMA", "RSI", "SMA", "ema", "rsi", "sma"]
