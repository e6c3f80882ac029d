"""Trades in columns, and the one place where every accepted input becomes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantgrid.bars._checks import check_finite, check_non_negative, check_ordered
from quantgrid.model import BarSeries, FloatArray, IntArray, TradeTick


@dataclass(frozen=True, slots=True, eq=False)
class TradeSeries:
    """Trades of one instrument in columns, ordered by time.

    Notes
    -----
    Construction checks dtypes and lengths only. The bar builders check the values
    (``ts`` non-decreasing, ``price`` finite, ``size`` finite and >= 0) and name the row.
    """

    instrument_id: str
    ts: IntArray
    price: FloatArray
    size: FloatArray

    def __post_init__(self) -> None:
        if self.ts.dtype != np.int64:
            msg = f"{self.instrument_id}: ts must be int64 nanoseconds, got {self.ts.dtype}"
            raise TypeError(msg)
        for name in ("price", "size"):
            column = getattr(self, name)
            if column.dtype != np.float64:
                msg = f"{self.instrument_id}: {name} must be float64, got {column.dtype}"
                raise TypeError(msg)
            if column.ndim != 1 or len(column) != len(self.ts):
                msg = (
                    f"{self.instrument_id}: column {name} has shape {column.shape}, "
                    f"ts has {len(self.ts)} rows"
                )
                raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def from_arrays(
        cls,
        instrument_id: str,
        ts: npt.ArrayLike,
        price: npt.ArrayLike,
        size: npt.ArrayLike,
    ) -> TradeSeries:
        """Build a series from array-likes, converting dtypes."""
        return cls(
            instrument_id,
            np.ascontiguousarray(ts, dtype=np.int64),
            np.ascontiguousarray(price, dtype=np.float64),
            np.ascontiguousarray(size, dtype=np.float64),
        )

    @classmethod
    def from_ticks(cls, ticks: Sequence[TradeTick], instrument_id: str = "") -> TradeSeries:
        """Build a series from trade records, which must share one instrument id.

        ``instrument_id`` names an empty series; otherwise the ticks' id is used and an
        ``instrument_id`` that differs from it is refused.
        """
        return _from_ticks("TradeSeries.from_ticks", ticks, instrument_id)


def _from_ticks(function: str, ticks: Sequence[TradeTick], instrument_id: str) -> TradeSeries:
    ids = {tick.instrument_id for tick in ticks}
    if instrument_id:
        ids.add(instrument_id)
    if len(ids) > 1:
        msg = f"{function}: trades must share one instrument_id, got {sorted(ids)}"
        raise ValueError(msg)
    n = len(ticks)
    return TradeSeries(
        ids.pop() if ids else "",
        np.fromiter((tick.ts_event for tick in ticks), dtype=np.int64, count=n),
        np.fromiter((tick.price for tick in ticks), dtype=np.float64, count=n),
        np.fromiter((tick.size for tick in ticks), dtype=np.float64, count=n),
    )


TradeSource = TradeSeries | BarSeries | Sequence[TradeTick]
"""What the trade-driven builders accept: trades in columns or records, or bars whose
closes stand for trades of their volume."""


def as_trades(function: str, source: TradeSource) -> TradeSeries:
    """Return ``source`` as checked trades: ordered ts, finite prices, sizes >= 0.

    A ``BarSeries`` becomes one trade per bar at the bar's close and ts, of its volume.
    """
    if isinstance(source, BarSeries):
        trades = TradeSeries(source.instrument_id, source.ts, source.close, source.volume)
        columns = ("bars.ts", "bars.close", "bars.volume")
    elif isinstance(source, TradeSeries):
        trades = source
        columns = ("trades.ts", "trades.price", "trades.size")
    elif (
        isinstance(source, Sequence)
        and not isinstance(source, str)
        and all(isinstance(t, TradeTick) for t in source)
    ):
        trades = _from_ticks(function, source, "")
        columns = ("trades[].ts_event", "trades[].price", "trades[].size")
    else:
        msg = (
            f"{function}: trades must be a TradeSeries, a BarSeries or a sequence of "
            f"TradeTick, got {type(source).__name__}"
        )
        raise TypeError(msg)
    check_ordered(function, columns[0], trades.ts)
    check_finite(function, columns[1], trades.price)
    check_non_negative(function, columns[2], trades.size)
    return trades
