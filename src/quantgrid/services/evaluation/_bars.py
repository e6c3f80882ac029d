"""Bars of one instrument over a window, fetched from a source a chunk at a time."""

from __future__ import annotations

import numpy as np

from quantgrid.adapters.market_data import MarketDataSource, Timeframe
from quantgrid.model import BarSeries

#: The most requests one window may take: a source that keeps answering full chunks
#: past this is answering nonsense, and the window is refused rather than looped on.
MAX_FETCHES = 1_000


async def fetch_bars(
    source: MarketDataSource,
    symbol: str,
    start: int,
    end: int,
    timeframe: Timeframe,
    *,
    chunk: int,
) -> BarSeries:
    """Return every ``timeframe`` bar of ``symbol`` within ``[start, end]``, oldest first.

    Asks for ``chunk`` bars at a time and goes on after the last bar received while a
    whole chunk came back, so a source that caps its answers (a vendor's page limit)
    still gives the whole window.

    Raises
    ------
    ValueError
        If the bars do not come strictly in time order, or the window takes more than
        ``MAX_FETCHES`` requests.
    """
    parts: list[BarSeries] = []
    cursor = start
    for _ in range(MAX_FETCHES):
        got = await source.ohlcv(symbol, cursor, end, timeframe, limit=chunk)
        if len(got):
            parts.append(got)
        if len(got) < chunk:
            break
        # The source answers bars closing at or after ``cursor + timeframe``: the next.
        cursor = int(got.ts[-1])
    else:
        msg = f"bars of {symbol}: more than {MAX_FETCHES} requests of {chunk} bars for one window"
        raise ValueError(msg)
    if not parts:
        return BarSeries.from_arrays(symbol, [], [], [], [], [])
    ts = np.concatenate([p.ts for p in parts])
    if len(ts) > 1 and not bool(np.all(np.diff(ts) > 0)):
        msg = f"bars of {symbol}: {source.name} did not answer them strictly in time order"
        raise ValueError(msg)
    return BarSeries(
        symbol,
        ts,
        np.concatenate([p.open for p in parts]),
        np.concatenate([p.high for p in parts]),
        np.concatenate([p.low for p in parts]),
        np.concatenate([p.close for p in parts]),
        np.concatenate([p.volume for p in parts]),
    )
