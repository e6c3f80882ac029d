"""The backtest engine: wires the core components and drives them with historical bars.

The components are the ones paper and live trading use (bus, execution engine, venue
port, portfolio, strategies); only the clock (a ``TestClock``) and the venue (the
``SimulatedVenue``) are the backtest's own.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quantgrid.analytics import compute_statistics
from quantgrid.backtest._result import BacktestResult
from quantgrid.core import MessageBus, PriceCache, TestClock, ns_to_iso
from quantgrid.execution import EXECUTE_ENDPOINT, ExecutionEngine
from quantgrid.model import (
    Bar,
    BarSeries,
    CancelAllOrders,
    Instrument,
    Order,
    OrderSide,
    OrderType,
    SubmitOrder,
)
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.regime import RegimeDetector, RegimeTracker
from quantgrid.risk import RISK_ENDPOINT, RiskConfig, RiskEngine, TradingStateChanged
from quantgrid.strategy import Strategy, StrategyError, StrategyParameterError
from quantgrid.venues import (
    CommissionModel,
    NoCommission,
    PercentCommission,
    SimulatedVenue,
    SlippageModel,
    SpreadModel,
    VenueConfig,
)

ProgressCallback = Callable[[int, int], None]
_END_STRATEGY_ID = "backtest-end"


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """Settings of one backtest.

    Parameters
    ----------
    initial_cash
        Starting cash in the instruments' currency.
    commission
        A fraction of traded value (``0.001`` = 0.1 %, charged on every fill, so on
        both sides of a round trip) or any ``CommissionModel``.
    spread, slippage, max_volume_fraction, check_buying_power
        Passed to the simulated venue; see ``VenueConfig``.
    leverage
        Buying power is ``equity * leverage - gross exposure``.
    close_at_end
        Close the positions still open after the last bar at its close (taker costs
        apply), so they appear in the trade ledger and statistics.
    instruments
        Tick size, lot size and multiplier per instrument id; others get the defaults
        of ``Instrument`` (tick 0.01, lot 1).
    periods_per_year, risk_free_rate
        Conventions of the statistics (see ``quantgrid.analytics``).
    chunk_size
        Bars converted from arrays to Python values at a time; bounds memory.
    risk
        Pre-trade limits and breakers; when set, every strategy order goes through a
        ``RiskEngine`` first. ``None`` sends orders straight to the execution engine.
    regime
        A ``RegimeDetector`` whose model labels every instrument at every timestamp
        during the run (a ``RegimeTracker`` on the bus); the risk engine then denies new
        entries while an instrument is in one of ``risk.blocked_regimes`` (CHOPPY and
        CRISIS by default). Needs ``risk``. The detector itself is not changed: each
        run streams through a fresh one with its model.
    """

    initial_cash: float = 100_000.0
    commission: float | CommissionModel = 0.0
    spread: SpreadModel | None = None
    slippage: SlippageModel | None = None
    max_volume_fraction: float | None = None
    check_buying_power: bool = True
    leverage: float = 1.0
    close_at_end: bool = True
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    periods_per_year: int | None = None
    risk_free_rate: float = 0.0
    chunk_size: int = 65_536
    risk: RiskConfig | None = None
    regime: RegimeDetector | None = None

    def __post_init__(self) -> None:
        def fail(name: str, rule: str) -> None:
            msg = f"BacktestConfig.{name} {rule}, got {getattr(self, name)!r}"
            raise ValueError(msg)

        def number(value: object) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool)

        if not (number(self.initial_cash) and math.isfinite(self.initial_cash)):
            fail("initial_cash", "must be a number")
        if not self.initial_cash > 0:
            fail("initial_cash", "must be a positive number")
        if number(self.commission) and not 0 <= self.commission < 1:  # type: ignore[operator]
            fail("commission", "must be a fraction in [0, 1)")
        if not (number(self.leverage) and math.isfinite(self.leverage) and self.leverage > 0):
            fail("leverage", "must be positive")
        frac = self.max_volume_fraction
        if frac is not None and not (number(frac) and 0 < frac <= 1):
            fail("max_volume_fraction", "must be in (0, 1] or None")
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int):
            fail("chunk_size", "must be a whole number")
        if self.chunk_size < 1:
            fail("chunk_size", "must be >= 1")
        ppy = self.periods_per_year
        if ppy is not None and (isinstance(ppy, bool) or not isinstance(ppy, int) or ppy < 1):
            fail("periods_per_year", "must be a whole number >= 1 or None")
        rf = self.risk_free_rate
        if not (number(rf) and math.isfinite(rf) and -1 < rf < 1):
            fail("risk_free_rate", "must be an annual rate in (-1, 1)")
        if self.risk is not None and not isinstance(self.risk, RiskConfig):
            fail("risk", "must be a RiskConfig or None")
        if self.regime is not None:
            if not isinstance(self.regime, RegimeDetector):
                fail("regime", "must be a RegimeDetector or None")
            if self.risk is None:
                msg = (
                    "BacktestConfig.regime feeds the risk engine's regime block, so it needs "
                    "risk too (e.g. risk=RiskConfig())"
                )
                raise ValueError(msg)

    def commission_model(self) -> CommissionModel:
        """Return the commission as a model."""
        if isinstance(self.commission, float | int):
            return PercentCommission(float(self.commission)) if self.commission else NoCommission()
        return self.commission


class BacktestEngine:
    """Runs strategies over historical bars through the full order path.

    Examples
    --------
    >>> engine = BacktestEngine(BacktestConfig(initial_cash=10_000))
    >>> engine.add_data(series)  # doctest: +SKIP
    >>> engine.add_strategy(SmaCross({"fast": 10, "slow": 30}))  # doctest: +SKIP
    >>> result = engine.run()  # doctest: +SKIP
    """

    def __init__(self, config: BacktestConfig | None = None) -> None:
        self.config = config or BacktestConfig()
        self._data: dict[str, BarSeries] = {}
        self._strategies: list[Strategy] = []
        self._ran = False

    def add_data(self, data: BarSeries | Iterable[BarSeries]) -> None:
        """Add the bars of one or more instruments."""
        for series in [data] if isinstance(data, BarSeries) else data:
            if series.instrument_id in self._data:
                msg = f"data for instrument {series.instrument_id!r} was added twice"
                raise ValueError(msg)
            if len(series) == 0:
                msg = f"data for instrument {series.instrument_id!r} has no bars"
                raise ValueError(msg)
            self._data[series.instrument_id] = series

    def add_strategy(self, strategy: Strategy) -> None:
        """Add a strategy; it trades every instrument of the data."""
        if any(s.id == strategy.id for s in self._strategies):
            msg = f"two strategies share the id {strategy.id!r}; give one another strategy_id"
            raise ValueError(msg)
        self._strategies.append(strategy)

    def run(self, progress: ProgressCallback | None = None) -> BacktestResult:
        """Run the backtest once and return its result."""
        if self._ran:
            raise RuntimeError("a BacktestEngine runs once; build a new one to run again")
        if not self._data:
            raise ValueError("no data: add bars with add_data() before run()")
        if not self._strategies:
            raise ValueError("no strategy: add one with add_strategy() before run()")
        self._ran = True
        started = time.perf_counter()
        config = self.config
        instruments = _instruments_for(self._data, config.instruments)
        check_ticks(self._data, instruments)
        first_ts = min(int(s.ts[0]) for s in self._data.values())
        clock = TestClock(first_ts)
        bus = MessageBus()
        prices = PriceCache()
        portfolio = Portfolio(bus, prices, instruments, config.initial_cash, config.leverage)
        venue = SimulatedVenue(
            "SIM",
            bus,
            clock,
            prices,
            instruments,
            portfolio,
            VenueConfig(
                commission=config.commission_model(),
                spread=config.spread,
                slippage=config.slippage,
                max_volume_fraction=config.max_volume_fraction,
                check_buying_power=config.check_buying_power,
            ),
        )
        execution = ExecutionEngine(bus, clock, venue.endpoint, instruments)
        view = PortfolioView(portfolio)
        endpoint = EXECUTE_ENDPOINT
        risk_events: list[TradingStateChanged] = []
        risk: RiskEngine | None = None
        if config.risk is not None:
            regime_of = None
            if config.regime is not None:
                # A fresh detector per run: the config's may be shared by many runs.
                detector = RegimeDetector(config.regime.model)
                regime_of = RegimeTracker(detector, bus, self._data).regime_of
            risk = RiskEngine(bus, clock, view, instruments, config.risk, execution, regime_of)
            bus.subscribe("events.risk.state", risk_events.append)
            endpoint = RISK_ENDPOINT
        history = {iid: _read_only(series) for iid, series in self._data.items()}
        for strategy in self._strategies:
            strategy.attach(clock, bus, view, instruments, order_endpoint=endpoint)
            _call(strategy, functools.partial(strategy.on_data, history), "on_data")
            _call(strategy, strategy.on_start, "on_start")

        self._drive(clock, bus, venue, progress)

        for strategy in self._strategies:
            _call(strategy, strategy.on_stop, "on_stop")
        if config.close_at_end:
            self._settle(clock, execution, venue, portfolio)
        engine_seconds = time.perf_counter() - started

        ts, equity, cash, gross = portfolio.equity_curve(self._data)
        stats = compute_statistics(
            ts,
            equity,
            gross,
            portfolio.closed_trades,
            closes={iid: s.close for iid, s in self._data.items()},
            commissions=portfolio.account.commissions,
            engine_seconds=engine_seconds,
            periods_per_year=config.periods_per_year,
            risk_free_rate=config.risk_free_rate,
        )
        main = self._strategies[0]
        return BacktestResult(
            strategy=main.name
            if len(self._strategies) == 1
            else "+".join(s.name for s in self._strategies),
            params=main.params.model_dump() if len(self._strategies) == 1 else {},
            instruments=tuple(self._data),
            ts=ts,
            equity=equity,
            cash=cash,
            gross_exposure=gross,
            trades=tuple(portfolio.closed_trades),
            fills=tuple(portfolio.fills),
            orders=execution.orders,
            stats=stats,
            bars=dict(self._data),
            initial_cash=config.initial_cash,
            engine_seconds=engine_seconds,
            trading_states=tuple(risk_events),
            risk_rejections=risk.rejections if risk is not None else (),
        )

    def _drive(
        self,
        clock: TestClock,
        bus: MessageBus,
        venue: SimulatedVenue,
        progress: ProgressCallback | None,
    ) -> None:
        """Publish every bar in time order: the hot loop.

        Notes
        -----
        Bars are turned into Python values one chunk at a time (bounded memory), and
        each ``Bar`` is built straight from the zipped row, the cheapest record Python
        can make. The venue sees each bar before the strategies. Bars of several
        instruments with the same timestamp are handled as one moment: every
        instrument's orders are matched at its open, then every close is marked, then
        the strategies see the bars (in the order the data was added), so nothing
        decided at that moment fills at it.
        """
        series = list(self._data.values())
        ids = [s.instrument_id for s in series]
        topics = {iid: f"data.bars.{iid}" for iid in ids}
        total = sum(len(s) for s in series)
        if len(series) == 1:
            only = series[0]
            ts_all, o_all, h_all, l_all = only.ts, only.open, only.high, only.low
            c_all, v_all = only.close, only.volume
            iid_of: Any = None
        else:
            ts_cat = np.concatenate([s.ts for s in series])
            order = np.argsort(ts_cat, kind="stable")
            ts_all = ts_cat[order]
            o_all = np.concatenate([s.open for s in series])[order]
            h_all = np.concatenate([s.high for s in series])[order]
            l_all = np.concatenate([s.low for s in series])[order]
            c_all = np.concatenate([s.close for s in series])[order]
            v_all = np.concatenate([s.volume for s in series])[order]
            iid_of = np.repeat(np.arange(len(series)), [len(s) for s in series])[order]
        id_objects = np.array(ids, dtype=object)
        new_bar = tuple.__new__
        publish = bus.publish
        chunk = self.config.chunk_size
        row: tuple[Any, ...] = ()
        moment: list[Bar] = []
        moment_ts = -1
        try:
            for start in range(0, total, chunk):
                stop = min(start + chunk, total)
                iids = (
                    [ids[0]] * (stop - start)
                    if iid_of is None
                    else id_objects[iid_of[start:stop]].tolist()
                )
                rows = zip(
                    iids,
                    ts_all[start:stop].tolist(),
                    o_all[start:stop].tolist(),
                    h_all[start:stop].tolist(),
                    l_all[start:stop].tolist(),
                    c_all[start:stop].tolist(),
                    v_all[start:stop].tolist(),
                    strict=True,
                )
                if iid_of is None:
                    process = venue.process_bar
                    for row in rows:
                        # The clock's slot is set directly: a method call per bar costs 5 %.
                        clock._ts = row[1]
                        bar = new_bar(Bar, row)
                        process(bar)
                        publish(topics[row[0]], bar)
                else:
                    for row in rows:
                        if row[1] != moment_ts and moment:
                            self._moment(clock, venue, publish, topics, moment)
                            moment = []
                        moment_ts = row[1]
                        moment.append(new_bar(Bar, row))
                    if stop == total and moment:
                        self._moment(clock, venue, publish, topics, moment)
                if progress is not None:
                    progress(stop, total)
        except StrategyError:
            raise
        except Exception as exc:
            where = f"{row[0]} bar at {ns_to_iso(row[1])}" if row else "the first bar"
            msg = f"backtest failed on {where}: {type(exc).__name__}: {exc}"
            raise StrategyError(msg) from exc

    @staticmethod
    def _moment(
        clock: TestClock,
        venue: SimulatedVenue,
        publish: Callable[[str, Any], None],
        topics: dict[str, str],
        bars: list[Bar],
    ) -> None:
        """Handle the bars of several instruments that share one timestamp."""
        clock._ts = bars[0].ts_event
        for bar in bars:
            venue.match_open(bar)
        for bar in bars:
            venue.mark_close(bar)
        for bar in bars:
            publish(topics[bar.instrument_id], bar)

    def _settle(
        self,
        clock: TestClock,
        execution: ExecutionEngine,
        venue: SimulatedVenue,
        portfolio: Portfolio,
    ) -> None:
        """Cancel working orders and close open positions at the last close."""
        for strategy in self._strategies:
            execution.execute(CancelAllOrders(strategy.id, None, clock.timestamp_ns()))
        for n, (iid, quantity) in enumerate(sorted(portfolio.open_positions().items()), 1):
            order = Order(
                client_order_id=f"{_END_STRATEGY_ID}-{n}",
                strategy_id=_END_STRATEGY_ID,
                instrument_id=iid,
                side=OrderSide.SELL if quantity > 0 else OrderSide.BUY,
                order_type=OrderType.MARKET,
                quantity=abs(quantity),
                reduce_only=True,
                tag="end of data",
                ts_init=clock.timestamp_ns(),
            )
            execution.execute(SubmitOrder(order, clock.timestamp_ns()))
            series = self._data[iid]
            venue.settle_at_close(order, series.bar(len(series) - 1))


def _instruments_for(
    data: Mapping[str, BarSeries], given: Mapping[str, Instrument]
) -> dict[str, Instrument]:
    """Return an instrument per data series; refuse specs that match no data."""
    unknown = sorted(set(given) - set(data))
    if unknown:
        msg = (
            f"BacktestConfig.instruments names {', '.join(map(repr, unknown))}, which no data "
            f"has (the data's instruments: {', '.join(map(repr, data))})"
        )
        raise ValueError(msg)
    for iid, instrument in given.items():
        if instrument.id != iid:
            msg = f"BacktestConfig.instruments[{iid!r}] is the instrument {instrument.id!r}"
            raise ValueError(msg)
    instruments = {iid: given.get(iid) or Instrument(iid) for iid in data}
    currencies = sorted({i.currency for i in instruments.values()})
    if len(currencies) > 1:
        msg = (
            f"the instruments trade in {' and '.join(currencies)}: one cash account holds one "
            "currency (accounts in several currencies are not supported yet)"
        )
        raise ValueError(msg)
    return instruments


def check_ticks(data: Mapping[str, BarSeries], instruments: Mapping[str, Instrument]) -> None:
    """Refuse prices too small for the tick: fills are rounded to it, which would ruin them."""
    for iid, series in data.items():
        tick = instruments[iid].price_increment
        lowest = float(series.low.min())
        if lowest < 100 * tick:
            msg = (
                f"instrument {iid}: prices go down to {lowest:g}, less than 100 ticks of "
                f"{tick:g}; fills are rounded to the tick, so set a finer price_increment "
                "(--tick-size on the command line)"
            )
            raise ValueError(msg)


def _read_only(series: BarSeries) -> BarSeries:
    """Return views of the bars that raise if a strategy writes to them."""

    def frozen(column: Any) -> Any:
        view = column.view()
        view.flags.writeable = False
        return view

    return BarSeries(
        series.instrument_id,
        frozen(series.ts),
        frozen(series.open),
        frozen(series.high),
        frozen(series.low),
        frozen(series.close),
        frozen(series.volume),
    )


def _call(strategy: Strategy, hook: Callable[[], None], name: str) -> None:
    try:
        hook()
    except StrategyParameterError:
        raise  # already names the strategy, the parameter and the rule
    except Exception as exc:
        msg = f"strategy {strategy.id} failed in {name}: {type(exc).__name__}: {exc}"
        raise StrategyError(msg) from exc


def run_backtest(
    strategy: Strategy | type[Strategy],
    data: BarSeries | Iterable[BarSeries],
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Run one strategy over ``data`` and return the result.

    ``strategy`` is a ``Strategy`` instance, or a class built with ``params``.
    """
    if isinstance(strategy, Strategy):
        if params:
            raise ValueError("pass params to the strategy's constructor, not to run_backtest")
        instance = strategy
    else:
        instance = strategy(params)
    engine = BacktestEngine(config)
    engine.add_data(data)
    engine.add_strategy(instance)
    return engine.run(progress)
