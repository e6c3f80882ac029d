"""Sources that hold their bars in memory: the unit tests' fake and the synthetic market."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from quantgrid.adapters.market_data import _bars
from quantgrid.adapters.market_data._errors import UnknownSymbolError
from quantgrid.adapters.market_data._port import (
    Price,
    RequestRate,
    Ticker,
    Timeframe,
    is_symbol,
)
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.model import BarSeries


class InMemorySource:
    """A market-data source over bar series held in memory: the port's fake.

    Parameters
    ----------
    bars
        Bar series by symbol, each ordered by time (``ts`` strictly increasing).
    name
        The upstream's name in errors and metrics.
    half_spread
        The ticker quotes ``last - half_spread`` and ``last + half_spread``; None gives
        no quotes (bars carry none).

    Notes
    -----
    The latest price is the last bar's close, stamped at its close; the ticker's 24-hour
    figures come from the bars of the last 24 hours. Bars are aggregated to the
    timeframe asked for, which the stored bars' spacing must divide.
    """

    def __init__(
        self,
        bars: Mapping[str, BarSeries],
        *,
        name: str = "memory",
        half_spread: float | None = None,
    ) -> None:
        self._name = name
        self.half_spread = half_spread
        self._bars: dict[str, BarSeries] = {}
        self._base_ns: dict[str, int | None] = {}
        for symbol, series in bars.items():
            self._add(symbol, series)

    def _add(self, symbol: str, series: BarSeries) -> None:
        if not is_symbol(symbol):
            msg = f"{self._name}: {symbol!r} is not a symbol (letters, digits, '.', '_', '-')"
            raise ValueError(msg)
        if len(series) == 0:
            msg = f"{self._name}: {symbol} has no bars"
            raise ValueError(msg)
        if len(series) > 1 and not np.all(np.diff(series.ts) > 0):
            msg = f"{self._name}: the bars of {symbol} must be in strictly increasing time"
            raise ValueError(msg)
        self._bars[symbol] = series.with_instrument(symbol)
        self._base_ns[symbol] = _bars.spacing_ns(series)

    @property
    def name(self) -> str:
        """Return the upstream's name."""
        return self._name

    @property
    def request_rate(self) -> RequestRate | None:
        """Return None: bars in memory need no rate limit."""
        return None

    async def _series(self, symbol: str) -> BarSeries:
        try:
            return self._bars[symbol]
        except KeyError:
            raise UnknownSymbolError(symbol, self._name) from None

    def bars(self, symbol: str) -> BarSeries:
        """Return every bar held for ``symbol``, oldest first (what a replay walks).

        Raises
        ------
        UnknownSymbolError
            If no bars of ``symbol`` are held.
        """
        try:
            return self._bars[symbol]
        except KeyError:
            raise UnknownSymbolError(symbol, self._name) from None

    async def symbols(self) -> list[str]:
        """Return the symbols, in the order given."""
        return list(self._bars)

    @property
    def held(self) -> tuple[str, ...]:
        """The symbols held, in the order given (``symbols`` without awaiting)."""
        return tuple(self._bars)

    async def latest_price(self, symbol: str) -> Price:
        """Return the last bar's close."""
        return _bars.latest_price(await self._series(symbol))

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
        series = await self._series(symbol)
        base = self._base_ns[symbol]
        return _bars.window(series, start, end, timeframe, limit=limit, base_ns=base)

    async def ticker(self, symbol: str) -> Ticker:
        """Return the ticker of the last bar."""
        return _bars.ticker(await self._series(symbol), self.half_spread)

    async def close(self) -> None:
        """Do nothing: there is nothing to release."""


class SyntheticSource(InMemorySource):
    """The seeded synthetic market as a market-data source: the default upstream.

    Parameters
    ----------
    config
        The market's shape (`SyntheticConfig()`: four instruments, 20,000 one-minute
        bars from 2024-01-01).
    seed
        The market's seed; the same config and seed give the same prices, always.
    name
        The upstream's name.

    Notes
    -----
    The market is generated once, when the source is made (under a second for the
    default config), and does not move: the latest price is the last bar's close, so
    every answer is reproducible. The ticker quotes one tick (``config.tick``) either
    side of the last close.
    """

    def __init__(
        self,
        config: SyntheticConfig | None = None,
        *,
        seed: int = 0,
        name: str = "synthetic",
    ) -> None:
        config = SyntheticConfig() if config is None else config
        market = generate_market(config, seed)
        super().__init__(market.bars, name=name, half_spread=config.tick)
        self.config = config
        self.seed = seed
