"""The risk engine: each check, the trading states, the kill switch and the breakers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from quantgrid.execution import EXECUTE_ENDPOINT
from quantgrid.model import (
    CancelAllOrders,
    Instrument,
    OrderCanceled,
    OrderDenied,
    OrderSide,
    OrderStatus,
    Regime,
    SubmitOrder,
)
from quantgrid.risk import (
    CHECK_ORDER,
    RISK_ENDPOINT,
    InstrumentLimits,
    RiskConfig,
    RiskRejection,
    TradingState,
)

NodeFactory = Callable[..., Any]
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SEC = 1_000_000_000


def _denied(node: Any) -> list[OrderDenied]:
    return [e for e in node.events if isinstance(e, OrderDenied)]


def _passed(node: Any, order: Any) -> bool:
    return (
        order.status is not OrderStatus.DENIED
        and node.execution.order(order.client_order_id) is order
    )


# (config, position held first, order that must pass, order that must fail, reason, value, limit)
LIMIT_CASES = {
    "max_order_quantity": (
        RiskConfig(max_order_quantity=100),
        0,
        (BUY, 100, {}),
        (BUY, 101, {}),
        "max_order_quantity: order quantity 101 > limit 100",
        101,
        100,
    ),
    "max_order_notional": (
        RiskConfig(max_order_notional=10_000),
        0,
        (SELL, 100, {}),
        (SELL, 101, {}),
        "max_order_notional: order notional 10,100 > limit 10,000",
        10_100,
        10_000,
    ),
    "max_position": (
        RiskConfig(max_position=1_000),
        200,
        (BUY, 800, {}),
        (BUY, 1_000, {}),
        "max_position: position would be 1,200 > limit 1,000",
        1_200,
        1_000,
    ),
    "max_position_short": (
        RiskConfig(max_position=1_000),
        -200,
        (SELL, 800, {}),
        (SELL, 801, {}),
        "max_position: position would be -1,001 > limit 1,000",
        1_001,
        1_000,
    ),
    "max_concentration": (
        RiskConfig(max_concentration=0.25),
        0,
        (BUY, 250, {}),
        (BUY, 251, {}),
        "max_concentration: X would be 25.10% of equity 100,000 > limit 25.00%",
        0.251,
        0.25,
    ),
    "max_gross_exposure": (
        RiskConfig(max_gross_exposure=30_000),
        -100,  # gross 10,000 already
        (BUY, 200, {"instrument_id": "Y"}),
        (BUY, 401, {"price": 100.0}),  # buying X back and long: -100 -> +301 = 30,100
        "max_gross_exposure: gross exposure would be 30,100 > limit 30,000",
        30_100,
        30_000,
    ),
    "max_net_exposure": (
        RiskConfig(max_net_exposure=30_000),
        100,
        (SELL, 400, {}),  # +100 -> -300: net -30,000
        (SELL, 401, {}),
        "max_net_exposure: net exposure would be -30,100 > limit 30,000",
        30_100,
        30_000,
    ),
    "price_band_limit": (
        RiskConfig(price_band_pct=0.05),
        0,
        (BUY, 1, {"price": 105.0}),
        (BUY, 1, {"price": 105.5}),
        "price_band: limit price 105.50 is 5.50% from last 100 > band 5.00%",
        0.055,
        0.05,
    ),
    "price_band_stop": (
        RiskConfig(price_band_pct=0.05),
        0,
        (SELL, 1, {"stop": 95.0}),
        (SELL, 1, {"stop": 90.0}),
        "price_band: stop price 90 is 10.00% from last 100 > band 5.00%",
        0.10,
        0.05,
    ),
    "per_instrument": (
        RiskConfig(max_position=1_000, per_instrument={"X": InstrumentLimits(max_position=10)}),
        0,
        (BUY, 10, {}),
        (BUY, 11, {}),
        "max_position: position would be 11 > limit 10",
        11,
        10,
    ),
}


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_each_limit_denies_past_it_with_its_numbers_and_passes_up_to_it(
    make_node: NodeFactory, case: str
) -> None:
    config, held, good, bad, reason, value, limit = LIMIT_CASES[case]
    node = make_node(config)
    if held:
        node.hold(held)
    side, qty, kwargs = bad
    denied = node.submit(node.order(side, qty, **kwargs))

    assert denied.status is OrderStatus.DENIED
    assert _denied(node)[-1].reason == reason
    rejection = node.risk.rejections[-1]
    assert rejection.check == reason.split(":")[0]
    assert rejection.client_order_id == denied.client_order_id
    assert rejection.value == pytest.approx(value)
    assert rejection.limit == pytest.approx(limit)
    assert rejection.reason == reason

    side, qty, kwargs = good
    passed = node.submit(node.order(side, qty, **kwargs))
    assert passed.status is OrderStatus.ACCEPTED
    assert len(node.risk.rejections) == 1


def test_working_orders_count_toward_max_position(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig(max_position=1_000))
    first = node.submit(node.order(BUY, 600, price=90.0))
    second = node.submit(node.order(BUY, 500, price=90.0))

    assert first.status is OrderStatus.ACCEPTED
    assert second.status is OrderStatus.DENIED
    assert "position would be 1,100 > limit 1,000" in _denied(node)[-1].reason

    node.bus.send(RISK_ENDPOINT, CancelAllOrders("S", None, node.clock.timestamp_ns()))
    assert first.status is OrderStatus.CANCELED
    assert node.submit(node.order(BUY, 500, price=90.0)).status is OrderStatus.ACCEPTED


def test_order_rate_throttles_within_the_window_of_clock_time(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig(max_orders=3, order_window_ns=SEC))
    orders = [node.submit(node.order(BUY, 1, price=99.0)) for _ in range(4)]

    assert [o.status for o in orders[:3]] == [OrderStatus.ACCEPTED] * 3
    assert orders[3].status is OrderStatus.DENIED
    assert _denied(node)[-1].reason == "order_rate: 4 orders in 1s > limit 3"

    node.clock.set_time(node.clock.timestamp_ns() + SEC)
    assert node.submit(node.order(BUY, 1, price=99.0)).status is OrderStatus.ACCEPTED


def test_cash_sized_orders_are_checked_at_what_the_cash_would_buy(
    make_node: NodeFactory,
) -> None:
    node = make_node(RiskConfig(max_position=500))  # 100,000 of cash buys 1,000 at 100
    order = node.submit(node.order(BUY, None))

    assert order.status is OrderStatus.DENIED
    assert _denied(node)[-1].reason == "max_position: position would be 1,000 > limit 500"


def test_reducing_lets_only_orders_that_shrink_a_position_through(
    make_node: NodeFactory,
) -> None:
    node = make_node(RiskConfig())
    node.hold(200)
    node.risk.reduce("manual review")

    assert node.risk.state is TradingState.REDUCING
    grow = node.submit(node.order(BUY, 10))
    flip = node.submit(node.order(SELL, 300))
    other = node.submit(node.order(BUY, 1, "Y"))
    shrink = node.submit(node.order(SELL, 150))

    assert [o.status for o in (grow, flip, other)] == [OrderStatus.DENIED] * 3
    assert {r.check for r in node.risk.rejections} == {"reducing"}
    assert _denied(node)[0].reason == "reducing: trading is REDUCING (manual review)"
    assert shrink.status is OrderStatus.ACCEPTED
    # The working sell counts: another 100 would take the position past flat.
    assert node.submit(node.order(SELL, 100)).status is OrderStatus.DENIED
    assert node.submit(node.order(SELL, 50)).status is OrderStatus.ACCEPTED


def test_halted_denies_everything_but_cancels_pass(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig())
    node.hold(200)
    working = node.submit(node.order(SELL, 50, price=120.0))
    node.risk.halt("exchange outage")

    shrink = node.submit(node.order(SELL, 100))
    grow = node.submit(node.order(BUY, 1))
    node.bus.send(RISK_ENDPOINT, CancelAllOrders("S", None, node.clock.timestamp_ns()))

    assert shrink.status is grow.status is OrderStatus.DENIED
    assert _denied(node)[0].reason == "halted: trading is HALTED (exchange outage)"
    assert working.status is OrderStatus.CANCELED
    assert [(s.previous, s.state, s.reason) for s in node.states] == [
        (TradingState.ACTIVE, TradingState.HALTED, "exchange outage")
    ]


def test_kill_cancels_every_working_order_then_halts(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig())
    a = node.submit(node.order(BUY, 10, price=95.0, strategy_id="A"))
    b = node.submit(node.order(SELL, 10, "Y", price=105.0, strategy_id="B"))

    node.risk.kill("runaway strategy")

    assert a.status is b.status is OrderStatus.CANCELED
    assert len([e for e in node.events if isinstance(e, OrderCanceled)]) == 2
    assert node.risk.state is TradingState.HALTED
    assert node.states[-1].reason == "kill switch: runaway strategy"
    assert node.submit(node.order(BUY, 1)).status is OrderStatus.DENIED


def test_resume_returns_to_active(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig())
    node.risk.halt("x")
    node.risk.resume()

    assert node.risk.state is TradingState.ACTIVE
    assert node.submit(node.order(BUY, 1)).status is OrderStatus.ACCEPTED
    assert [s.state for s in node.states] == [TradingState.HALTED, TradingState.ACTIVE]


def test_breaker_reduces_then_halts_on_bars_at_the_configured_drawdowns(
    make_node: NodeFactory,
) -> None:
    node = make_node(RiskConfig(reduce_at_drawdown=0.05, halt_at_drawdown=0.10))
    node.hold(1_000)  # all of the 100,000 in X at 100
    node.bar(110.0)  # new peak 110,000
    node.bar(104.6)  # 4.9 % down
    assert node.risk.state is TradingState.ACTIVE
    assert node.risk.equity_peak == pytest.approx(110_000)

    node.bar(104.5)  # 5.0 %
    assert node.risk.state is TradingState.REDUCING
    assert node.states[-1].reason == "drawdown 5.00% from equity peak 110,000 >= 5.00%"
    node.bar(99.1)
    assert node.risk.state is TradingState.REDUCING
    node.bar(99.0)  # 10 %
    assert node.risk.state is TradingState.HALTED
    assert [s.state for s in node.states] == [TradingState.REDUCING, TradingState.HALTED]


def test_breaker_also_runs_on_each_order(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig(halt_at_drawdown=0.10))
    node.hold(1_000)
    node.prices.update("X", 89.0)  # a new mark no bar has shown the risk engine

    order = node.submit(node.order(SELL, 10))

    assert order.status is OrderStatus.DENIED
    assert _denied(node)[-1].reason == (
        "halted: trading is HALTED (drawdown 11.00% from equity peak 100,000 >= 10.00%)"
    )


def test_regime_block_denies_new_entries_but_not_reductions(make_node: NodeFactory) -> None:
    regimes: dict[str, int | None] = {"X": Regime.CRISIS, "Y": None}
    node = make_node(RiskConfig(), regime_of=regimes.get)
    node.hold(100)

    entry = node.submit(node.order(BUY, 10))
    exit_ = node.submit(node.order(SELL, 50))
    unknown = node.submit(node.order(BUY, 10, "Y"))

    assert entry.status is OrderStatus.DENIED
    assert _denied(node)[-1].reason == "regime_block: regime CRISIS of X blocks new entries"
    assert exit_.status is unknown.status is OrderStatus.ACCEPTED
    regimes["X"] = Regime.CHOPPY
    assert node.submit(node.order(SELL, 200)).status is OrderStatus.DENIED  # a flip enters
    regimes["X"] = Regime.RANGING
    assert node.submit(node.order(BUY, 10)).status is OrderStatus.ACCEPTED


def test_denials_are_recorded_by_the_execution_engine(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig(max_order_quantity=5))
    order = node.submit(node.order(BUY, 6))

    assert node.execution.orders == (order,)
    assert isinstance(node.risk.rejections[0], RiskRejection)
    assert node.venue.endpoint not in [type(e).__name__ for e in node.events]
    assert [type(e) for e in node.events] == [OrderDenied]


def test_unknown_commands_are_refused(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig())
    with pytest.raises(TypeError, match="risk engine cannot handle str"):
        node.bus.send(RISK_ENDPOINT, "buy")


def test_check_order_is_documented() -> None:
    assert CHECK_ORDER[:2] == ("halted", "reducing")
    assert CHECK_ORDER[-1] == "order_rate"
    assert RISK_ENDPOINT != EXECUTE_ENDPOINT


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_position": 0}, "RiskConfig.max_position must be positive and finite, got 0"),
        ({"max_orders": 2.5}, "RiskConfig.max_orders must be a whole number or None"),
        ({"max_concentration": 1.5}, "RiskConfig.max_concentration must be a fraction in"),
        (
            {"reduce_at_drawdown": 0.2, "halt_at_drawdown": 0.1},
            "reduce_at_drawdown (0.2) must be below halt_at_drawdown (0.1)",
        ),
        ({"per_instrument": {"X": 5}}, r"per_instrument\['X'\] must be InstrumentLimits"),
        ({"price_band_pct": True}, "RiskConfig.price_band_pct must be a number or None"),
    ],
)
def test_config_is_validated_with_clear_messages(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RiskConfig(**kwargs)


def test_instrument_limits_override_the_account_defaults() -> None:
    config = RiskConfig(
        max_position=100, price_band_pct=0.1, per_instrument={"X": InstrumentLimits(max_position=5)}
    )
    assert config.limits_for("X") == InstrumentLimits(max_position=5, price_band_pct=0.1)
    assert config.limits_for("Y") == InstrumentLimits(max_position=100, price_band_pct=0.1)


def test_orders_straight_to_execution_bypass_risk(make_node: NodeFactory) -> None:
    node = make_node(RiskConfig(max_order_quantity=1), instruments=(Instrument("X"),))
    order = node.order(BUY, 10)
    node.bus.send(EXECUTE_ENDPOINT, SubmitOrder(order, 0))
    assert order.status is OrderStatus.ACCEPTED
