"""The simulated venue: every fill rule of its module docstring, one test each.

Each test wires a small node by hand (test clock, real bus, price cache, portfolio,
venue, execution engine and a strategy), publishes bars and checks the fills and
order events against prices worked out by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest

from quantgrid.core import NANOS_PER_DAY, MessageBus, PriceCache, TestClock
from quantgrid.execution import EXECUTE_ENDPOINT, ExecutionEngine
from quantgrid.model import (
    Bar,
    Instrument,
    LiquiditySide,
    Order,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderTriggered,
    OrderType,
    OrderUpdated,
    SubmitOrder,
    TimeInForce,
)
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.strategy import Strategy
from quantgrid.venues import (
    BpsSlippage,
    FixedSpread,
    MakerTakerCommission,
    PercentCommission,
    SimulatedVenue,
    TickSlippage,
    VenueConfig,
)

DAY0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000_000_000
S = OrderStatus


class Trader(Strategy):
    """Runs the actions a test queues for the next bar it sees."""

    name: ClassVar[str] = "trader"

    def on_start(self) -> None:
        self.queued: list[Callable[[Trader, Bar], object]] = []
        self.bars: list[Bar] = []

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)
        actions, self.queued = self.queued, []
        for action in actions:
            action(self, bar)


class Node:
    """A hand-built trading node around one simulated venue."""

    def __init__(
        self,
        config: VenueConfig | None = None,
        cash: float = 100_000.0,
        instruments: tuple[Instrument, ...] = (Instrument("X"),),
        leverage: float = 1.0,
    ) -> None:
        self.clock = TestClock(DAY0)
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.instruments = {i.id: i for i in instruments}
        self.portfolio = Portfolio(self.bus, self.prices, self.instruments, cash, leverage)
        self.venue = SimulatedVenue(
            "SIM",
            self.bus,
            self.clock,
            self.prices,
            self.instruments,
            self.portfolio,
            config or VenueConfig(),
        )
        self.engine = ExecutionEngine(self.bus, self.clock, self.venue.endpoint, self.instruments)
        self.strategy = Trader()
        self.strategy.attach(self.clock, self.bus, PortfolioView(self.portfolio), self.instruments)
        self.strategy.on_start()
        self.events: list[OrderEvent] = []
        self.bus.subscribe("events.order.>", self.events.append)
        self.ts = DAY0

    def bar(
        self,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float = 1_000_000.0,
        instrument_id: str = "X",
        ts: int | None = None,
    ) -> Bar:
        """Publish one bar a minute after the previous one (or at ``ts``)."""
        self.ts = self.ts + MINUTE if ts is None else ts
        self.clock.set_time(self.ts)
        bar = Bar(instrument_id, self.ts, open, high, low, close, volume)
        self.venue.process_bar(bar)  # the backtest engine hands the venue each bar first
        self.bus.publish(f"data.bars.{instrument_id}", bar)
        return bar

    def flat(self, price: float, volume: float = 1_000_000.0, instrument_id: str = "X") -> Bar:
        """Publish a bar that trades at one price only."""
        return self.bar(price, price, price, price, volume, instrument_id)

    def fills(self, order: Order | None = None) -> list[OrderFilled]:
        return [
            e
            for e in self.events
            if isinstance(e, OrderFilled)
            and (order is None or e.client_order_id == order.client_order_id)
        ]

    def kinds(self, order: Order) -> list[str]:
        return [type(e).__name__ for e in order.events]

    def reason(self, order: Order) -> str:
        last = order.events[-1]
        assert isinstance(last, OrderCanceled | OrderRejected)
        return last.reason

    def hand_order(self, **fields: object) -> Order:
        """Submit an order built by hand (bypassing the helpers' rounding)."""
        values: dict[str, object] = {
            "client_order_id": self.strategy.next_order_id(),
            "strategy_id": self.strategy.id,
            "instrument_id": "X",
            "side": OrderSide.BUY,
            "order_type": OrderType.MARKET,
            "quantity": 1.0,
        }
        values.update(fields)
        return self.strategy.submit(Order(**values))  # type: ignore[arg-type]


# -- when an order can fill -------------------------------------------------------------
def test_market_order_fills_at_the_next_bar_open_never_on_its_own_bar() -> None:
    node = Node()
    orders: list[Order] = []
    node.strategy.queued.append(lambda s, _: orders.append(s.buy(10)))

    node.bar(100.0, 105.0, 95.0, 101.0)  # decided on this bar
    (order,) = orders
    assert order.status is S.ACCEPTED
    assert node.fills() == []

    second = node.bar(102.0, 104.0, 99.0, 103.0)

    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px, fill.liquidity_side) == (10.0, 102.0, LiquiditySide.TAKER)
    assert fill.ts_event == second.ts_event
    assert order.status is S.FILLED
    assert node.portfolio.position_quantity("X") == 10.0
    assert node.portfolio.cash == 100_000.0 - 1_020.0


