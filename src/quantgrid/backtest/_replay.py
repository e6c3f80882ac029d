"""Tick and quote replays: the core driven by quotes, trades and book snapshots.

The components are those of a bar backtest (clock, bus, prices, portfolio, execution
engine, optional risk engine, strategies); the venue is the ``OrderBookVenue``, which
models queue position, partial fills, fees and latency.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from types import MappingProxyType
from typing import Any, NoReturn

import numpy as np

from quantgrid.core import MessageBus, PriceCache, TestClock, ns_to_iso
from quantgrid.execution import EXECUTE_ENDPOINT, ExecutionEngine
from quantgrid.model import (
    FloatArray,
    Instrument,
    IntArray,
    InvalidMarketDataError,
    Order,
    OrderBookDepth,
    OrderFilled,
    QuoteTick,
    TradeTick,
)
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.risk import (
    RISK_ENDPOINT,
    RiskConfig,
    RiskEngine,
    RiskRejection,
    TradingStateChanged,
)
from quantgrid.strategy import Strategy, StrategyError, StrategyParameterError
from quantgrid.venues import BookVenueConfig, OrderBookVenue

MarketData = QuoteTick | TradeTick | OrderBookDepth
REPLAY_VENUE = "BOOK"
_TOPIC_PREFIX: dict[type, str] = {
    QuoteTick: "data.quotes.",
    TradeTick: "data.trades.",
    OrderBookDepth: "data.book.",
}


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Settings of one replay.

    Parameters
    ----------
    instruments
        The instruments the data and strategies use: a sequence of ``Instrument``, or a
        mapping from id to instrument. Kept as a read-only mapping.
    initial_cash
        Starting cash in the instruments' currency.
    leverage
        Buying power is ``equity * leverage - gross exposure``.
    venue
        How the order book venue matches orders: fees, latency, queue model.
    risk
        Pre-trade limits; when set, every strategy order goes through a ``RiskEngine``
        first, as in a bar backtest.
    """

    instruments: Mapping[str, Instrument] | Sequence[Instrument]
    initial_cash: float = 100_000.0
    leverage: float = 1.0
    venue: BookVenueConfig = field(default_factory=BookVenueConfig)
    risk: RiskConfig | None = None

    def __post_init__(self) -> None:
        def fail(name: str, rule: str, value: object = None) -> NoReturn:
            shown = getattr(self, name) if value is None else value
            msg = f"ReplayConfig.{name} {rule}, got {shown!r}"
            raise ValueError(msg)

        def number(value: object) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool)

        given = self.instruments
        pairs: list[tuple[object, object]] = []
        if isinstance(given, Mapping):
            pairs = list(given.items())
        elif isinstance(given, Sequence) and not isinstance(given, str):
            pairs = [(getattr(i, "id", None), i) for i in given]
        else:
            fail("instruments", "must be a sequence of Instrument or a mapping of them")
        if not pairs:
            fail("instruments", "must name at least one instrument")
        instruments: dict[str, Instrument] = {}
        for key, instrument in pairs:
            if not isinstance(instrument, Instrument):
                fail("instruments", "must hold Instrument objects", instrument)
            if key != instrument.id:
                fail("instruments", f"maps {key!r} to the instrument {instrument.id!r}", key)
            if instrument.id in instruments:
                fail("instruments", "names one instrument twice", key)
            instruments[instrument.id] = instrument
        currencies = sorted({i.currency for i in instruments.values()})
        if len(currencies) > 1:
            fail("instruments", "must all trade in one currency", currencies)
        object.__setattr__(self, "instruments", MappingProxyType(instruments))
        if not (number(self.initial_cash) and math.isfinite(self.initial_cash)):
            fail("initial_cash", "must be a number")
        if not self.initial_cash > 0:
            fail("initial_cash", "must be a positive number")
        if not (number(self.leverage) and math.isfinite(self.leverage) and self.leverage > 0):
            fail("leverage", "must be a positive number")
        if not isinstance(self.venue, BookVenueConfig):
            fail("venue", "must be a BookVenueConfig")
        if self.risk is not None and not isinstance(self.risk, RiskConfig):
            fail("risk", "must be a RiskConfig or None")

    def instrument_map(self) -> dict[str, Instrument]:
        """Return the instruments by id."""
        assert isinstance(self.instruments, Mapping)  # normalised in __post_init__
        return dict(self.instruments)


