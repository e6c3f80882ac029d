"""Market data records (bars, quotes, trades) and the columnar bar series."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from quantgrid.model._enums import OrderSide

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Bar(NamedTuple):
    """One OHLCV bar. ``ts_event`` is the bar's close time in UTC nanoseconds.

    A tuple subclass rather than a dataclass: the backtest makes one per bar, and a
    tuple is the cheapest immutable record Python can build.
    """

    instrument_id: str
    ts_event: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class QuoteTick(NamedTuple):
    """Best bid and ask at a moment."""

    instrument_id: str
    ts_event: int
    bid: float
    ask: float
    bid_size: float
    ask_size: float


class TradeTick(NamedTuple):
    """One trade printed by a venue."""

    instrument_id: str
    ts_event: int
    price: float
    size: float
    aggressor_side: OrderSide | None = None
    trade_id: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """Bars of one instrument in columns, ordered by time.

    Notes
    -----
    Construction checks shapes and dtypes only; the loaders in ``quantgrid.data`` check
    the values (NaN, ordering, high >= low, positive prices) and name the file and row.
    """

    instrument_id: str
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        n = len(self.ts)
        if self.ts.dtype != np.int64:
            msg = f"{self.instrument_id}: ts must be int64 nanoseconds, got {self.ts.dtype}"
            raise TypeError(msg)
        for name in ("open", "high", "low", "close", "volume"):
            column = getattr(self, name)
            if column.dtype != np.float64:
                msg = f"{self.instrument_id}: {name} must be float64, got {column.dtype}"
                raise TypeError(msg)
            if len(column) != n:
                msg = f"{self.instrument_id}: column {name} has {len(column)} rows, ts has {n}"
                raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def from_arrays(
        cls,
        instrument_id: str,
        ts: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike | None = None,
    ) -> BarSeries:
        """Build a series from array-likes, converting dtypes (volume defaults to zeros)."""
        ts_arr = np.ascontiguousarray(ts, dtype=np.int64)
        vol = np.zeros(len(ts_arr)) if volume is None else volume
        return cls(
            instrument_id,
            ts_arr,
            np.ascontiguousarray(open, dtype=np.float64),
            np.ascontiguousarray(high, dtype=np.float64),
            np.ascontiguousarray(low, dtype=np.float64),
            np.ascontiguousarray(close, dtype=np.float64),
            np.ascontiguousarray(vol, dtype=np.float64),
        )

    def bar(self, i: int) -> Bar:
        """Return bar ``i`` as a record."""
        return Bar(
            self.instrument_id,
            int(self.ts[i]),
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )

    def slice(self, start: int, stop: int) -> BarSeries:
        """Return bars ``start`` to ``stop`` (exclusive) as views, without copying."""
        return BarSeries(
            self.instrument_id,
            self.ts[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )

    def with_instrument(self, instrument_id: str) -> BarSeries:
        """Return the same bars under another instrument id."""
        return BarSeries(
            instrument_id, self.ts, self.open, self.high, self.low, self.close, self.volume
        )