def test_limit_order_decided_on_a_bar_that_touched_it_waits_for_the_next_bar() -> None:
    node = Node()
    orders: list[Order] = []
    node.strategy.queued.append(lambda s, _: orders.append(s.buy(10, price=96.0)))

    node.bar(100.0, 101.0, 95.0, 99.0)  # its low 95 is below the limit: too late
    node.bar(99.0, 99.5, 97.0, 98.0)  # does not reach 96

    (order,) = orders
    assert order.status is S.ACCEPTED
    assert node.fills() == []


def test_market_sell_opens_a_short_at_the_open() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.sell(5)

    node.bar(99.0, 99.5, 98.0, 98.5)

    (fill,) = node.fills(order)
    assert (fill.side, fill.last_qty, fill.last_px) == (OrderSide.SELL, 5.0, 99.0)
    assert node.portfolio.position_quantity("X") == -5.0
    assert node.portfolio.cash == 100_000.0 + 495.0


# -- limit orders --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("side", "limit", "bar", "expected_px"),
    [
        # Buy: the low reaches the limit -> at the limit; opens at/below -> at the open.
        (OrderSide.BUY, 99.0, (100.0, 101.0, 98.5, 99.5), 99.0),
        (OrderSide.BUY, 99.0, (100.0, 101.0, 99.0, 99.5), 99.0),
        (OrderSide.BUY, 99.0, (98.0, 99.5, 97.0, 98.5), 98.0),
        (OrderSide.BUY, 99.0, (99.0, 99.5, 98.0, 98.5), 99.0),
        # Sell mirrors it.
        (OrderSide.SELL, 101.0, (100.0, 101.5, 99.0, 100.5), 101.0),
        (OrderSide.SELL, 101.0, (102.0, 103.0, 101.5, 102.5), 102.0),
    ],
    ids=["buy-touched", "buy-low-equals", "buy-gap", "buy-open-equals", "sell-touched", "sell-gap"],
)
def test_limit_order_fills_at_limit_or_better_open(
    side: OrderSide, limit: float, bar: tuple[float, float, float, float], expected_px: float
) -> None:
    node = Node()
    node.flat(100.0)
    order = node.hand_order(side=side, order_type=OrderType.LIMIT, quantity=3.0, price=limit)

    node.bar(*bar)

    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px) == (3.0, expected_px)
    assert fill.liquidity_side is LiquiditySide.MAKER
    assert order.status is S.FILLED


@pytest.mark.parametrize(
    ("side", "limit", "bar"),
    [
        (OrderSide.BUY, 99.0, (100.0, 101.0, 99.01, 100.5)),
        (OrderSide.SELL, 101.0, (100.0, 100.99, 99.0, 100.5)),
    ],
    ids=["buy", "sell"],
)
def test_limit_order_not_touched_keeps_working(
    side: OrderSide, limit: float, bar: tuple[float, float, float, float]
) -> None:
    node = Node()
    node.flat(100.0)
    order = node.hand_order(side=side, order_type=OrderType.LIMIT, quantity=3.0, price=limit)

    node.bar(*bar)

    assert node.fills() == []
    assert order.status is S.ACCEPTED
    assert node.venue.working_orders("X") == [order]


# -- stop orders ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("side", "stop", "bar", "expected_px"),
    [
        (OrderSide.BUY, 101.0, (100.0, 101.5, 99.5, 101.2), 101.0),
        (OrderSide.BUY, 101.0, (102.0, 103.0, 101.5, 102.5), 102.0),
        (OrderSide.SELL, 99.0, (100.0, 100.5, 98.5, 98.8), 99.0),
        (OrderSide.SELL, 99.0, (98.0, 98.5, 97.0, 97.5), 98.0),
    ],
    ids=["buy-at-stop", "buy-gap", "sell-at-stop", "sell-gap"],
)
def test_stop_order_fills_at_stop_or_worse_open_as_taker(
    side: OrderSide, stop: float, bar: tuple[float, float, float, float], expected_px: float
) -> None:
    node = Node()
    node.flat(100.0)
    order = node.hand_order(side=side, order_type=OrderType.STOP, quantity=2.0, trigger_price=stop)

    node.bar(*bar)

    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px) == (2.0, expected_px)
    assert fill.liquidity_side is LiquiditySide.TAKER
    assert order.status is S.FILLED


