"""``MarketFeed``: quotes from the market-data upstream into the paper trading node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Counter
from pydantic import Field

from quantgrid.adapters.market_data import InMemorySource, MarketDataSource
from quantgrid.model import Instrument, QuoteTick
from quantgrid.node import TradingNode
from quantgrid.services import ServiceMetrics, ServiceSettings

_log = logging.getLogger("quantgrid.runtime.feed")

#: Units quoted on each side when the source gives no sizes (none of them does).
DEFAULT_QUOTE_SIZE = 10_000.0


class FeedSettings(ServiceSettings):
    """How the trading node's process feeds it market data, besides the common settings.

    Attributes
    ----------
    feed_interval_s
        Seconds between two rounds of quotes (``QUANTGRID_FEED_INTERVAL_S``); ``0``
        feeds nothing.
    """

    feed_interval_s: float = Field(default=1.0, ge=0, le=3600)


class MarketFeed:
    """Feed the node one quote of each instrument it trades, every ``interval_s``.

    Parameters
    ----------
    node
        The trading node; quotes go to its ``on_quote``.
    source
        The market-data upstream.
    interval_s
        Seconds between two rounds (greater than 0).
    quote_size
        Units quoted on each side.
    metrics
        The service's metrics to count on (``quantgrid_feed_quotes_total``,
        ``quantgrid_feed_failures_total``); None counts only on the feed.
    sleep
        Waits between rounds (``asyncio.sleep``; a test may pass its own).

    Attributes
    ----------
    quotes, failures, outages
        Quotes handed to the node, quotes that could not be made or were refused, and
        outages (runs of rounds with a failure) since the start.
    last_quotes
        The last quote fed of each instrument.

    Notes
    -----
    Where the prices come from:

    - An ``InMemorySource`` (the seeded ``SyntheticSource`` is one) only holds history
      and never moves, so its bars are **replayed** in wall-clock time: round ``n``
      quotes each instrument around the close of its bar ``n``, starting at the first
      bar and wrapping around after the last. The half spread is the source's
      ``half_spread`` (the synthetic market's tick), else one tick.
    - Any other source is asked for its ``ticker`` each round: its bid and ask when it
      has both, else one tick of the instrument either side of ``last``.

    Prices are rounded to the node's instrument tick, and a quote is never crossed or
    locked (the ask is at least one tick above the bid). Quotes are stamped with the
    node's clock. Nothing the source raises stops the feed: a failure is counted, the
    first of an outage is logged (with the error) and the next round tries again; the
    first clean round after it logs the recovery.
    """

    def __init__(
        self,
        node: TradingNode,
        source: MarketDataSource,
        interval_s: float,
        *,
        quote_size: float = DEFAULT_QUOTE_SIZE,
        metrics: ServiceMetrics | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not interval_s > 0:
            msg = f"interval_s must be greater than 0, got {interval_s!r}"
            raise ValueError(msg)
        if not quote_size > 0:
            msg = f"quote_size must be greater than 0, got {quote_size!r}"
            raise ValueError(msg)
        self.node = node
        self.source = source
        self.interval_s = interval_s
        self.quote_size = quote_size
        self._sleep = sleep
        self._instruments: list[Instrument] = list(node.instruments.values())
        self._round = 0
        self._down = False
        self._task: asyncio.Task[None] | None = None
        self.quotes = 0
        self.failures = 0
        self.outages = 0
        self.last_quotes: dict[str, QuoteTick] = {}
        self._quotes_counter: Counter | None = None
        self._failures_counter: Counter | None = None
        if metrics is not None:
            self._quotes_counter = metrics.counter(
                "feed_quotes", "Quotes the market feed handed to the trading node."
            )
            self._failures_counter = metrics.counter(
                "feed_failures", "Quotes the market feed could not make or the node refused."
            )

    @property
    def running(self) -> bool:
        """Tell whether the feed's task runs."""
        return self._task is not None and not self._task.done()

    @property
    def down(self) -> bool:
        """Tell whether the last round had a failure."""
        return self._down

    def stats(self) -> dict[str, int | bool]:
        """Return the feed's counters."""
        return {
            "quotes": self.quotes,
            "failures": self.failures,
            "outages": self.outages,
            "rounds": self._round,
            "down": self._down,
        }

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Start feeding in a task of the running loop; the first round comes at once."""
        if self._task is not None:
            raise RuntimeError("the market feed is already started")
        self._task = asyncio.create_task(self._run(), name="quantgrid-market-feed")

    async def stop(self) -> None:
        """Stop feeding and wait for the task to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            await self.step()
            await self._sleep(self.interval_s)

    # -- one round -----------------------------------------------------------------------
    async def step(self) -> int:
        """Feed one quote of each instrument; return how many the node took.

        Never raises for the source or a refused quote: those are counted in
        ``failures``.
        """
        fed, errors = 0, []
        for instrument in self._instruments:
            try:
                quote = await self._quote(instrument)
                self.node.on_quote(quote)
            except Exception as error:  # a failing upstream must not end the feed
                errors.append((instrument.id, error))
                continue
            self.last_quotes[instrument.id] = quote
            fed += 1
        self._round += 1
        self._count(fed, errors)
        return fed

    def _count(self, fed: int, errors: list[tuple[str, Exception]]) -> None:
        self.quotes += fed
        self.failures += len(errors)
        if self._quotes_counter is not None and fed:
            self._quotes_counter.inc(fed)
        if self._failures_counter is not None and errors:
            self._failures_counter.inc(len(errors))
        if errors and not self._down:
            self._down = True
            self.outages += 1
            symbol, error = errors[0]
            _log.warning(
                "market feed from %s failing (%d of %d instruments), retrying every %gs: "
                "%s: %s: %s",
                self.source.name,
                len(errors),
                len(self._instruments),
                self.interval_s,
                symbol,
                type(error).__name__,
                error,
            )
        elif not errors and self._down:
            self._down = False
            _log.info("market feed from %s recovered", self.source.name)

    async def _quote(self, instrument: Instrument) -> QuoteTick:
        bid, ask = await self._prices(instrument)
        tick = instrument.price_increment
        bid = instrument.round_price(bid)
        ask = max(instrument.round_price(ask), instrument.round_price(bid + tick))
        size = self.quote_size
        ts = self.node.clock.timestamp_ns()
        return QuoteTick(instrument.id, ts, bid, ask, size, size)

    async def _prices(self, instrument: Instrument) -> tuple[float, float]:
        """Return the bid and ask to quote, before rounding to the tick."""
        source, symbol = self.source, instrument.id
        if isinstance(source, InMemorySource):
            close = source.bars(symbol).close
            mid = float(close[self._round % len(close)])
            half = source.half_spread or instrument.price_increment
            return mid - half, mid + half
        ticker = await source.ticker(symbol)
        if ticker.bid is not None and ticker.ask is not None and ticker.bid < ticker.ask:
            return ticker.bid, ticker.ask
        half = instrument.price_increment
        return ticker.last - half, ticker.last + half
