"""The strategy API: one class runs unchanged in backtests and in paper or live trading."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from quantgrid.core import Clock, MessageBus
from quantgrid.execution import EXECUTE_ENDPOINT, link_bracket, link_group
from quantgrid.model import (
    Bar,
    BarSeries,
    CancelAllOrders,
    CancelOrder,
    ContingencyType,
    Instrument,
    ModifyOrder,
    Order,
    OrderBookDepth,
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderType,
    QuoteTick,
    SubmitOrder,
    SubmitOrderList,
    TimeInForce,
    TradeTick,
)
from quantgrid.portfolio import PortfolioView


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: typed, validated, immutable, no unknown names."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class StrategyParameterError(ValueError):
    """A strategy parameter broke a rule; the message names the parameter and the rule.

    ``problems`` pairs each parameter name (``None`` for a rule over several
    parameters, such as fast < slow) with the rule it broke.
    """

    def __init__(self, strategy: str, problems: list[tuple[str | None, str]]) -> None:
        self.strategy = strategy
        self.problems = problems
        lines = "; ".join(
            f"parameter {name!r}: {rule}" if name else rule for name, rule in problems
        )
        super().__init__(f"{strategy}: invalid parameters: {lines}")


class StrategyError(RuntimeError):
    """A strategy raised while handling a bar or an event; the message says where."""


class Bracket(NamedTuple):
    """The orders of a bracket: the entry and the exits that protect it."""

    entry: Order
    stop_loss: Order | None
    take_profit: Order | None


class Strategy:
    """Base class of trading strategies.

    Subclasses set ``name``, declare a ``Params`` model and override the ``on_*`` hooks.
    The engine calls ``on_start`` once, ``on_bar`` for every bar of the strategy's
    instruments in time order, ``on_fill`` for each fill of its own orders, and
    ``on_stop`` once at the end.

    Notes
    -----
    A strategy sees a bar only once it has closed, and its orders can fill on the next
    bar at the earliest: nothing it does can use data from after the current bar.
    It reads the portfolio through a ``PortfolioView`` and cannot change it.
    """

    name: ClassVar[str] = "strategy"
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(
        self, params: StrategyParams | Mapping[str, Any] | None = None, strategy_id: str = ""
    ) -> None:
        self.params = self.parse_params(params)
        self.id = strategy_id or self.name
        self._clock: Clock | None = None
        self._bus: MessageBus | None = None
        self._portfolio: PortfolioView | None = None
        self._instruments: dict[str, Instrument] = {}
        self._order_count = 0
        self._working: dict[str, list[Order]] = {}
        self._order_endpoint = EXECUTE_ENDPOINT

    # -- parameters ----------------------------------------------------------------------
    @classmethod
    def parse_params(cls, params: StrategyParams | Mapping[str, Any] | None) -> StrategyParams:
        """Validate ``params`` against ``Params``, raising ``StrategyParameterError``."""
        if isinstance(params, cls.Params):
            return params
        if isinstance(params, StrategyParams):
            params = params.model_dump()
        try:
            return cls.Params.model_validate(dict(params or {}))
        except ValidationError as exc:
            problems: list[tuple[str | None, str]] = []
            for error in exc.errors():
                name = ".".join(str(part) for part in error["loc"]) or None
                rule = error["msg"].removeprefix("Value error, ")
                if name and error["type"] != "missing":
                    rule += f" (got {error['input']!r})"
                problems.append((name, rule))
            raise StrategyParameterError(cls.name, problems) from None

    # -- wiring (done by the engine) --------------------------------------------------
    def attach(
        self,
        clock: Clock,
        bus: MessageBus,
        portfolio: PortfolioView,
        instruments: Mapping[str, Instrument],
        *,
        order_endpoint: str = EXECUTE_ENDPOINT,
    ) -> None:
        """Connect the strategy to a running engine and subscribe it to its data.

        Commands go to ``order_endpoint``: the execution engine, or a risk engine in
        front of it.
        """
        self._clock = clock
        self._order_endpoint = order_endpoint
        self._bus = bus
        self._portfolio = portfolio
        self._instruments = dict(instruments)
        for instrument_id in self._instruments:
            # The bound hook itself is subscribed: no wrapper call on the per-bar path.
            bus.subscribe(f"data.bars.{instrument_id}", self.on_bar)
            bus.subscribe(f"data.quotes.{instrument_id}", self.on_quote)
            bus.subscribe(f"data.trades.{instrument_id}", self.on_trade)
            bus.subscribe(f"data.book.{instrument_id}", self.on_book)
        bus.subscribe("events.order.>", self._handle_order_event)

    def detach(self) -> None:
        """Undo ``attach``'s subscriptions: the strategy hears nothing more.

        It keeps its clock and bus, so a command sent after (there should be none)
        still goes out; a host removes a strategy only after its ``on_stop``.
        """
        bus = self._bus
        if bus is None:
            return
        for instrument_id in self._instruments:
            bus.unsubscribe(f"data.bars.{instrument_id}", self.on_bar)
            bus.unsubscribe(f"data.quotes.{instrument_id}", self.on_quote)
            bus.unsubscribe(f"data.trades.{instrument_id}", self.on_trade)
            bus.unsubscribe(f"data.book.{instrument_id}", self.on_book)
        bus.unsubscribe("events.order.>", self._handle_order_event)

    def _handle_order_event(self, event: OrderEvent) -> None:
        if event.strategy_id != self.id:
            return
        if type(event) is OrderFilled:
            assert isinstance(event, OrderFilled)
            self.on_fill(event)
        self.on_order_event(event)

    # -- hooks -------------------------------------------------------------------------
    def on_data(self, bars: Mapping[str, BarSeries]) -> None:
        """Pre-compute from the whole history before the run (vectorised indicators).

        Called once before ``on_start`` with every bar the backtest will play, as
        read-only arrays. Whatever is computed here must use, at each index, only values
        up to that index: ``quantgrid check-lookahead`` replays the strategy on cut-short
        data and reports any decision that changes. Live trading never calls it.
        """

    def on_start(self) -> None:
        """Prepare state before the first bar."""

    def on_bar(self, bar: Bar) -> None:
        """React to a closed bar of one of the strategy's instruments."""

    def on_quote(self, quote: QuoteTick) -> None:
        """React to a top-of-book quote (tick and quote replays, paper trading)."""

    def on_trade(self, trade: TradeTick) -> None:
        """React to a trade print of the market (tick replays, paper trading)."""

    def on_book(self, book: OrderBookDepth) -> None:
        """React to an order-book snapshot (depth replays, paper trading)."""

    def on_fill(self, fill: OrderFilled) -> None:
        """React to a fill of one of the strategy's orders."""

    def on_order_event(self, event: OrderEvent) -> None:
        """React to any event of the strategy's orders (rejections, cancels, fills...)."""

    def on_stop(self) -> None:
        """Clean up after the last bar."""

    # -- context -----------------------------------------------------------------------
    @property
    def portfolio(self) -> PortfolioView:
        """Return the read-only view of the portfolio."""
        if self._portfolio is None:
            raise RuntimeError(f"strategy {self.id} is not attached to an engine")
        return self._portfolio

    @property
    def instruments(self) -> tuple[str, ...]:
        """Return the ids of the instruments this strategy trades."""
        return tuple(self._instruments)

    def now_ns(self) -> int:
        """Return the engine clock's time."""
        if self._clock is None:
            raise RuntimeError(f"strategy {self.id} is not attached to an engine")
        return self._clock.timestamp_ns()

    def position(self, instrument_id: str | None = None) -> float:
        """Return the signed net position in an instrument."""
        return self.portfolio.position_quantity(self._instrument_id(instrument_id))

    def check_size(self, size: float | None, parameter: str = "size") -> None:
        """Refuse a fixed order size that is not a whole number of lots of every instrument.

        Raises
        ------
        StrategyParameterError
            Naming the parameter, the instrument and its lot size.
        """
        if size is None:
            return
        for iid, instrument in self._instruments.items():
            if not instrument.is_valid_size(size):
                rule = (
                    f"{size:g} is not a whole number of lots of {iid} "
                    f"(lot size {instrument.size_increment:g})"
                )
                raise StrategyParameterError(self.name, [(parameter, rule)])

    def open_orders(self, instrument_id: str | None = None) -> list[Order]:
        """Return this strategy's orders that can still fill, of one or all instruments.

        The orders are the live ones the engine works on: read them, do not change them.
        """
        keys = [instrument_id] if instrument_id is not None else list(self._working)
        found: list[Order] = []
        for key in keys:
            orders = self._working.get(key)
            if orders:
                orders[:] = [o for o in orders if not o.is_closed]
                found.extend(orders)
        return found

    # -- order helpers -------------------------------------------------------------------
    def buy(
        self,
        quantity: float | None = None,
        instrument_id: str | None = None,
        *,
        price: float | None = None,
        stop: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        cash_fraction: float = 1.0,
        tag: str = "",
    ) -> Order:
        """Submit a buy order: market, or limit with ``price``, stop with ``stop``, or both.

        Without ``quantity`` a market order is sized when it fills, from
        ``cash_fraction`` of the buying power (whole lots, commission included).
        """
        return self._order(
            OrderSide.BUY, quantity, instrument_id, price, stop, time_in_force,
            post_only, reduce_only, cash_fraction, tag,
        )  # fmt: skip

    def sell(
        self,
        quantity: float | None = None,
        instrument_id: str | None = None,
        *,
        price: float | None = None,
        stop: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        cash_fraction: float = 1.0,
        tag: str = "",
    ) -> Order:
        """Submit a sell order (a short sale when flat); arguments as for ``buy``."""
        return self._order(
            OrderSide.SELL, quantity, instrument_id, price, stop, time_in_force,
            post_only, reduce_only, cash_fraction, tag,
        )  # fmt: skip

    def close(self, instrument_id: str | None = None, tag: str = "close") -> Order | None:
        """Submit a reduce-only market order that flattens the position, if there is one."""
        iid = self._instrument_id(instrument_id)
        quantity = self.portfolio.position_quantity(iid)
        if quantity == 0:
            return None
        side = OrderSide.SELL if quantity > 0 else OrderSide.BUY
        return self._order(
            side, abs(quantity), iid, None, None, TimeInForce.GTC, False, True, 1.0, tag
        )

    def submit(self, order: Order) -> Order:
        """Send an order built by hand to the execution engine."""
        if order.strategy_id != self.id:
            msg = f"order {order.client_order_id} belongs to strategy {order.strategy_id!r}"
            raise ValueError(msg)
        self._working.setdefault(order.instrument_id, []).append(order)
        self._send(SubmitOrder(order, self.now_ns()))
        return order

    def bracket(
        self,
        side: OrderSide,
        quantity: float,
        instrument_id: str | None = None,
        *,
        entry_price: float | None = None,
        entry_stop: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Bracket:
        """Submit an entry with a protective stop-loss and/or take-profit.

        The entry is a market order, or a limit (``entry_price``), stop (``entry_stop``)
        or stop-limit (both) order. The exits are reduce-only: a stop at ``stop_loss``
        and a limit at ``take_profit`` on the other side. They wait until the entry
        fills and then work for the quantity filled; when one of them fills completely
        the other is cancelled, and a partial fill of one shrinks the other. An entry
        that ends with nothing filled cancels them.

        Raises
        ------
        InvalidOrderError
            If neither exit is given, or the prices are on the wrong side of each other
            or of the entry (a buy needs stop_loss < entry < take_profit).
        """
        entry = self.make_order(
            side, quantity, instrument_id, price=entry_price, stop=entry_stop,
            time_in_force=time_in_force, tag=tag or "entry",
        )  # fmt: skip
        iid = entry.instrument_id
        exit_side = side.opposite
        sl = tp = None
        if stop_loss is not None:
            sl = self.make_order(
                exit_side, quantity, iid, stop=stop_loss, reduce_only=True, tag="stop_loss"
            )
        if take_profit is not None:
            tp = self.make_order(
                exit_side, quantity, iid, price=take_profit, reduce_only=True, tag="take_profit"
            )
        linked = link_bracket(f"{entry.client_order_id}-bracket", entry, sl, tp)
        orders = iter(linked[1:])
        result = Bracket(
            linked[0],
            next(orders) if sl is not None else None,
            next(orders) if tp is not None else None,
        )
        self.submit_list(result.entry.order_list_id, linked)
        return result

    def submit_oco(self, *orders: Order, one_updates_other: bool = False) -> tuple[Order, ...]:
        """Submit orders built with ``make_order`` as one OCO group.

        A fill, cancel or expiry of one cancels the others. With
        ``one_updates_other`` a partial fill of one shrinks the others instead, so
        together they never trade more than one order's quantity.
        """
        kind = ContingencyType.OUO if one_updates_other else ContingencyType.OCO
        linked = link_group(f"{orders[0].client_order_id}-oco" if orders else "oco", orders, kind)
        self.submit_list(linked[0].order_list_id, linked)
        return linked

    def submit_list(self, order_list_id: str, orders: tuple[Order, ...]) -> None:
        """Send linked orders (see ``quantgrid.execution.link_bracket``) in one command."""
        for order in orders:
            if order.strategy_id != self.id:
                msg = f"order {order.client_order_id} belongs to strategy {order.strategy_id!r}"
                raise ValueError(msg)
            self._working.setdefault(order.instrument_id, []).append(order)
        self._send(SubmitOrderList(order_list_id, orders, self.now_ns()))

    def modify(
        self,
        order: Order,
        *,
        quantity: float | None = None,
        price: float | None = None,
        stop: float | None = None,
    ) -> None:
        """Ask for a working order's quantity, limit price or stop price to change.

        Prices are rounded to the tick. The venue answers with ``OrderUpdated`` or,
        if it refuses, ``OrderModifyRejected`` (the order then works on unchanged).
        """
        instrument = self._instruments[order.instrument_id]
        self._send(
            ModifyOrder(
                order.client_order_id,
                order.instrument_id,
                self.id,
                self.now_ns(),
                quantity=quantity,
                price=None if price is None else instrument.round_price(price),
                trigger_price=None if stop is None else instrument.round_price(stop),
            )
        )

    def cancel(self, order: Order | str) -> None:
        """Ask for a working order to be cancelled."""
        oid = order if isinstance(order, str) else order.client_order_id
        iid = "" if isinstance(order, str) else order.instrument_id
        self._send(CancelOrder(oid, iid, self.id, self.now_ns()))

    def cancel_all(self, instrument_id: str | None = None) -> None:
        """Ask for every working order of this strategy to be cancelled."""
        self._send(CancelAllOrders(self.id, instrument_id, self.now_ns()))

    def save_state(self) -> Mapping[str, Any] | None:
        """Return what the strategy keeps beyond its indicators and orders, or ``None``.

        Paper and live trading keep it across restarts: the host stores it after every
        moment it changed (as a JSON object: strings, numbers, booleans, lists and
        objects, at most 64 KiB) and hands it to ``load_state`` after the warm-up of a
        restart. Indicators come back by the warm-up, working orders and order ids by
        ``resume``; a counter or a flag set in a hook (bars an entry has waited, a
        position's peak) comes back only this way. ``None``, the default: nothing.
        """
        return None

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Take back what ``save_state`` returned before a restart (after the warm-up).

        Raises
        ------
        NotImplementedError
            If the strategy saves state but does not say how to load it.
        """
        msg = f"strategy {self.id} saves state (save_state) but does not load it (load_state)"
        raise NotImplementedError(msg)

    def resume(self, *, orders_sent: int, working: Iterable[Order] = ()) -> None:
        """Continue after a restart: the order ids sent so far and the orders still working.

        Parameters
        ----------
        orders_sent
            How many order ids this strategy issued before the restart: the next one
            is ``<id>-(orders_sent + 1)``.
        working
            The strategy's orders that are still working, as the engine holds them
            (the node's recovered orders): they replace whatever the strategy held as
            working, so ``open_orders()`` returns them, ``cancel()`` reaches them, and
            their later events (which update these very objects) close them.

        Raises
        ------
        ValueError
            If ``orders_sent`` is not a whole number >= 0, or an order is not an
            ``Order``, belongs to another strategy, has ended, is given twice, trades
            an instrument the (attached) strategy does not trade, or has an id
            ``<id>-N`` with N above ``orders_sent`` (that id would be issued again).

        Notes
        -----
        Only the id counter and the working orders come back. Indicators and any
        other attribute a strategy keeps are its own: warm them up on the earlier
        bars, or persist them, before trading on.
        """
        if isinstance(orders_sent, bool) or not isinstance(orders_sent, int) or orders_sent < 0:
            msg = f"Strategy.resume: orders_sent must be a whole number >= 0, got {orders_sent!r}"
            raise ValueError(msg)
        own_id = re.compile(rf"{re.escape(self.id)}-(\d+)")
        restored: dict[str, list[Order]] = {}
        seen: set[str] = set()
        for order in working:
            if not isinstance(order, Order):
                msg = f"Strategy.resume: working must hold Orders, got {type(order).__name__}"
                raise ValueError(msg)
            oid = order.client_order_id
            if order.strategy_id != self.id:
                msg = (
                    f"Strategy.resume: order {oid} belongs to strategy {order.strategy_id!r}, "
                    f"not {self.id!r}"
                )
                raise ValueError(msg)
            if order.is_closed:
                msg = f"Strategy.resume: order {oid} is {order.status.name}, not working"
                raise ValueError(msg)
            if oid in seen:
                msg = f"Strategy.resume: order {oid} is given twice"
                raise ValueError(msg)
            if self._instruments and order.instrument_id not in self._instruments:
                msg = (
                    f"Strategy.resume: order {oid} trades {order.instrument_id!r}, which "
                    f"strategy {self.id} does not trade"
                )
                raise ValueError(msg)
            number = own_id.fullmatch(oid)
            if number is not None and int(number.group(1)) > orders_sent:
                msg = (
                    f"Strategy.resume: order {oid} is working but orders_sent={orders_sent}: "
                    "its id would be issued again"
                )
                raise ValueError(msg)
            seen.add(oid)
            restored.setdefault(order.instrument_id, []).append(order)
        self._order_count = orders_sent
        self._working = restored

    def next_order_id(self) -> str:
        """Return a new client order id, unique within this strategy."""
        self._order_count += 1
        return f"{self.id}-{self._order_count}"

    def _order(
        self,
        side: OrderSide,
        quantity: float | None,
        instrument_id: str | None,
        price: float | None,
        stop: float | None,
        time_in_force: TimeInForce,
        post_only: bool,
        reduce_only: bool,
        cash_fraction: float,
        tag: str,
    ) -> Order:
        return self.submit(
            self.make_order(
                side, quantity, instrument_id, price=price, stop=stop,
                time_in_force=time_in_force, post_only=post_only, reduce_only=reduce_only,
                cash_fraction=cash_fraction, tag=tag,
            )
        )  # fmt: skip

    def make_order(
        self,
        side: OrderSide,
        quantity: float | None = None,
        instrument_id: str | None = None,
        *,
        price: float | None = None,
        stop: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        cash_fraction: float = 1.0,
        tag: str = "",
    ) -> Order:
        """Build an order as ``buy``/``sell`` would, without sending it (for ``submit_oco``).

        The price and stop are rounded to the instrument's tick, the quantity down to
        whole lots.
        """
        iid = self._instrument_id(instrument_id)
        instrument = self._instruments[iid]
        if price is not None and stop is not None:
            order_type = OrderType.STOP_LIMIT
        elif price is not None:
            order_type = OrderType.LIMIT
        elif stop is not None:
            order_type = OrderType.STOP
        else:
            order_type = OrderType.MARKET
        if quantity is not None and math.isfinite(quantity):
            quantity = instrument.round_size_down(quantity) or quantity
        order = Order(
            client_order_id=self.next_order_id(),
            strategy_id=self.id,
            instrument_id=iid,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=None if price is None else instrument.round_price(price),
            trigger_price=None if stop is None else instrument.round_price(stop),
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            cash_fraction=cash_fraction if quantity is None else None,
            tag=tag,
            ts_init=self.now_ns(),
        )
        return order

    def _send(self, command: object) -> None:
        if self._bus is None:
            raise RuntimeError(f"strategy {self.id} is not attached to an engine")
        self._bus.send(self._order_endpoint, command)

    def _instrument_id(self, instrument_id: str | None) -> str:
        if instrument_id is None:
            if len(self._instruments) != 1:
                msg = (
                    f"strategy {self.id} trades {len(self._instruments)} instruments: "
                    "name the instrument_id"
                )
                raise ValueError(msg)
            return next(iter(self._instruments))
        if instrument_id not in self._instruments:
            msg = f"strategy {self.id} does not trade {instrument_id!r}"
            raise ValueError(msg)
        return instrument_id