@pytest.mark.parametrize(
    ("side", "stop", "bar"),
    [
        (OrderSide.BUY, 101.0, (100.0, 100.99, 99.0, 100.5)),
        (OrderSide.SELL, 99.0, (100.0, 101.0, 99.01, 100.5)),
    ],
    ids=["buy", "sell"],
)
def test_stop_order_not_reached_keeps_working(
    side: OrderSide, stop: float, bar: tuple[float, float, float, float]
) -> None:
    node = Node()
    node.flat(100.0)
    order = node.hand_order(side=side, order_type=OrderType.STOP, quantity=2.0, trigger_price=stop)

    node.bar(*bar)

    assert node.fills() == []
    assert order.status is S.ACCEPTED


# -- stop-limit orders -----------------------------------------------------------------------
def test_stop_limit_buy_triggers_and_fills_at_the_trigger_within_the_limit() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(4, price=101.5, stop=101.0)
    assert order.order_type is OrderType.STOP_LIMIT

    node.bar(100.0, 102.0, 99.5, 101.8)

    assert node.kinds(order) == ["OrderSubmitted", "OrderAccepted", "OrderTriggered", "OrderFilled"]
    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px) == (4.0, 101.0)
    assert order.status is S.FILLED


def test_stop_limit_sell_triggers_and_fills_at_the_trigger_within_the_limit() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.sell(4, price=98.5, stop=99.0)

    node.bar(100.0, 100.5, 98.0, 98.2)

    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px) == (4.0, 99.0)
    assert order.status is S.FILLED


def test_stop_limit_triggered_beyond_its_limit_rests_then_fills_as_a_limit() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(4, price=101.5, stop=101.0)

    # Gaps to 102 through the stop: triggered at 102, above the 101.5 limit: no fill.
    node.bar(102.0, 103.0, 101.2, 102.5)
    assert order.status is S.TRIGGERED
    assert node.fills() == []

    # Next bar: works as a buy limit at 101.5; the low reaches it.
    node.bar(102.2, 102.5, 101.3, 101.6)

    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px) == (4.0, 101.5)
    assert fill.liquidity_side is LiquiditySide.MAKER
    assert order.status is S.FILLED
    assert sum(isinstance(e, OrderTriggered) for e in order.events) == 1


def test_stop_limit_triggered_stays_triggered_while_limit_untouched() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.sell(4, price=98.5, stop=99.0)

    node.bar(98.0, 98.4, 97.0, 97.5)  # gap below the limit: triggered at 98 < 98.5
    node.bar(97.5, 98.4, 97.0, 98.0)  # never back up to 98.5

    assert order.status is S.TRIGGERED
    assert node.fills() == []
    assert sum(isinstance(e, OrderTriggered) for e in order.events) == 1


def test_stop_limit_partly_filled_on_its_trigger_bar_keeps_working_as_a_limit() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.1))
    node.flat(100.0)
    order = node.strategy.buy(10, price=102.0, stop=101.0)

    node.bar(100.0, 103.0, 100.0, 102.0, volume=50.0)  # trigger at 101, 5 units fit
    assert (order.status, order.filled_qty) == (S.PARTIALLY_FILLED, 5.0)

    # As a buy limit at 102, a bar opening at 101.5 fills at the open.
    node.bar(101.5, 103.0, 101.0, 102.5, volume=50.0)

    assert [(f.last_qty, f.last_px) for f in node.fills(order)] == [(5.0, 101.0), (5.0, 101.5)]
    assert order.status is S.FILLED
    assert sum(isinstance(e, OrderTriggered) for e in order.events) == 1


def test_stop_limit_fill_is_never_worse_than_its_limit_even_with_spread() -> None:
    node = Node(VenueConfig(spread=FixedSpread(0.04)))
    node.flat(100.0)
    order = node.strategy.buy(4, price=101.0, stop=101.0)

    node.bar(100.0, 103.0, 99.5, 102.0)

    # A limit order never trades above its limit: 101 plus half a 0.04 spread (101.02)
    # is not a price a buy limited at 101 accepts. It may fill at 101 or not at all.
    assert [f.last_px for f in node.fills(order)] in ([], [101.0])


