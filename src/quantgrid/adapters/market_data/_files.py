"""Sources over bar files that `quantgrid.data.load_bars` reads: CSV and Parquet."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from quantgrid.adapters.market_data import _bars
from quantgrid.adapters.market_data._errors import MalformedPayloadError, UnknownSymbolError
from quantgrid.adapters.market_data._port import (
    Price,
    RequestRate,
    Ticker,
    Timeframe,
    is_symbol,
)
from quantgrid.data import DataValidationError, load_bars
from quantgrid.model import BarSeries

# `save_market` writes the regime labels beside the bar files; they are not a symbol.
_NOT_BARS = frozenset({"regimes"})


class _FileSource:
    """Bars of one symbol per file, ``<SYMBOL><suffix>``, in one directory."""

    suffixes: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = ""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        symbols: Sequence[str] | None = None,
        name: str | None = None,
        half_spread: float | None = None,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            msg = f"{self.kind} source: {self.directory} is not a directory"
            raise ValueError(msg)
        if symbols is not None:
            bad = [s for s in symbols if not is_symbol(s)]
            if bad:
                msg = f"{self.kind} source: not symbols: {bad!r}"
                raise ValueError(msg)
        self._only = None if symbols is None else tuple(dict.fromkeys(symbols))
        self._name = name or self.kind
        self.half_spread = half_spread
        self._loaded: dict[str, tuple[BarSeries, int | None]] = {}
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """Return the upstream's name."""
        return self._name

    @property
    def request_rate(self) -> RequestRate | None:
        """Return None: local files need no rate limit."""
        return None

    def _files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lower() in self.suffixes and path.is_file():
                symbol = path.stem
                if is_symbol(symbol) and symbol not in _NOT_BARS:
                    found.setdefault(symbol, path)
        if self._only is not None:
            found = {s: found[s] for s in self._only if s in found}
        return found

    async def symbols(self) -> list[str]:
        """Return the symbols with a file, in name order (or the order given)."""
        return list(await asyncio.to_thread(self._files))

    async def _series(self, symbol: str) -> tuple[BarSeries, int | None]:
        loaded = self._loaded.get(symbol)
        if loaded is not None:
            return loaded
        async with self._lock:  # one load per file, however many ask at once
            loaded = self._loaded.get(symbol)
            if loaded is None:
                loaded = await asyncio.to_thread(self._load, symbol)
                self._loaded[symbol] = loaded
        return loaded

    def _load(self, symbol: str) -> tuple[BarSeries, int | None]:
        path = self._files().get(symbol) if is_symbol(symbol) else None
        if path is None:
            raise UnknownSymbolError(symbol, self._name)
        try:
            series = load_bars(path, symbol)
        except DataValidationError as exc:
            # Named by file name only: the server's directory layout is not the caller's.
            where = f"row {exc.row}" if exc.row is not None else (exc.column or "file")
            raise MalformedPayloadError(self._name, path.name, where, exc.rule, exc.detail) from exc
        except FileNotFoundError:
            raise UnknownSymbolError(symbol, self._name) from None
        return series, _bars.spacing_ns(series)

    async def latest_price(self, symbol: str) -> Price:
        """Return the last bar's close."""
        series, _ = await self._series(symbol)
        return _bars.latest_price(series)

    async def ohlcv(
        self,
        symbol: str,
        start: int,
        end: int,
        timeframe: Timeframe,
        *,
        limit: int | None = None,
    ) -> BarSeries:
        """Return the bars of ``symbol`` within ``[start, end]``; see `MarketDataSource`."""
        series, base = await self._series(symbol)
        return _bars.window(series, start, end, timeframe, limit=limit, base_ns=base)

    async def ticker(self, symbol: str) -> Ticker:
        """Return the ticker of the last bar."""
        series, _ = await self._series(symbol)
        return _bars.ticker(series, self.half_spread)

    async def close(self) -> None:
        """Forget the loaded bars."""
        self._loaded.clear()


class CsvSource(_FileSource):
    """A market-data source over ``<SYMBOL>.csv`` files in a directory.

    Parameters
    ----------
    directory
        Where the files are; each ``<SYMBOL>.csv`` is one symbol (a file whose name is
        not a symbol, and ``regimes.csv`` from `save_market`, are left out).
    symbols
        Serve only these symbols, in this order; all files if None.
    name
        The upstream's name (``"csv"``).
    half_spread
        Quote the ticker this far either side of the last close; no quotes if None.

    Notes
    -----
    A file is read with `load_bars` on first use, in a worker thread, and kept. A file
    that breaks one of its rules raises `MalformedPayloadError` naming the file (not
    its directory), the row and the rule.
    """

    suffixes = (".csv",)
    kind = "csv"


class ParquetSource(_FileSource):
    """A market-data source over ``<SYMBOL>.parquet`` (or ``.pq``) files in a directory.

    Parameters and behaviour as `CsvSource`.
    """

    suffixes = (".parquet", ".pq")
    kind = "parquet"
