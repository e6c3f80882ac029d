"""Technical indicators, each vectorised (whole arrays) and streaming (one bar at a time).

Every indicator comes as a function over whole arrays (lower case, e.g. `macd`) and as
a class updated one bar at a time (e.g. `MACD`); the two give bit-identical values.
Those TA-Lib has equal TA-Lib's, warm-up included. Warm-up values are NaN.
"""

from quantgrid.indicators._momentum import (
    MACD,
    MACDOutput,
    Stochastic,
    StochasticOutput,
    macd,
    stochastic,
)
from quantgrid.indicators._moving import EMA, RSI, SMA, WMA, ema, rsi, sma, wma
from quantgrid.indicators._trend import ADX, ADXOutput, ChoppinessIndex, adx, choppiness_index
from quantgrid.indicators._volatility import (
    ATR,
    BollingerBands,
    BollingerOutput,
    RealizedVolatility,
    ZScore,
    atr,
    bollinger_bands,
    realized_volatility,
    zscore,
)
from quantgrid.indicators._volume import OBV, VWAP, obv, vwap

__all__ = [
    "ADX",
    "ATR",
    "EMA",
    "MACD",
    "OBV",
    "RSI",
    "SMA",
    "VWAP",
    "WMA",
    "ADXOutput",
    "BollingerBands",
    "BollingerOutput",
    "ChoppinessIndex",
    "MACDOutput",
    "RealizedVolatility",
    "Stochastic",
    "StochasticOutput",
    "ZScore",
    "adx",
    "atr",
    "bollinger_bands",
    "choppiness_index",
    "ema",
    "macd",
    "obv",
    "realized_volatility",
    "rsi",
    "sma",
    "stochastic",
    "vwap",
    "wma",
    "zscore",
]