# -- liquidity and costs -------------------------------------------------------------------
def test_maker_and_taker_fills_pay_their_own_commission_rates() -> None:
    node = Node(VenueConfig(commission=MakerTakerCommission(maker_rate=-0.0002, taker_rate=0.001)))
    node.flat(100.0)
    limit = node.strategy.buy(10, price=99.0)
    market = node.strategy.buy(10)

    node.bar(100.0, 100.5, 98.0, 99.5)

    (maker,) = node.fills(limit)
    (taker,) = node.fills(market)
    assert (maker.liquidity_side, maker.last_px) == (LiquiditySide.MAKER, 99.0)
    assert maker.commission == pytest.approx(-0.0002 * 10 * 99.0)  # a rebate of 0.198
    assert (taker.liquidity_side, taker.last_px) == (LiquiditySide.TAKER, 100.0)
    assert taker.commission == pytest.approx(0.001 * 10 * 100.0)
    assert node.portfolio.cash == pytest.approx(100_000.0 - 990.0 + 0.198 - 1_000.0 - 1.0)


def test_percent_commission_is_charged_on_the_fill() -> None:
    node = Node(VenueConfig(commission=PercentCommission(0.001)))
    node.flat(100.0)
    order = node.strategy.buy(10)

    node.bar(50.0, 51.0, 49.0, 50.5)

    (fill,) = node.fills(order)
    assert fill.commission == pytest.approx(0.5)
    assert node.portfolio.cash == pytest.approx(100_000.0 - 500.0 - 0.5)


# Half of a 0.03 spread plus one 0.01 tick of slippage: 0.025 against the trader.
COSTLY = VenueConfig(spread=FixedSpread(0.03), slippage=TickSlippage(1))


def test_taker_buy_pays_spread_and_slippage_rounded_up_to_the_tick() -> None:
    node = Node(COSTLY)
    node.flat(100.0)
    order = node.strategy.buy(10)

    node.bar(100.0, 100.5, 99.5, 100.2)

    (fill,) = node.fills(order)
    assert fill.last_px == 100.03  # 100.025 rounded up
    assert node.portfolio.cash == pytest.approx(100_000.0 - 1_000.3)


def test_taker_sell_pays_spread_and_slippage_rounded_down_to_the_tick() -> None:
    node = Node(COSTLY)
    node.flat(100.0)
    order = node.strategy.sell(10)

    node.bar(100.0, 100.5, 99.5, 100.2)

    (fill,) = node.fills(order)
    assert fill.last_px == 99.97  # 99.975 rounded down


def test_stop_fill_is_a_taker_fill_and_pays_costs() -> None:
    node = Node(COSTLY)
    node.flat(100.0)
    order = node.strategy.buy(1, stop=101.0)

    node.bar(100.0, 102.0, 99.5, 101.5)

    (fill,) = node.fills(order)
    assert fill.last_px == 101.03


def test_taker_cost_on_an_exact_tick_is_not_rounded_further() -> None:
    node = Node(VenueConfig(slippage=BpsSlippage(3)))  # 3 bps of 100 = 0.03
    node.flat(100.0)
    buy = node.strategy.buy(1)
    sell = node.strategy.sell(1)

    node.bar(100.0, 100.5, 99.5, 100.2)

    assert node.fills(buy)[0].last_px == 100.03
    assert node.fills(sell)[0].last_px == 99.97


def test_taker_fill_at_an_off_tick_open_is_rounded_against_the_trader() -> None:
    # No spread or slippage configured: the rounding rule still holds for taker fills.
    node = Node()
    node.flat(100.0)
    buy = node.strategy.buy(1)
    sell = node.strategy.sell(1)

    node.bar(100.004, 100.5, 99.5, 100.2)

    assert node.fills(buy)[0].last_px == 100.01
    assert node.fills(sell)[0].last_px == 100.0


def test_limit_fills_pay_no_spread_or_slippage() -> None:
    node = Node(COSTLY)
    node.flat(100.0)
    buy = node.strategy.buy(1, price=99.0)
    sell = node.strategy.sell(1, price=101.0)

    node.bar(100.0, 101.5, 98.5, 100.0)

    assert node.fills(buy)[0].last_px == 99.0
    assert node.fills(sell)[0].last_px == 101.0


# -- volume cap ------------------------------------------------------------------------------
def test_volume_cap_spreads_a_fill_over_bars() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.1))
    node.flat(100.0)
    order = node.strategy.buy(12)
    seen: list[tuple[OrderStatus, float]] = []

    for open_ in (100.0, 101.0, 102.0):
        node.bar(open_, open_ + 1, open_ - 1, open_, volume=50.0)  # 5 units per bar
        seen.append((order.status, order.filled_qty))
        assert order.filled_qty <= order.quantity

    assert seen == [(S.PARTIALLY_FILLED, 5.0), (S.PARTIALLY_FILLED, 10.0), (S.FILLED, 12.0)]
    assert [(f.last_qty, f.last_px) for f in node.fills(order)] == [
        (5.0, 100.0),
        (5.0, 101.0),
        (2.0, 102.0),
    ]
    assert order.avg_px == pytest.approx((500 + 505 + 204) / 12)
    assert node.portfolio.position_quantity("X") == 12.0


