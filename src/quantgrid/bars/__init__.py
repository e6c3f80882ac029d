"""Bar transformations: coarser time bars, and activity bars built from trades.

``resample`` turns time bars into longer ones; the other builders close a bar after a
number of trades, an amount of volume or traded value, a price range, or a Renko brick,
from trades or from bars read as trades. All are vectorised over whole arrays.
"""

from quantgrid.bars._renko import renko_bars
from quantgrid.bars._resample import resample
from quantgrid.bars._trade_bars import dollar_bars, range_bars, tick_bars, volume_bars
from quantgrid.bars._trades import TradeSeries, TradeSource

__all__ = [
    "TradeSeries",
    "TradeSource",
    "dollar_bars",
    "range_bars",
    "renko_bars",
    "resample",
    "tick_bars",
    "volume_bars",
]
