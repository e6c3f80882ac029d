"""The order book venue: every matching rule of its module docstring.

Each test wires a small node by hand (test clock, real bus, price cache, portfolio,
order book venue, execution engine and a strategy), feeds it quotes, depth snapshots
and prints, and checks the fills and order events against numbers worked out by hand.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.core import NANOS_PER_DAY, MessageBus, PriceCache, TestClock
from quantgrid.execution import ExecutionEngine
from quantgrid.model import (
    CancelOrder,
    Instrument,
    InvalidMarketDataError,
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderBookDepth,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderTriggered,
    OrderType,
    OrderUpdated,
    QuoteTick,
    SubmitOrder,
    TimeInForce,
    TradeTick,
)
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.strategy import Strategy
from quantgrid.venues import (
    BookVenueConfig,
    MakerTakerCommission,
    OrderBookVenue,
    PercentCommission,
)

DAY0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MS = 1_000_000
BUY, SELL = OrderSide.BUY, OrderSide.SELL
S = OrderStatus


class Trader(Strategy):
    """A strategy the tests drive by hand."""

    name: ClassVar[str] = "trader"


class Node:
    """A hand-built trading node around one order book venue."""

    def __init__(
        self,
        config: BookVenueConfig | None = None,
        cash: float = 1_000_000.0,
        instruments: tuple[Instrument, ...] = (Instrument("X"),),
        leverage: float = 1.0,
    ) -> None:
        self.clock = TestClock(DAY0)
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.instruments = {i.id: i for i in instruments}
        self.portfolio = Portfolio(self.bus, self.prices, self.instruments, cash, leverage)
        self.venue = OrderBookVenue(
            "BOOK",
            self.bus,
            self.clock,
            self.prices,
            self.instruments,
            self.portfolio,
            config or BookVenueConfig(),
        )
        self.engine = ExecutionEngine(self.bus, self.clock, self.venue.endpoint, self.instruments)
        self.trader = Trader()
        self.trader.attach(self.clock, self.bus, PortfolioView(self.portfolio), self.instruments)
        self.events: list[OrderEvent] = []
        self.bus.subscribe("events.order.>", self.events.append)
        self.ts = DAY0

    # -- market data: the clock first (latency alerts fire), then the venue ----------------
    def _at(self, dt: int | None, ts: int | None) -> int:
        self.ts = ts if ts is not None else self.ts + (MS if dt is None else dt)
        self.clock.advance_to(self.ts)
        return self.ts

    def quote(
        self,
        bid: float,
        ask: float,
        bid_size: float = 100.0,
        ask_size: float = 100.0,
        *,
        dt: int | None = None,
        ts: int | None = None,
        iid: str = "X",
    ) -> None:
        ts = self._at(dt, ts)
        self.venue.on_quote(QuoteTick(iid, ts, bid, ask, bid_size, ask_size))

    def depth(
        self,
        bids: list[tuple[float, float]],
        asks: list[tuple[float, float]],
        *,
        dt: int | None = None,
        iid: str = "X",
    ) -> None:
        ts = self._at(dt, None)
        self.venue.on_depth(OrderBookDepth(iid, ts, tuple(bids), tuple(asks)))

    def trade(
        self,
        price: float,
        size: float,
        aggressor: OrderSide | None = None,
        *,
        dt: int | None = None,
        iid: str = "X",
    ) -> None:
        ts = self._at(dt, None)
        self.venue.on_trade(TradeTick(iid, ts, price, size, aggressor))

    def wait(self, dt: int) -> None:
        self._at(dt, None)

    # -- orders ----------------------------------------------------------------------------
    def buy(self, quantity: float | None = None, **kwargs: object) -> Order:
        return self.trader.buy(quantity, **kwargs)  # type: ignore[arg-type]

    def sell(self, quantity: float | None = None, **kwargs: object) -> Order:
        return self.trader.sell(quantity, **kwargs)  # type: ignore[arg-type]

    def fills(self, order: Order | None = None) -> list[OrderFilled]:
        return [
            e
            for e in self.events
            if isinstance(e, OrderFilled)
            and (order is None or e.client_order_id == order.client_order_id)
        ]

    def events_of(self, order: Order, kind: type[OrderEvent]) -> list[OrderEvent]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and e.client_order_id == order.client_order_id
        ]

    def reason(self, order: Order) -> str:
        for event in reversed(self.events):
            if event.client_order_id == order.client_order_id and hasattr(event, "reason"):
                return str(event.reason)
        return ""


def px_qty(fills: list[OrderFilled]) -> list[tuple[float, float]]:
    return [(f.last_px, f.last_qty) for f in fills]


BOOK_ASKS = [(100.01, 100.0), (100.02, 200.0), (100.03, 300.0)]
BOOK_BIDS = [(100.00, 300.0), (99.99, 200.0), (99.98, 100.0)]


# -- configuration and data ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latency_ns": -1}, "latency_ns must be a whole number >= 0"),
        ({"latency_ns": 1.5}, "latency_ns must be a whole number >= 0"),
        ({"latency_jitter_ns": True}, "latency_jitter_ns must be a whole number >= 0"),
        ({"seed": -3}, "seed must be a whole number >= 0"),
        ({"queue_position": "optimistic"}, "queue_position must be 'conservative'"),
        ({"commission": 0.001}, "commission must be a CommissionModel"),
        ({"check_buying_power": "yes"}, "check_buying_power must be True or False"),
    ],
)
def test_config_refuses_bad_values_with_the_rule(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BookVenueConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("depth", "message"),
    [
        (OrderBookDepth("X", 0, ((100.0, 5.0),), ((100.0, 5.0),)), "crossed"),
        (OrderBookDepth("X", 0, ((100.0, 5.0),), ((99.5, 5.0),)), "crossed"),
        (OrderBookDepth("X", 0, ((99.0, 5.0), (99.5, 5.0)), ()), "not sorted best first"),
        (OrderBookDepth("X", 0, (), ((101.0, 5.0), (100.5, 5.0))), "not sorted best first"),
        (OrderBookDepth("X", 0, ((99.0, 0.0),), ()), "non-positive size"),
        (OrderBookDepth("X", 0, ((99.0, 5.0),), ((101.0, -1.0),)), "non-positive size"),
        (OrderBookDepth("X", 0, ((float("nan"), 5.0),), ()), "non-positive price"),
    ],
)
def test_depth_validation_names_the_rule(depth: OrderBookDepth, message: str) -> None:
    with pytest.raises(InvalidMarketDataError, match=message):
        depth.validate()
    node = Node()
    with pytest.raises(InvalidMarketDataError, match=message):
        node.venue.on_depth(depth)


def test_depth_validation_accepts_a_sound_book() -> None:
    OrderBookDepth("X", 0, tuple(BOOK_BIDS), tuple(BOOK_ASKS)).validate()
    OrderBookDepth("X", 0, (), ()).validate()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (QuoteTick("X", 0, 100.01, 100.0, 1.0, 1.0), "quote is crossed"),
        (QuoteTick("X", 0, 100.0, 100.0, 1.0, 1.0), "quote is crossed"),
        (QuoteTick("X", 0, 100.005, 100.02, 1.0, 1.0), "not on the tick 0.01"),
        (QuoteTick("X", 0, 100.0, 100.02, 0.0, 1.0), "bid_size must be a positive"),
        (QuoteTick("Y", 0, 100.0, 100.02, 1.0, 1.0), "unknown instrument 'Y'"),
        (TradeTick("X", 0, 100.0, -5.0), "trade size must be a positive"),
        (TradeTick("X", 0, 0.0, 5.0), "trade price must be a positive"),
        (OrderBookDepth("X", 0, ((100.001, 1.0),), ()), "not on the tick"),
    ],
)
def test_bad_market_data_is_refused_with_the_rule(
    item: QuoteTick | TradeTick | OrderBookDepth, message: str
) -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    with pytest.raises(InvalidMarketDataError, match=message):
        node.venue.check(item)
    handler = {
        QuoteTick: node.venue.on_quote,
        TradeTick: node.venue.on_trade,
        OrderBookDepth: node.venue.on_depth,
    }[type(item)]
    with pytest.raises(InvalidMarketDataError, match=message):
        handler(item)  # type: ignore[operator]
    assert node.venue.depth("X").bids == tuple(BOOK_BIDS)  # nothing changed
    assert node.venue.depth("X").asks == tuple(BOOK_ASKS)


def test_unknown_command_is_a_type_error() -> None:
    node = Node()
    with pytest.raises(TypeError, match="cannot handle str"):
        node.venue.execute("buy everything")


# -- the book and the accessors -------------------------------------------------------------
def test_quote_replaces_the_top_level_and_keeps_deeper_levels() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    node.quote(99.99, 100.02, 50.0, 70.0)
    depth = node.venue.depth("X")
    assert depth.bids == ((99.99, 50.0), (99.98, 100.0))
    assert depth.asks == ((100.02, 70.0), (100.03, 300.0))
    node.quote(100.01, 100.03, 10.0, 20.0)  # a new best bid opens a level
    assert node.venue.depth("X").bids == ((100.01, 10.0), (99.99, 50.0), (99.98, 100.0))
    assert node.venue.best_bid("X") == 100.01
    assert node.venue.best_ask("X") == 100.03
    assert node.venue.mid("X") == pytest.approx(100.02)


def test_accessors_of_an_empty_book_and_unknown_instrument() -> None:
    node = Node()
    assert node.venue.best_bid("X") is None
    assert node.venue.best_ask("X") is None
    assert node.venue.mid("X") is None
    assert node.venue.queue_ahead("nope") is None
    assert node.venue.working_orders() == []
    with pytest.raises(KeyError, match="unknown instrument 'Y'"):
        node.venue.best_bid("Y")


def test_trades_and_mids_mark_the_portfolio() -> None:
    node = Node()
    node.quote(100.00, 100.02)
    assert node.prices.last["X"] == pytest.approx(100.01)
    node.buy(10)
    node.trade(101.50, 5.0)
    assert node.prices.last["X"] == 101.50
    # 10 bought at 100.02, marked at the print.
    assert node.portfolio.equity() == pytest.approx(1_000_000 + 10 * (101.50 - 100.02))


# -- taking liquidity -----------------------------------------------------------------------
def test_market_order_walks_the_levels_with_a_partial_fill_per_level() -> None:
    node = Node(BookVenueConfig(commission=MakerTakerCommission(-0.0001, 0.0003)))
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(250)
    fills = node.fills(order)
    assert px_qty(fills) == [(100.01, 100.0), (100.02, 150.0)]
    assert all(f.liquidity_side is LiquiditySide.TAKER for f in fills)
    assert [f.commission for f in fills] == pytest.approx(
        [0.0003 * 100 * 100.01, 0.0003 * 150 * 100.02]
    )
    assert order.status is S.FILLED
    assert order.avg_px == pytest.approx((100 * 100.01 + 150 * 100.02) / 250)
    assert node.venue.depth("X").asks == ((100.02, 50.0), (100.03, 300.0))


def test_taken_liquidity_is_not_filled_twice_until_the_level_updates() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    first = node.buy(100)
    second = node.buy(100)
    assert px_qty(node.fills(first)) == [(100.01, 100.0)]
    assert px_qty(node.fills(second)) == [(100.02, 100.0)]
    node.quote(100.00, 100.01, 300.0, 100.0)  # the level is displayed again
    third = node.buy(100)
    assert px_qty(node.fills(third)) == [(100.01, 100.0)]


def test_market_order_exhausting_the_book_fills_what_there_is_and_cancels_the_rest() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.sell(1_000)
    assert px_qty(node.fills(order)) == [(100.00, 300.0), (99.99, 200.0), (99.98, 100.0)]
    assert order.status is S.CANCELED
    assert order.filled_qty == 600
    assert "exhausted the displayed book: filled 600 of 1000" in node.reason(order)
    assert node.venue.depth("X").bids == ()


def test_market_order_on_an_empty_book_is_cancelled() -> None:
    node = Node()
    order = node.buy(10)
    assert order.status is S.CANCELED
    assert "no displayed liquidity" in node.reason(order)


def test_marketable_limit_takes_up_to_its_price_then_rests_ahead_of_the_bids() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(500, price=100.02)
    assert px_qty(node.fills(order)) == [(100.01, 100.0), (100.02, 200.0)]
    assert order.status is S.PARTIALLY_FILLED
    assert node.venue.working_orders("X") == [order]
    assert node.venue.queue_ahead(order.client_order_id) == 0.0  # it improves the best bid


def test_ioc_limit_fills_what_it_can_and_cancels_the_rest() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(500, price=100.02, time_in_force=TimeInForce.IOC)
    assert px_qty(node.fills(order)) == [(100.01, 100.0), (100.02, 200.0)]
    assert order.status is S.CANCELED
    assert "IOC: remainder cancelled" in node.reason(order)
    away = node.buy(10, price=99.00, time_in_force=TimeInForce.IOC)
    assert away.status is S.CANCELED
    assert "IOC: not marketable on arrival" in node.reason(away)


def test_fok_fills_completely_from_the_displayed_book_or_not_at_all() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    too_big = node.buy(301, price=100.02, time_in_force=TimeInForce.FOK)
    assert node.fills(too_big) == []
    assert too_big.status is S.CANCELED
    assert "FOK: the displayed book holds 300 of 301" in node.reason(too_big)
    fits = node.buy(300, price=100.02, time_in_force=TimeInForce.FOK)
    assert px_qty(node.fills(fits)) == [(100.01, 100.0), (100.02, 200.0)]
    assert fits.status is S.FILLED


def test_fok_beyond_the_buying_power_is_cancelled_unfilled() -> None:
    node = Node(cash=20_000.0)
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(250, time_in_force=TimeInForce.FOK)  # 25_004 of stock
    assert node.fills(order) == []
    assert order.status is S.CANCELED
    assert node.reason(order).startswith("FOK: insufficient buying power: opening 250")


def test_post_only_limit_that_would_cross_is_rejected_naming_the_prices() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    crossing = node.buy(10, price=100.01, post_only=True)
    assert crossing.status is S.REJECTED
    assert node.reason(crossing) == "post-only buy limit 100.01 would cross the best ask 100.01"
    sell = node.sell(10, price=100.00, post_only=True)
    assert node.reason(sell) == "post-only sell limit 100 would cross the best bid 100"
    passive = node.buy(10, price=100.00, post_only=True)
    assert passive.status is S.ACCEPTED
    assert node.venue.queue_ahead(passive.client_order_id) == 300.0


def test_orders_off_the_tick_or_lot_or_for_unknown_instruments_are_rejected() -> None:
    node = Node(instruments=(Instrument("X", price_increment=0.05, size_increment=10.0),))
    node.quote(100.00, 100.05)
    off_tick = node.trader.submit(
        Order("t-1", "trader", "X", BUY, OrderType.LIMIT, 10.0, price=100.02)
    )
    assert "price 100.02 is not a multiple of the tick 0.05" in node.reason(off_tick)
    off_lot = node.trader.submit(Order("t-2", "trader", "X", BUY, OrderType.MARKET, 15.0))
    assert "quantity 15.0 is not a whole number of lots" in node.reason(off_lot)
    assert off_tick.status is S.REJECTED and off_lot.status is S.REJECTED
    unknown = Order("t-3", "trader", "Y", BUY, OrderType.MARKET, 10.0)
    node.engine.execute(SubmitOrder(unknown, node.ts))
    assert "unknown instrument 'Y'" in node.reason(unknown)


# -- resting orders and the queue -----------------------------------------------------------
def test_queue_position_trades_use_up_the_queue_ahead_before_filling_us() -> None:
    node = Node(BookVenueConfig(commission=MakerTakerCommission(-0.0001, 0.0003)))
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(100, price=100.00)
    assert node.venue.queue_ahead(order.client_order_id) == 300.0
    node.trade(100.00, 200.0, SELL)
    assert node.fills(order) == []
    assert node.venue.queue_ahead(order.client_order_id) == 100.0
    node.trade(100.00, 150.0, SELL)
    fills = node.fills(order)
    assert px_qty(fills) == [(100.00, 50.0)]
    assert fills[0].liquidity_side is LiquiditySide.MAKER
    assert fills[0].commission == pytest.approx(-0.0001 * 50 * 100.00)  # a rebate
    assert node.venue.queue_ahead(order.client_order_id) == 0.0
    node.trade(100.00, 80.0)  # unknown aggressor: at the front now, the rest fills
    assert px_qty(node.fills(order)) == [(100.00, 50.0), (100.00, 50.0)]
    assert order.status is S.FILLED


def test_a_print_of_buyers_at_our_bid_does_not_move_the_queue() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(100, price=100.00)
    node.trade(100.00, 500.0, BUY)
    assert node.fills(order) == []
    assert node.venue.queue_ahead(order.client_order_id) == 300.0


def test_a_print_through_our_price_fills_completely_at_our_limit() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    bid = node.buy(100, price=99.99)  # behind 200 at 99.99
    ask = node.sell(40, price=100.03)  # behind 300 at 100.03
    node.trade(99.98, 1.0, SELL)
    assert px_qty(node.fills(bid)) == [(99.99, 100.0)]
    assert node.fills(bid)[0].liquidity_side is LiquiditySide.MAKER
    node.trade(100.04, 1.0, BUY)
    assert px_qty(node.fills(ask)) == [(100.03, 40.0)]
    assert bid.status is S.FILLED and ask.status is S.FILLED


def test_the_opposite_book_moving_onto_our_price_fills_us_at_our_limit() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(100, price=100.00)
    node.quote(99.99, 100.01)  # ask still above: nothing
    assert node.fills(order) == []
    node.quote(99.98, 100.00, 10.0, 5.0)  # the ask came down onto our bid
    assert px_qty(node.fills(order)) == [(100.00, 100.0)]
    assert node.fills(order)[0].liquidity_side is LiquiditySide.MAKER


def test_our_orders_keep_time_priority_at_one_price() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    first = node.buy(50, price=100.00)
    node.quote(100.00, 100.01, 400.0, 100.0)  # 100 more join behind the first order
    second = node.buy(50, price=100.00)
    assert node.venue.queue_ahead(first.client_order_id) == 300.0
    assert node.venue.queue_ahead(second.client_order_id) == 400.0
    # 300 external, then the first order's 50, then 100 external, then the second.
    node.trade(100.00, 380.0, SELL)
    assert px_qty(node.fills(first)) == [(100.00, 50.0)]
    assert node.fills(second) == []
    assert node.venue.queue_ahead(second.client_order_id) == 70.0
    node.trade(100.00, 100.0, SELL)
    assert px_qty(node.fills(second)) == [(100.00, 30.0)]


def test_conservative_queue_moves_only_with_trades() -> None:
    node = Node()  # conservative is the default
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(10, price=100.00)
    node.quote(100.00, 100.01, 500.0, 100.0)  # 200 join behind us
    node.quote(100.00, 100.01, 250.0, 100.0)  # 250 cancel: assumed behind us, then ahead
    assert node.venue.queue_ahead(order.client_order_id) == 250.0
    node.quote(100.00, 100.01, 400.0, 100.0)
    assert node.venue.queue_ahead(order.client_order_id) == 250.0


def test_proportional_queue_shrinks_with_the_level() -> None:
    node = Node(BookVenueConfig(queue_position="proportional"))
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(10, price=100.00)
    node.quote(100.00, 100.01, 500.0, 100.0)  # 200 join behind us: 300 of 500 ahead
    node.quote(100.00, 100.01, 250.0, 100.0)  # half the level cancels, half of it ahead
    assert node.venue.queue_ahead(order.client_order_id) == pytest.approx(150.0)
    node.trade(100.00, 150.0, SELL)
    assert node.fills(order) == []
    node.trade(100.00, 5.0, SELL)
    assert px_qty(node.fills(order)) == [(100.00, 5.0)]


def test_a_print_takes_its_size_off_the_level_so_the_next_quote_is_no_cancel() -> None:
    node = Node(BookVenueConfig(queue_position="proportional"))
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(10, price=100.00)
    node.trade(100.00, 100.0, SELL)
    assert node.venue.depth("X").bids[0] == (100.00, 200.0)
    node.quote(100.00, 100.01, 200.0, 100.0)  # the feed shows what the print left
    assert node.venue.queue_ahead(order.client_order_id) == 200.0


def test_a_level_that_empties_puts_us_at_the_front() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(10, price=99.99)
    assert node.venue.queue_ahead(order.client_order_id) == 200.0
    node.depth([(100.00, 300.0), (99.98, 100.0)], BOOK_ASKS)  # the 99.99 level is gone
    assert node.venue.queue_ahead(order.client_order_id) == 0.0


# -- stops ------------------------------------------------------------------------------------
def test_stop_triggers_on_a_print_and_takes_liquidity() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    node.trade(100.00, 1.0)
    order = node.buy(150, stop=100.02)
    node.trade(100.01, 1.0)
    assert order.status is S.ACCEPTED
    node.trade(100.02, 1.0, BUY)
    assert node.events_of(order, OrderTriggered)
    fills = node.fills(order)
    # The print at 100.01 took 1 off that level, the one at 100.02 one off the next.
    assert px_qty(fills) == [(100.01, 99.0), (100.02, 51.0)]
    assert all(f.liquidity_side is LiquiditySide.TAKER for f in fills)


def test_stop_limit_triggers_then_rests_as_a_limit() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    node.trade(100.01, 1.0)
    order = node.sell(20, stop=99.99, price=99.98)
    node.depth([(99.97, 100.0)], [(99.99, 100.0)])
    node.trade(99.99, 1.0, SELL)
    assert order.status is S.TRIGGERED
    assert node.fills(order) == []
    assert node.venue.queue_ahead(order.client_order_id) == 0.0  # nobody else offers 99.98
    node.trade(99.98, 20.0, BUY)
    assert px_qty(node.fills(order)) == [(99.98, 20.0)]


def test_stop_triggers_on_the_mid_while_there_are_no_prints() -> None:
    node = Node()
    node.quote(100.00, 100.02)
    order = node.sell(10, stop=99.95)
    node.quote(99.95, 99.97)  # mid 99.96: not yet
    assert order.status is S.ACCEPTED
    node.quote(99.93, 99.95)  # mid 99.94
    assert px_qty(node.fills(order)) == [(99.93, 10.0)]


def test_stop_already_through_on_arrival_triggers_at_once() -> None:
    node = Node()
    node.quote(100.00, 100.02)
    order = node.buy(10, stop=99.00)
    assert px_qty(node.fills(order)) == [(100.02, 10.0)]


# -- account checks ---------------------------------------------------------------------------
def test_reduce_only_is_cut_to_the_position_or_cancelled() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    nothing = node.sell(10, reduce_only=True)
    assert nothing.status is S.CANCELED
    assert "reduce-only order would open" in node.reason(nothing)
    node.buy(30)
    node.quote(100.00, 100.01, 300.0, 300.0)
    closing = node.sell(50, reduce_only=True)
    assert px_qty(node.fills(closing)) == [(100.00, 30.0)]
    assert closing.status is S.CANCELED
    assert "position closed" in node.reason(closing)
    assert node.portfolio.position_quantity("X") == 0


def test_fills_beyond_the_buying_power_cancel_the_rest() -> None:
    node = Node(cash=10_000.0)
    node.depth(BOOK_BIDS, [(100.00 + 0.01, 50.0), (100.02, 500.0)])
    order = node.buy(200)
    assert px_qty(node.fills(order)) == [(100.01, 50.0)]
    assert order.status is S.CANCELED
    assert "insufficient buying power" in node.reason(order)
    assert node.portfolio.cash == pytest.approx(10_000 - 50 * 100.01)


def test_order_sized_from_cash_buys_the_most_lots_across_levels() -> None:
    node = Node(cash=20_000.0, config=BookVenueConfig(commission=PercentCommission(0.001)))
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy()  # all of the buying power
    fills = node.fills(order)
    # 100 at 100.01 cost 10_011.01 with commission, leaving 9_988.99: 99 more at 100.02
    # cost 9_911.88 (100 would cost 10_012.00).
    assert px_qty(fills) == [(100.01, 100.0), (100.02, 99.0)]
    assert node.events_of(order, OrderUpdated)[0].quantity == 199.0  # type: ignore[attr-defined]
    assert node.portfolio.cash >= 0


# -- time in force and amends ---------------------------------------------------------------
def test_day_orders_expire_on_the_next_day_gtc_stays() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    day = node.buy(10, price=99.00, time_in_force=TimeInForce.DAY)
    gtc = node.buy(10, price=99.00)
    node.quote(100.00, 100.01, dt=NANOS_PER_DAY // 2)
    assert day.status is S.ACCEPTED
    node.quote(100.00, 100.01, ts=DAY0 + NANOS_PER_DAY)
    assert day.status is S.EXPIRED
    assert node.events_of(day, OrderExpired)
    assert gtc.status is S.ACCEPTED
    assert node.venue.working_orders() == [gtc]


def test_amend_of_price_or_up_in_size_loses_priority_down_in_size_keeps_it() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(100, price=100.00)
    node.trade(100.00, 100.0, SELL)
    assert node.venue.queue_ahead(order.client_order_id) == 200.0
    node.quote(100.00, 100.01, 500.0, 100.0)
    node.trader.modify(order, quantity=60)
    assert order.quantity == 60
    assert node.venue.queue_ahead(order.client_order_id) == 200.0
    node.trader.modify(order, quantity=80)
    assert node.venue.queue_ahead(order.client_order_id) == 500.0  # back of the queue
    node.trader.modify(order, price=99.99)
    assert order.price == 99.99
    assert node.venue.queue_ahead(order.client_order_id) == 200.0


def test_amend_across_the_spread_takes_liquidity() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(150, price=100.00)
    node.trader.modify(order, price=100.02)
    assert px_qty(node.fills(order)) == [(100.01, 100.0), (100.02, 50.0)]
    assert order.status is S.FILLED


def test_amend_refusals() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(10, price=100.00, post_only=True)
    node.trader.modify(order, price=100.01)
    assert node.events_of(order, OrderModifyRejected)
    assert "post-only buy limit 100.01 would cross" in node.reason(order)
    assert order.price == 100.00 and order.status is S.ACCEPTED
    node.trader.modify(order, quantity=7.5)
    assert "not a whole number of lots" in node.reason(order)


def test_cancel_all_cancels_the_strategys_working_orders() -> None:
    node = Node()
    node.depth(BOOK_BIDS, BOOK_ASKS)
    a = node.buy(10, price=99.00)
    b = node.sell(10, price=101.00)
    node.trader.cancel_all()
    assert a.status is S.CANCELED and b.status is S.CANCELED
    assert node.venue.working_orders() == []


# -- latency ----------------------------------------------------------------------------------
def test_an_order_works_against_the_book_when_it_arrives() -> None:
    node = Node(BookVenueConfig(latency_ns=5 * MS))
    node.quote(100.00, 100.01)
    sent = node.ts
    order = node.buy(10)
    assert order.status is S.SUBMITTED  # still on its way
    node.quote(100.04, 100.05, dt=2 * MS)
    assert node.fills(order) == []
    node.quote(100.06, 100.07, dt=8 * MS)  # the clock passes the arrival first
    fill = node.fills(order)[0]
    assert (fill.last_px, fill.ts_event) == (100.05, sent + 5 * MS)


def test_a_cancel_arriving_after_the_fill_is_refused() -> None:
    node = Node(BookVenueConfig(latency_ns=5 * MS))
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(10, price=100.00)
    node.wait(5 * MS)
    assert order.status is S.ACCEPTED
    node.trader.cancel(order)
    assert order.status is S.PENDING_CANCEL
    node.trade(99.99, 1.0, SELL, dt=1 * MS)  # through our bid while the cancel travels
    assert order.status is S.FILLED
    node.wait(10 * MS)
    assert node.events_of(order, OrderCancelRejected)
    assert not node.events_of(order, OrderCanceled)
    assert "order is already FILLED" in node.reason(order)
    assert order.status is S.FILLED


def test_an_amend_travels_too_and_is_refused_if_the_order_filled_meanwhile() -> None:
    node = Node(BookVenueConfig(latency_ns=5 * MS))
    node.depth(BOOK_BIDS, BOOK_ASKS)
    order = node.buy(10, price=100.00)
    node.wait(5 * MS)
    node.trader.modify(order, price=99.98)
    assert order.status is S.PENDING_UPDATE
    node.trade(99.99, 1.0, SELL, dt=1 * MS)  # fills the order at its old price
    assert px_qty(node.fills(order)) == [(100.00, 10.0)]
    node.wait(10 * MS)
    assert node.events_of(order, OrderModifyRejected)
    assert "order is already FILLED" in node.reason(order)
    assert order.price == 100.00 and order.status is S.FILLED
    assert node.venue.queue_ahead(order.client_order_id) is None


def test_jitter_never_lets_a_cancel_overtake_its_submit() -> None:
    for seed in range(20):
        node = Node(BookVenueConfig(latency_ns=MS, latency_jitter_ns=10 * MS, seed=seed))
        node.depth(BOOK_BIDS, BOOK_ASKS)
        orders = []
        for _ in range(5):
            order = node.buy(10, price=99.00)
            node.trader.cancel(order)
            orders.append(order)
        node.wait(20 * MS)
        for order in orders:
            kinds = [type(e) for e in order.events]
            assert kinds.index(OrderAccepted) < kinds.index(OrderCanceled), seed
            assert order.status is S.CANCELED
        arrivals = [e.ts_event for e in node.events if isinstance(e, OrderAccepted | OrderCanceled)]
        assert arrivals == sorted(arrivals)


def _jittery_run(seed: int) -> list[tuple[int, float, float]]:
    node = Node(BookVenueConfig(latency_ns=MS, latency_jitter_ns=6 * MS, seed=seed))
    for k in range(40):
        bid = round(100.00 + 0.01 * (k % 7), 2)
        node.quote(bid, round(bid + 0.01, 2), 1_000.0, 1_000.0)
        if k % 4 == 0:
            node.buy(10)
    return [(f.ts_event, f.last_px, f.last_qty) for f in node.fills()]


def test_seeded_jitter_gives_the_same_fills_for_the_same_seed() -> None:
    first, again = _jittery_run(7), _jittery_run(7)
    assert len(first) == 10
    assert first == again
    assert any(_jittery_run(seed) != first for seed in (8, 9, 10))


def test_zero_latency_commands_sent_while_matching_are_handled_after_it() -> None:
    class Chaser(Trader):
        def on_fill(self, fill: OrderFilled) -> None:
            if fill.client_order_id == "trader-1":
                self.buy(100)  # reacts in the middle of the first order's walk

    node = Node()
    node.trader = Chaser()
    node.trader.attach(node.clock, node.bus, PortfolioView(node.portfolio), node.instruments)
    node.depth(BOOK_BIDS, BOOK_ASKS)
    first = node.buy(150)
    assert px_qty(node.fills(first)) == [(100.01, 100.0), (100.02, 50.0)]
    second = node.engine.order("trader-2")
    assert second is not None
    assert px_qty(node.fills(second)) == [(100.02, 100.0)]  # after the walk, not inside it


def test_cancel_of_an_order_the_venue_never_saw_is_ignored() -> None:
    node = Node()
    node.venue.execute(CancelOrder("ghost", "X", "trader", DAY0))
    assert node.events == []


# -- invariants over random sessions --------------------------------------------------------
market_step = st.one_of(
    st.tuples(
        st.just("quote"),
        st.integers(-5, 5),  # best bid in ticks from 100.00
        st.integers(1, 3),  # spread in ticks
        st.integers(1, 300),
        st.integers(1, 300),
    ),
    st.tuples(
        st.just("trade"),
        st.integers(-6, 7),
        st.integers(1, 300),
        st.sampled_from([None, BUY, SELL]),
    ),
    st.tuples(
        st.just("depth"),
        st.integers(-5, 5),
        st.lists(st.integers(1, 200), min_size=0, max_size=3),
        st.lists(st.integers(1, 200), min_size=0, max_size=3),
    ),
)
new_order = st.tuples(
    st.just("order"),
    st.sampled_from([BUY, SELL]),
    st.integers(1, 400),
    st.sampled_from(["market", "limit", "limit", "limit", "stop", "stop_limit", "cash"]),
    st.integers(-4, 4),
    st.sampled_from(
        [TimeInForce.GTC, TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK]
    ),
    st.sampled_from([False, False, False, True]),  # reduce-only
)
order_step = st.one_of(
    new_order,
    new_order,  # twice as likely as the others
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("modify"), st.integers(0, 30), st.integers(1, 400), st.integers(-4, 4)),
    st.tuples(st.just("cancel_all")),
)
session = st.lists(
    st.tuples(st.integers(0, 4 * MS), st.one_of(market_step, order_step)),
    min_size=20,
    max_size=80,
)


def _play(node: Node, step: tuple[object, ...], dt: int) -> None:
    kind = step[0]
    t = node.trader
    if kind == "quote":
        _, bid, spread, bsize, asize = step
        assert isinstance(bid, int) and isinstance(spread, int)
        b = round(100 + bid * 0.01, 2)
        node.quote(b, round(b + spread * 0.01, 2), float(bsize), float(asize), dt=dt)  # type: ignore[arg-type]
    elif kind == "trade":
        _, off, size, aggressor = step
        assert isinstance(off, int)
        node.trade(round(100 + off * 0.01, 2), float(size), aggressor, dt=dt)  # type: ignore[arg-type]
    elif kind == "depth":
        _, bid, bids, asks = step
        assert isinstance(bid, int) and isinstance(bids, list) and isinstance(asks, list)
        levels_b = [(round(100 + (bid - k) * 0.01, 2), float(s)) for k, s in enumerate(bids)]
        levels_a = [(round(100 + (bid + 1 + k) * 0.01, 2), float(s)) for k, s in enumerate(asks)]
        node.depth(levels_b, levels_a, dt=dt)
    else:
        node.wait(dt)
        orders = node.engine.orders
        if kind == "order":
            _, side, qty, otype, off, tif, reduce = step
            assert isinstance(side, OrderSide) and isinstance(off, int)
            assert isinstance(tif, TimeInForce) and isinstance(qty, int)
            price = round(100 + off * 0.01, 2)
            send = t.buy if side is BUY else t.sell
            if otype == "market":
                send(qty, time_in_force=tif, reduce_only=bool(reduce))
            elif otype == "cash":
                send(None, cash_fraction=0.5)
            elif otype == "limit":
                send(qty, price=price, time_in_force=tif, reduce_only=bool(reduce))
            elif otype == "stop":
                send(qty, stop=price, reduce_only=bool(reduce))
            else:
                send(qty, stop=price, price=round(price + side.sign * 0.02, 2))
        elif kind == "cancel" and orders:
            _, pick = step
            assert isinstance(pick, int)
            t.cancel(orders[pick % len(orders)])
        elif kind == "modify" and orders:
            _, pick, qty, off = step
            assert isinstance(pick, int) and isinstance(off, int)
            order = orders[pick % len(orders)]
            if order.quantity is not None and order.is_open:
                price = round(100 + off * 0.01, 2) if order.price is not None else None
                t.modify(order, quantity=qty, price=price)
        elif kind == "cancel_all":
            t.cancel_all()


@given(
    steps=session,
    latency=st.sampled_from([0, MS, 3 * MS]),
    jitter=st.sampled_from([0, 2 * MS]),
    queue=st.sampled_from(["conservative", "proportional"]),
    seed=st.integers(0, 3),
)
def test_invariants_over_random_sessions(
    steps: list[tuple[int, tuple[object, ...]]],
    latency: int,
    jitter: int,
    queue: str,
    seed: int,
) -> None:
    node = Node(
        BookVenueConfig(
            commission=MakerTakerCommission(-0.0002, 0.0005),
            latency_ns=latency,
            latency_jitter_ns=jitter,
            seed=seed,
            queue_position=queue,  # type: ignore[arg-type]
        ),
        cash=50_000.0,
        leverage=2.0,
    )
    node.depth(BOOK_BIDS, BOOK_ASKS)
    for dt, step in steps:
        _play(node, step, dt)
    node.wait(20 * MS)  # let every command in flight arrive

    fills = node.fills()
    for order in node.engine.orders:
        kinds = [type(e) for e in order.events]
        mine = [e for e in order.events if isinstance(e, OrderFilled)]
        # Nothing fills after the order was cancelled, expired or rejected.
        for ending in (OrderCanceled, OrderExpired, OrderRejected):
            if ending in kinds:
                assert OrderFilled not in kinds[kinds.index(ending) :]
        assert sum(f.last_qty for f in mine) == pytest.approx(order.filled_qty)
        assert order.filled_qty <= (order.quantity or 0.0) + 1e-9
        if order.status is S.FILLED:
            assert OrderCanceled not in kinds
    # Cash is the initial cash less what the fills paid and their fees.
    spent = sum(f.side.sign * f.last_qty * f.last_px + f.commission for f in fills)
    assert node.portfolio.cash == pytest.approx(50_000.0 - spent, abs=1e-6)
    position = sum(f.side.sign * f.last_qty for f in fills)
    assert node.portfolio.position_quantity("X") == pytest.approx(position)
    assert all(o.is_open for o in node.venue.working_orders())


# -- requests in flight ----------------------------------------------------------------------
def test_second_cancel_while_one_is_in_flight_keeps_the_order_pending() -> None:
    node = Node(BookVenueConfig(latency_ns=5 * MS))
    node.quote(99.0, 101.0)
    order = node.buy(10, price=98.0)
    node.wait(10 * MS)

    node.trader.cancel(order)
    node.trader.cancel(order)
    node.trader.modify(order, price=98.5)

    assert order.status is OrderStatus.PENDING_CANCEL
    assert node.engine.redundant_requests == 1
    node.wait(10 * MS)
    assert order.status is OrderStatus.CANCELED
    assert order.price == 98.0


def test_amends_wait_for_the_one_in_flight_and_the_latest_goes_next() -> None:
    node = Node(BookVenueConfig(latency_ns=5 * MS))
    node.quote(99.0, 101.0)
    order = node.buy(10, price=98.0)
    node.wait(10 * MS)

    node.trader.modify(order, price=98.1)
    node.trader.modify(order, price=98.2)
    node.trader.modify(order, price=98.3)
    assert order.status is OrderStatus.PENDING_UPDATE
    node.wait(6 * MS)  # the first amend is answered; the latest waiting one is sent
    assert (order.status, order.price) == (OrderStatus.PENDING_UPDATE, 98.1)
    node.wait(6 * MS)

    assert (order.status, order.price) == (OrderStatus.ACCEPTED, 98.3)
    kinds = [type(e).__name__ for e in order.events]
    assert kinds.count("OrderPendingUpdate") == 2 and kinds.count("OrderUpdated") == 2


def test_print_that_fills_our_order_leaves_the_size_behind_us_displayed() -> None:
    node = Node()
    node.quote(100.0, 100.05, bid_size=50.0)
    node.buy(20, price=100.01)  # improves the bid: nothing ahead
    node.depth([(100.01, 200.0), (100.0, 50.0)], [(100.05, 100.0)])  # 200 join behind us

    node.trade(100.01, 20.0, OrderSide.SELL)  # fills our 20

    assert node.venue.depth("X").bids[0] == (100.01, 200.0)
    later = node.buy(10, price=100.01)
    assert node.venue.queue_ahead(later.client_order_id) == 200.0