def test_volume_cap_is_shared_by_the_orders_of_one_bar() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.1))
    node.flat(100.0)
    first = node.strategy.buy(4)
    second = node.strategy.buy(4)

    node.bar(100.0, 101.0, 99.0, 100.0, volume=50.0)

    assert (first.status, first.filled_qty) == (S.FILLED, 4.0)
    assert (second.status, second.filled_qty) == (S.PARTIALLY_FILLED, 1.0)


def test_volume_cap_rounds_down_to_whole_lots() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.1))
    node.flat(100.0)
    order = node.strategy.buy(10)

    node.bar(100.0, 101.0, 99.0, 100.0, volume=39.0)  # 3.9 -> 3 units

    assert order.filled_qty == 3.0


def test_volume_cap_config_validation() -> None:
    for frac in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"max_volume_fraction must be in \(0, 1\]"):
            VenueConfig(max_volume_fraction=frac)


# -- time in force ---------------------------------------------------------------------------
def test_ioc_fills_what_it_can_then_cancels_the_rest() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.1))
    node.flat(100.0)
    order = node.strategy.buy(12, time_in_force=TimeInForce.IOC)

    node.bar(100.0, 101.0, 99.0, 100.0, volume=50.0)

    assert [(f.last_qty, f.last_px) for f in node.fills(order)] == [(5.0, 100.0)]
    assert order.status is S.CANCELED
    assert order.filled_qty == 5.0
    assert node.reason(order) == "IOC: remainder cancelled"
    node.bar(100.0, 101.0, 99.0, 100.0, volume=50.0)
    assert order.filled_qty == 5.0


def test_ioc_fully_filled_is_not_cancelled() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(12, time_in_force=TimeInForce.IOC)

    node.bar(100.0, 101.0, 99.0, 100.0)

    assert order.status is S.FILLED
    assert node.kinds(order)[-1] == "OrderFilled"


def test_ioc_not_marketable_on_its_first_bar_is_cancelled() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(5, price=95.0, time_in_force=TimeInForce.IOC)

    node.bar(100.0, 101.0, 96.0, 100.0)

    assert order.status is S.CANCELED
    assert node.reason(order) == "IOC: not marketable on its first bar"
    node.bar(95.0, 96.0, 90.0, 92.0)
    assert node.fills() == []


def test_fok_not_fully_fillable_is_cancelled_without_a_fill() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.1))
    node.flat(100.0)
    order = node.strategy.buy(12, time_in_force=TimeInForce.FOK)

    node.bar(100.0, 101.0, 99.0, 100.0, volume=50.0)

    assert node.fills() == []
    assert order.status is S.CANCELED
    assert order.filled_qty == 0.0
    assert node.reason(order) == "FOK: bar volume too small"


def test_fok_fully_fillable_fills() -> None:
    node = Node(VenueConfig(max_volume_fraction=0.1))
    node.flat(100.0)
    order = node.strategy.buy(5, time_in_force=TimeInForce.FOK)

    node.bar(100.0, 101.0, 99.0, 100.0, volume=50.0)

    assert order.status is S.FILLED
    assert node.fills(order)[0].last_qty == 5.0


def test_fok_not_marketable_on_its_first_bar_is_cancelled() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.sell(5, price=105.0, time_in_force=TimeInForce.FOK)

    node.bar(100.0, 101.0, 99.0, 100.0)

    assert order.status is S.CANCELED
    assert node.reason(order) == "FOK: not marketable on its first bar"


def test_day_order_expires_at_the_first_bar_of_a_later_utc_day() -> None:
    node = Node()
    late = DAY0 + NANOS_PER_DAY - 2 * MINUTE  # 23:58 UTC on day 0
    node.bar(100.0, 100.0, 100.0, 100.0, ts=late)
    day = node.strategy.buy(1, price=99.0, time_in_force=TimeInForce.DAY)
    gtc = node.strategy.buy(1, price=99.0)

    node.bar(100.0, 100.5, 99.5, 100.0, ts=late + MINUTE)  # 23:59, same day, untouched
    assert day.status is S.ACCEPTED

    node.bar(99.0, 99.5, 98.0, 98.5, ts=DAY0 + NANOS_PER_DAY)  # 00:00 next day, touched

    assert day.status is S.EXPIRED
    assert isinstance(day.events[-1], OrderExpired)
    assert node.fills(day) == []
    assert gtc.status is S.FILLED
    assert node.venue.working_orders() == []