@dataclass(frozen=True, slots=True, eq=False)
class ReplayResult:
    """The outcome of one replay.

    Attributes
    ----------
    orders
        Every order the strategies created, in creation order, in its final state.
    fills
        Every fill, in order.
    ts, equity
        Equity (cash plus positions marked at the last trade or mid) after each data
        item, with the item's timestamp.
    cash, final_equity, positions
        Cash, equity and the signed open positions at the end.
    commissions
        Total commission paid (negative for a net maker rebate).
    trading_states, risk_rejections
        With ``ReplayConfig.risk``: every trading-state change and every order the risk
        checks denied, in order (empty without it).
    """

    orders: tuple[Order, ...]
    fills: tuple[OrderFilled, ...]
    ts: IntArray
    equity: FloatArray
    cash: float
    final_equity: float
    positions: dict[str, float]
    commissions: float
    trading_states: tuple[TradingStateChanged, ...] = ()
    risk_rejections: tuple[RiskRejection, ...] = ()


class ReplayEngine:
    """Replays market data through the order book venue to strategies and algorithms.

    The node is wired on construction, so that components other than strategies
    (execution algorithms, say) can be attached to ``bus``, ``clock`` and ``execution``
    before ``run``. Strategies added with ``add_strategy`` are attached at the start of
    the run and send their orders to ``order_endpoint`` (the risk engine when
    ``config.risk`` is set, else the execution engine).

    Notes
    -----
    For each data item, in order: the clock advances to its timestamp (firing latency
    alerts and timers due by then), the venue matches it, then it is published on
    ``data.quotes.<id>``, ``data.trades.<id>`` or ``data.book.<id>``. Commands still on
    their way to the venue when the data ends are never delivered.
    """

    def __init__(self, config: ReplayConfig, start_ns: int = 0) -> None:
        if not isinstance(config, ReplayConfig):
            msg = f"ReplayEngine needs a ReplayConfig, got {type(config).__name__}"
            raise TypeError(msg)
        self.config = config
        self.instruments = config.instrument_map()
        self.clock = TestClock(start_ns)
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.portfolio = Portfolio(
            self.bus, self.prices, self.instruments, config.initial_cash, config.leverage
        )
        self.venue = OrderBookVenue(
            REPLAY_VENUE,
            self.bus,
            self.clock,
            self.prices,
            self.instruments,
            self.portfolio,
            config.venue,
        )
        self.execution = ExecutionEngine(
            self.bus, self.clock, self.venue.endpoint, self.instruments
        )
        self.view = PortfolioView(self.portfolio)
        self.order_endpoint = EXECUTE_ENDPOINT
        self.risk: RiskEngine | None = None
        self._risk_events: list[TradingStateChanged] = []
        if config.risk is not None:
            self.risk = RiskEngine(
                self.bus, self.clock, self.view, self.instruments, config.risk, self.execution
            )
            self.bus.subscribe("events.risk.state", self._risk_events.append)
            self.order_endpoint = RISK_ENDPOINT
        self._strategies: list[Strategy] = []
        self._ran = False

    def add_strategy(self, strategy: Strategy) -> None:
        """Add a strategy; it trades every instrument of the config."""
        if any(s.id == strategy.id for s in self._strategies):
            msg = f"two strategies share the id {strategy.id!r}; give one another strategy_id"
            raise ValueError(msg)
        self._strategies.append(strategy)

    def run(self, data: Iterable[MarketData]) -> ReplayResult:
        """Replay ``data`` (quotes, trades and book snapshots in time order) once.

        Raises
        ------
        ValueError
            If there is no data or an item goes back in time; the message names the
            item's index.
        InvalidMarketDataError
            A ``ValueError`` for an item that names an unknown instrument or is
            malformed; the message names the item's index and the rule.
        TypeError
            If an item is not a ``QuoteTick``, ``TradeTick`` or ``OrderBookDepth``.
        StrategyError
            If a strategy (or anything reacting to the data) raises; the message names
            the item.
        """
        if self._ran:
            raise RuntimeError("a ReplayEngine runs once; build a new one to run again")
        self._ran = True
        items = iter(data)
        first = next(items, None)
        if first is None:
            raise ValueError("no data: a replay needs at least one quote, trade or book")
        clock, bus, venue = self.clock, self.bus, self.venue
        handlers: dict[type, Callable[[Any], None]] = {
            QuoteTick: venue.on_quote,
            TradeTick: venue.on_trade,
            OrderBookDepth: venue.on_depth,
        }
        _check_item(0, first, clock.timestamp_ns(), handlers)
        clock.advance_to(first.ts_event)
        for strategy in self._strategies:
            strategy.attach(
                clock, bus, self.view, self.instruments, order_endpoint=self.order_endpoint
            )
            _call(strategy, strategy.on_start, "on_start")

        topics: dict[tuple[type, str], str] = {}
        publish = bus.publish
        equity = self.portfolio.equity
        ts_out = array("q")
        equity_out = array("d")
        last_ts = first.ts_event
        for i, item in enumerate(chain([first], items)):
            kind = type(item)
            ts = item.ts_event
            if i:
                _check_item(i, item, last_ts, handlers)
            iid = item.instrument_id
            topic = topics.get((kind, iid))
            if topic is None:
                topic = topics[kind, iid] = _TOPIC_PREFIX[kind] + iid
            try:
                clock.advance_to(ts)
                handlers[kind](item)  # checks the item before it changes anything
                publish(topic, item)
            except InvalidMarketDataError as exc:
                msg = f"data item {i} ({_describe(item)}): {exc}"
                raise InvalidMarketDataError(msg) from None
            except StrategyError:
                raise
            except Exception as exc:
                msg = f"replay failed on data item {i} ({_describe(item)}): "
                msg += f"{type(exc).__name__}: {exc}"
                raise StrategyError(msg) from exc
            ts_out.append(ts)
            equity_out.append(equity())
            last_ts = ts

        for strategy in self._strategies:
            _call(strategy, strategy.on_stop, "on_stop")
        portfolio = self.portfolio
        return ReplayResult(
            orders=self.execution.orders,
            fills=tuple(portfolio.fills),
            ts=np.frombuffer(ts_out, dtype=np.int64).copy(),
            equity=np.frombuffer(equity_out, dtype=np.float64).copy(),
            cash=portfolio.cash,
            final_equity=portfolio.equity(),
            positions=portfolio.open_positions(),
            commissions=portfolio.account.commissions,
            trading_states=tuple(self._risk_events),
            risk_rejections=self.risk.rejections if self.risk is not None else (),
        )