# -- reduce-only -------------------------------------------------------------------------------
def test_reduce_only_order_is_cut_to_the_position() -> None:
    node = Node()
    node.flat(100.0)
    node.strategy.buy(5)
    node.flat(100.0)
    assert node.portfolio.position_quantity("X") == 5.0
    order = node.strategy.sell(10, reduce_only=True)

    node.bar(101.0, 102.0, 100.0, 101.5)

    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px) == (5.0, 101.0)
    assert order.status is S.CANCELED
    assert node.reason(order) == "reduce-only: position closed, remainder cancelled"
    assert node.portfolio.position_quantity("X") == 0.0


@pytest.mark.parametrize("side", [OrderSide.SELL, OrderSide.BUY])
def test_reduce_only_without_a_position_to_reduce_is_cancelled(side: OrderSide) -> None:
    node = Node()
    node.flat(100.0)
    if side is OrderSide.BUY:  # a reduce-only buy against a long position adds to it
        node.strategy.buy(3)
        node.flat(100.0)
    order = node.hand_order(side=side, quantity=2.0, reduce_only=True)

    node.bar(100.0, 101.0, 99.0, 100.0)

    assert node.fills(order) == []
    assert order.status is S.CANCELED
    assert node.reason(order) == "reduce-only order would open or increase a position"


# -- checks on new orders -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("side", "price", "reason"),
    [
        (
            OrderSide.BUY,
            100.0,
            "post-only buy limit 100.0 would cross the last price 100.0 and take liquidity",
        ),
        (
            OrderSide.BUY,
            100.5,
            "post-only buy limit 100.5 would cross the last price 100.0 and take liquidity",
        ),
        (
            OrderSide.SELL,
            99.5,
            "post-only sell limit 99.5 would cross the last price 100.0 and take liquidity",
        ),
    ],
)
def test_post_only_limit_that_would_cross_is_rejected(
    side: OrderSide, price: float, reason: str
) -> None:
    node = Node()
    node.flat(100.0)

    order = node.hand_order(side=side, order_type=OrderType.LIMIT, price=price, post_only=True)

    assert order.status is S.REJECTED
    assert node.reason(order) == reason
    assert node.venue.working_orders() == []


@pytest.mark.parametrize(("side", "price"), [(OrderSide.BUY, 99.99), (OrderSide.SELL, 100.01)])
def test_post_only_limit_that_does_not_cross_is_accepted(side: OrderSide, price: float) -> None:
    node = Node()
    node.flat(100.0)

    order = node.hand_order(side=side, order_type=OrderType.LIMIT, price=price, post_only=True)

    assert order.status is S.ACCEPTED
    assert order.venue_order_id == "SIM-1"
    node.bar(100.0, 100.5, 99.5, 100.0)
    assert node.fills(order)[0].liquidity_side is LiquiditySide.MAKER


def test_quantity_not_a_whole_number_of_lots_is_rejected() -> None:
    node = Node()

    order = node.hand_order(quantity=1.5)

    assert order.status is S.REJECTED
    assert node.reason(order) == "quantity 1.5 is not a whole number of lots (lot size 1.0)"


def test_quantity_in_whole_lots_of_a_fractional_lot_size_is_accepted() -> None:
    node = Node(instruments=(Instrument("X", size_increment=0.001),))

    assert node.hand_order(quantity=0.003).status is S.ACCEPTED
    assert node.hand_order(quantity=0.0035).status is S.REJECTED


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"order_type": OrderType.LIMIT, "price": 100.005},
            "price 100.005 is not a multiple of the tick 0.01",
        ),
        (
            {"order_type": OrderType.STOP, "trigger_price": 99.999},
            "trigger_price 99.999 is not a multiple of the tick 0.01",
        ),
    ],
)
def test_price_off_the_tick_is_rejected(fields: dict[str, object], reason: str) -> None:
    node = Node()

    order = node.hand_order(**fields)

    assert order.status is S.REJECTED
    assert node.reason(order) == reason


def test_unknown_instrument_is_rejected() -> None:
    node = Node()

    order = node.hand_order(instrument_id="NOPE")

    assert order.status is S.REJECTED
    assert node.reason(order) == "unknown instrument 'NOPE' at venue SIM"


# -- buying power --------------------------------------------------------------------------------
def test_order_beyond_buying_power_is_cancelled_with_the_reason() -> None:
    node = Node(cash=1_000.0)
    node.flat(100.0)
    order = node.strategy.buy(20)

    node.bar(100.0, 101.0, 99.0, 100.0)

    assert node.fills() == []
    assert order.status is S.CANCELED
    assert node.reason(order) == (
        "insufficient buying power: opening 20 at 100 needs 2,000.00, available 1,000.00"
    )
    assert node.portfolio.cash == 1_000.0


def test_buying_power_is_checked_at_the_fill_price_including_commission() -> None:
    node = Node(cash=1_000.0, config=VenueConfig(commission=PercentCommission(0.01)))
    node.flat(100.0)
    fits = node.strategy.buy(9)  # 900 + 9 commission
    node.bar(100.0, 101.0, 99.0, 100.0)
    assert fits.status is S.FILLED

    too_big = node.strategy.buy(1)  # cash 91 left: 100 + 1 does not fit
    node.bar(100.0, 101.0, 99.0, 100.0)
    assert too_big.status is S.CANCELED
    assert node.reason(too_big).startswith("insufficient buying power: opening 1 at 100")


def test_closing_a_position_needs_no_buying_power() -> None:
    node = Node(cash=1_000.0)
    node.flat(100.0)
    node.strategy.buy(10)  # all the cash
    node.flat(100.0)
    assert node.portfolio.buying_power() == 0.0
    order = node.strategy.sell(10)

    node.bar(90.0, 91.0, 89.0, 90.0)

    assert order.status is S.FILLED
    assert node.portfolio.cash == 900.0


def test_buying_power_check_can_be_switched_off() -> None:
    node = Node(cash=1_000.0, config=VenueConfig(check_buying_power=False))
    node.flat(100.0)
    order = node.strategy.buy(20)

    node.bar(100.0, 101.0, 99.0, 100.0)

    assert order.status is S.FILLED
    assert node.portfolio.cash == -1_000.0


def test_cash_sized_order_buys_the_most_whole_units_commission_included() -> None:
    node = Node(cash=10_000.0, config=VenueConfig(commission=PercentCommission(0.001)))
    node.flat(100.0)
    order = node.strategy.buy()  # quantity=None, cash_fraction=1.0
    assert order.quantity is None

    node.bar(100.0, 101.0, 99.0, 100.5)

    # floor(10_000 / (100 * 1.001)) = floor(99.9) = 99; without commission it would be 100.
    updated = [e for e in order.events if isinstance(e, OrderUpdated)]
    assert [e.quantity for e in updated] == [99.0]
    (fill,) = node.fills(order)
    assert (fill.last_qty, fill.last_px) == (99.0, 100.0)
    assert fill.commission == pytest.approx(9.9)
    assert order.status is S.FILLED
    assert node.portfolio.cash == pytest.approx(10_000.0 - 9_900.0 - 9.9)


@pytest.mark.parametrize(
    ("cash", "fraction", "open_", "rate", "expected"),
    [
        (10_000.0, 1.0, 99.9, 0.001, 100.0),  # 10_000 / 100.0000 -> 100
        (10_000.0, 0.5, 100.0, 0.001, 49.0),  # 5_000 / 100.1 = 49.95
        (10_000.0, 1.0, 37.0, 0.0, 270.0),  # 10_000 / 37 = 270.27
        (10_000.0, 1.0, 37.0, 0.002, 269.0),  # 10_000 / 37.074 = 269.73
    ],
)
def test_cash_sized_quantity_is_floor_of_cash_over_price_with_commission(
    cash: float, fraction: float, open_: float, rate: float, expected: float
) -> None:
    node = Node(cash=cash, config=VenueConfig(commission=PercentCommission(rate)))
    node.flat(open_)
    order = node.strategy.buy(cash_fraction=fraction)

    node.bar(open_, open_ + 1, open_ - 1, open_)

    assert order.quantity == expected
    assert order.filled_qty == expected


def test_cash_sized_sell_opens_the_largest_short_the_buying_power_covers() -> None:
    node = Node(cash=10_000.0, config=VenueConfig(commission=PercentCommission(0.001)))
    node.flat(100.0)
    order = node.strategy.sell()

    node.bar(100.0, 101.0, 99.0, 100.0)

    # Same arithmetic as a buy: floor(10_000 / 100.1) = 99 units.
    assert (order.quantity, order.filled_qty) == (99.0, 99.0)
    assert node.portfolio.position_quantity("X") == -99.0
    assert node.portfolio.cash == pytest.approx(10_000.0 + 9_900.0 - 9.9)


def test_cash_sized_order_that_cannot_pay_one_lot_is_cancelled() -> None:
    node = Node(cash=50.0)
    node.flat(100.0)
    order = node.strategy.buy()

    node.bar(100.0, 101.0, 99.0, 100.0)

    assert order.status is S.CANCELED
    assert node.reason(order) == "insufficient buying power for one lot"