def run_replay(
    config: ReplayConfig,
    strategies: Strategy | Iterable[Strategy],
    data: Iterable[MarketData],
) -> ReplayResult:
    """Replay ``data`` through the order book venue to ``strategies`` and return the result."""
    engine = ReplayEngine(config)
    for strategy in [strategies] if isinstance(strategies, Strategy) else strategies:
        engine.add_strategy(strategy)
    return engine.run(data)


def _describe(item: MarketData) -> str:
    return f"{type(item).__name__} of {item.instrument_id} at {ns_to_iso(item.ts_event)}"


def _check_item(
    index: int, item: object, last_ts: int, handlers: Mapping[type, Callable[[Any], None]]
) -> None:
    if type(item) not in handlers:
        msg = (
            f"data item {index} is a {type(item).__name__}; a replay takes QuoteTick, "
            "TradeTick and OrderBookDepth"
        )
        raise TypeError(msg)
    assert isinstance(item, QuoteTick | TradeTick | OrderBookDepth)
    if item.ts_event < last_ts:
        what = "the clock's start" if index == 0 else f"item {index - 1}"
        msg = (
            f"data item {index} ({_describe(item)}) goes back in time: it is earlier than "
            f"{what} at {ns_to_iso(last_ts)}; a replay needs data in time order"
        )
        raise ValueError(msg)


def _call(strategy: Strategy, hook: Callable[[], None], name: str) -> None:
    try:
        hook()
    except StrategyParameterError:
        raise
    except Exception as exc:
        msg = f"strategy {strategy.id} failed in {name}: {type(exc).__name__}: {exc}"
        raise StrategyError(msg) from exc