# -- cancelling ---------------------------------------------------------------------------------
def test_cancel_of_a_working_order() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(1, price=95.0)

    node.strategy.cancel(order)

    assert order.status is S.CANCELED
    assert node.reason(order) == "canceled on request"
    assert node.venue.working_orders() == []
    node.bar(94.0, 95.0, 90.0, 92.0)
    assert node.fills() == []


def test_cancel_of_a_filled_order_is_refused_and_changes_nothing() -> None:
    node = Node()
    node.flat(100.0)
    order = node.strategy.buy(1)
    node.flat(100.0)
    n_events = len(order.events)

    node.strategy.cancel(order)

    assert order.status is S.FILLED
    assert len(order.events) == n_events + 1
    assert type(order.events[-1]).__name__ == "OrderCancelRejected"
    assert order.filled_qty == 1


def test_cancel_all_cancels_the_strategys_orders_optionally_of_one_instrument() -> None:
    node = Node(instruments=(Instrument("X"), Instrument("Y")))
    node.flat(100.0, instrument_id="X")
    node.flat(50.0, instrument_id="Y")
    x1 = node.strategy.buy(1, "X", price=90.0)
    x2 = node.strategy.sell(1, "X", price=110.0)
    y1 = node.strategy.buy(1, "Y", price=45.0)
    other = Order("other-1", "other", "X", OrderSide.BUY, OrderType.LIMIT, 1.0, price=90.0)
    node.bus.send(EXECUTE_ENDPOINT, SubmitOrder(other, node.clock.timestamp_ns()))

    node.strategy.cancel_all("X")
    assert (x1.status, x2.status, y1.status) == (S.CANCELED, S.CANCELED, S.ACCEPTED)
    assert other.status is S.ACCEPTED

    node.strategy.cancel_all()
    assert y1.status is S.CANCELED
    assert other.status is S.ACCEPTED
    assert node.venue.working_orders() == [other]


def test_cancel_all_after_cancelling_one_order_cancels_the_others() -> None:
    node = Node()
    node.flat(100.0)
    first = node.strategy.buy(1, price=90.0)
    second = node.strategy.buy(1, price=91.0)

    node.strategy.cancel(first)
    node.strategy.cancel_all()

    assert (first.status, second.status) == (S.CANCELED, S.CANCELED)
    assert sum(isinstance(e, OrderCanceled) for e in first.events) == 1


# -- end of data ---------------------------------------------------------------------------------
def test_settle_at_close_fills_an_accepted_market_order_at_the_last_close() -> None:
    node = Node(COSTLY)
    node.flat(100.0)
    node.strategy.buy(10)
    last_bar = node.bar(100.0, 106.0, 99.0, 105.0)  # bought at 100.03, closes at 105
    order = node.strategy.close()
    assert order is not None
    assert order.status is S.ACCEPTED

    node.venue.settle_at_close(order, last_bar)

    (fill,) = node.fills(order)
    assert (fill.side, fill.last_qty) == (OrderSide.SELL, 10.0)
    assert fill.last_px == 104.97  # the close, less half the spread and a tick
    assert fill.liquidity_side is LiquiditySide.TAKER
    assert fill.ts_event == node.clock.timestamp_ns()
    assert order.status is S.FILLED
    assert node.venue.working_orders() == []
    assert node.portfolio.position_quantity("X") == 0.0


def test_settle_at_close_ignores_orders_that_are_not_accepted() -> None:
    node = Node()
    last_bar = node.flat(100.0)
    order = node.strategy.buy(1, price=90.0)
    node.strategy.cancel(order)
    n_events = len(order.events)

    node.venue.settle_at_close(order, last_bar)

    assert order.status is S.CANCELED
    assert len(order.events) == n_events


# -- marks ---------------------------------------------------------------------------------------
def test_venue_marks_the_price_cache_at_each_bar_close() -> None:
    node = Node()

    node.bar(100.0, 102.0, 98.0, 101.0)

    assert node.prices.price("X") == 101.0
    assert node.portfolio.last_price("X") == 101.0


def test_buying_power_during_matching_is_marked_at_the_open() -> None:
    # Long 10 bought at 100 with all the cash; the next bar gaps to 120. Marked at the
    # open, equity is 1_200 and the position takes 1_200, so nothing is left to buy 1.
    node = Node(cash=1_000.0)
    node.flat(100.0)
    node.strategy.buy(10)
    node.flat(100.0)
    order = node.strategy.buy(1)

    node.bar(120.0, 121.0, 119.0, 120.0)

    assert order.status is S.CANCELED
    assert node.reason(order) == (
        "insufficient buying power: opening 1 at 120 needs 120.00, available 0.00"
    )
