"""Execution quality: hand-computed reports, sign conventions, VWAP, aggregates, errors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.analytics import (
    ExecutionReport,
    ExecutionSummary,
    ParentExecution,
    execution_report,
    summarize_executions,
)
from quantgrid.core import NANOS_PER_SECOND
from quantgrid.model import LiquiditySide, OrderFilled, OrderSide

BUY, SELL = OrderSide.BUY, OrderSide.SELL
MAKER, TAKER = LiquiditySide.MAKER, LiquiditySide.TAKER
T0 = 1_700_000_000 * NANOS_PER_SECOND
T1 = T0 + 90 * NANOS_PER_SECOND


def _fill(
    qty: float,
    px: float,
    commission: float = 0.0,
    liquidity: LiquiditySide = TAKER,
    *,
    side: OrderSide = BUY,
    instrument_id: str = "AAPL",
    ts: int = T0 + NANOS_PER_SECOND,
    trade_id: str = "",
    client_order_id: str = "child-1",
    currency: str = "USD",
) -> OrderFilled:
    return OrderFilled(
        client_order_id=client_order_id,
        strategy_id="S1",
        instrument_id=instrument_id,
        ts_event=ts,
        trade_id=trade_id,
        side=side,
        last_qty=qty,
        last_px=px,
        commission=commission,
        liquidity_side=liquidity,
        currency=currency,
    )


def _parent(
    fills: list[OrderFilled],
    *,
    side: OrderSide = BUY,
    target_quantity: float = 1000.0,
    arrival_price: float = 100.0,
    end_price: float = 100.0,
    multiplier: float = 1.0,
    instrument_id: str = "AAPL",
    ts_arrival: int = T0,
    ts_end: int = T1,
) -> ParentExecution:
    return ParentExecution(
        parent_id="P1",
        instrument_id=instrument_id,
        side=side,
        target_quantity=target_quantity,
        arrival_price=arrival_price,
        ts_arrival=ts_arrival,
        ts_end=ts_end,
        end_price=end_price,
        fills=fills,
        multiplier=multiplier,
    )


def _buy_in_two_parts() -> ParentExecution:
    # 600 @ 100.05 (taker, $3) and 400 @ 100.10 (maker, $2) of a 1000 buy at 100.00.
    return _parent(
        [_fill(600, 100.05, 3.0, TAKER), _fill(400, 100.10, 2.0, MAKER)],
        end_price=100.20,
    )


def _sell_with_rebate() -> ParentExecution:
    # 200 @ 49.90 (taker, $1) and 300 @ 50.05 (maker, $0.30 rebate) of a 500 sell at 50.
    return _parent(
        [
            _fill(200, 49.90, 1.0, TAKER, side=SELL),
            _fill(300, 50.05, -0.3, MAKER, side=SELL),
        ],
        side=SELL,
        target_quantity=500,
        arrival_price=50.0,
        end_price=49.0,
    )


def _partial_buy() -> ParentExecution:
    # 400 of 1000 @ 20.02 ($0.80); the price ran to 20.30 while 600 stayed unfilled.
    return _parent([_fill(400, 20.02, 0.8)], arrival_price=20.0, end_price=20.30)


# ---------------------------------------------------------------- hand-computed reports


def test_buy_filled_in_two_parts_with_fees() -> None:
    r = execution_report(_buy_in_two_parts())
    assert r.filled_quantity == 1000
    assert r.fill_rate == 1.0
    assert r.n_fills == 2
    assert r.avg_fill_price == pytest.approx(100.07)
    assert r.slippage_bps == pytest.approx(7.0)  # 0.07 / 100
    assert r.execution_cost == pytest.approx(70.0)  # 600 * 0.05 + 400 * 0.10
    assert r.fees == pytest.approx(5.0)
    assert r.fees_bps == pytest.approx(5.0 / 100_070 * 1e4)
    assert r.filled_notional == pytest.approx(100_070)
    assert r.target_notional == pytest.approx(100_000)
    assert r.total_cost == pytest.approx(75.0)
    assert r.opportunity_cost == 0.0  # fully filled: the end price does not matter
    assert r.implementation_shortfall == pytest.approx(75.0)
    assert r.implementation_shortfall_bps == pytest.approx(7.5)
    assert r.maker_quantity == 400
    assert r.maker_quantity_ratio == pytest.approx(0.4)
    assert r.n_maker_fills == 1
    assert r.maker_fill_ratio == pytest.approx(0.5)
    assert r.duration_s == pytest.approx(90.0)
    assert math.isnan(r.vwap_benchmark_price)
    assert math.isnan(r.slippage_vs_vwap_bps)


def test_sell_with_a_maker_rebate() -> None:
    r = execution_report(_sell_with_rebate())
    assert r.avg_fill_price == pytest.approx(49.99)
    # Selling below arrival is a cost: -(49.99 - 50) / 50 = +2 bps.
    assert r.slippage_bps == pytest.approx(2.0)
    assert r.execution_cost == pytest.approx(5.0)  # -(200 * -0.10 + 300 * 0.05)
    assert r.fees == pytest.approx(0.7)
    assert r.total_cost == pytest.approx(5.7)
    assert r.implementation_shortfall == pytest.approx(5.7)
    assert r.implementation_shortfall_bps == pytest.approx(5.7 / 25_000 * 1e4)
    assert r.maker_quantity_ratio == pytest.approx(0.6)
    assert r.maker_fill_ratio == pytest.approx(0.5)
    assert r.side is SELL


def test_partial_buy_pays_the_opportunity_cost_of_the_unfilled_part() -> None:
    r = execution_report(_partial_buy())
    assert r.fill_rate == pytest.approx(0.4)
    assert r.slippage_bps == pytest.approx(10.0)  # 0.02 / 20
    assert r.execution_cost == pytest.approx(8.0)
    assert r.fees == pytest.approx(0.8)
    assert r.total_cost == pytest.approx(8.8)
    assert r.opportunity_cost == pytest.approx(180.0)  # 600 * (20.30 - 20)
    assert r.implementation_shortfall == pytest.approx(188.8)
    assert r.implementation_shortfall_bps == pytest.approx(94.4)  # of 1000 * 20


def test_partial_futures_sell_uses_the_multiplier() -> None:
    # 1 of 4 contracts sold @ 3999.75 ($2.50), x50; the rest unsold as price fell to 3990.
    parent = _parent(
        [_fill(1, 3999.75, 2.5, side=SELL, instrument_id="ES")],
        side=SELL,
        instrument_id="ES",
        target_quantity=4,
        arrival_price=4000.0,
        end_price=3990.0,
        multiplier=50.0,
    )
    r = execution_report(parent)
    assert r.execution_cost == pytest.approx(12.5)  # 0.25 * 50
    assert r.opportunity_cost == pytest.approx(1500.0)  # 3 * 10 * 50
    assert r.implementation_shortfall == pytest.approx(1515.0)
    assert r.target_notional == pytest.approx(800_000.0)
    assert r.implementation_shortfall_bps == pytest.approx(1515.0 / 800_000 * 1e4)
    assert r.slippage_bps == pytest.approx(0.625)  # 0.25 / 4000
    assert r.fees_bps == pytest.approx(2.5 / (3999.75 * 50) * 1e4)


def test_no_fills_is_all_opportunity_cost() -> None:
    r = execution_report(_parent([], target_quantity=100, arrival_price=10.0, end_price=10.5))
    assert r.n_fills == 0
    assert r.filled_quantity == 0.0
    assert r.fill_rate == 0.0
    assert r.fees == 0.0
    assert r.execution_cost == 0.0
    assert r.total_cost == 0.0
    assert r.opportunity_cost == pytest.approx(50.0)
    assert r.implementation_shortfall == pytest.approx(50.0)
    assert r.implementation_shortfall_bps == pytest.approx(500.0)
    for name in (
        "avg_fill_price",
        "slippage_bps",
        "fees_bps",
        "maker_quantity_ratio",
        "maker_fill_ratio",
        "slippage_vs_vwap_bps",
    ):
        assert math.isnan(getattr(r, name)), name
    out = r.to_dict()
    assert out["avg_fill_price"] is None
    assert out["slippage_bps"] is None


@pytest.mark.parametrize(
    ("liquidity", "quantity_ratio", "fill_ratio"),
    [
        ([MAKER, MAKER, MAKER], 1.0, 1.0),
        ([TAKER, TAKER, TAKER], 0.0, 0.0),
        ([MAKER, TAKER, TAKER], 0.1, 1 / 3),
        ([TAKER, MAKER, MAKER], 0.9, 2 / 3),
    ],
)
def test_maker_ratios(
    liquidity: list[LiquiditySide], quantity_ratio: float, fill_ratio: float
) -> None:
    fills = [_fill(q, 100.0, 0.0, side) for q, side in zip([100, 300, 600], liquidity, strict=True)]
    r = execution_report(_parent(fills))
    assert r.maker_quantity_ratio == pytest.approx(quantity_ratio)
    assert r.maker_fill_ratio == pytest.approx(fill_ratio)
    assert r.n_maker_fills == liquidity.count(MAKER)


@pytest.mark.parametrize(
    ("side", "fill_px", "end_price", "cost_sign", "opportunity_sign"),
    [
        (BUY, 101.0, 102.0, 1, 1),  # bought above arrival, price ran away: costs
        (BUY, 99.0, 98.0, -1, -1),  # bought below arrival, price fell: gains
        (SELL, 99.0, 98.0, 1, 1),  # sold below arrival, price fell away: costs
        (SELL, 101.0, 102.0, -1, -1),  # sold above arrival, price rose: gains
    ],
)
def test_costs_are_positive_when_they_cost_for_buys_and_sells(
    side: OrderSide, fill_px: float, end_price: float, cost_sign: int, opportunity_sign: int
) -> None:
    parent = _parent([_fill(500, fill_px, side=side)], side=side, end_price=end_price)
    r = execution_report(parent)
    assert np.sign(r.slippage_bps) == cost_sign
    assert r.slippage_bps == pytest.approx(cost_sign * 100.0)
    assert np.sign(r.execution_cost) == cost_sign
    assert np.sign(r.opportunity_cost) == opportunity_sign
    assert r.opportunity_cost == pytest.approx(opportunity_sign * 500 * 2.0)


def test_to_dict_is_json_ready_in_field_order() -> None:
    r = execution_report(_buy_in_two_parts())
    out = r.to_dict()
    assert list(out) == [f.name for f in fields(ExecutionReport)]
    assert out["side"] == "BUY"
    assert out["n_fills"] == 2
    assert out["vwap_benchmark_price"] is None
    json.dumps(out, allow_nan=False)
    summary = summarize_executions([r]).to_dict()
    assert list(summary) == [f.name for f in fields(ExecutionSummary)]
    json.dumps(summary, allow_nan=False)


def test_fills_are_stored_as_a_tuple() -> None:
    parent = _buy_in_two_parts()
    assert isinstance(parent.fills, tuple)
    assert _parent([]).fills == ()


# ---------------------------------------------------------------- VWAP benchmark


def _vwap_reference(
    ts: np.ndarray, price: np.ndarray, size: np.ndarray, start: int, end: int
) -> float:
    inside = [i for i in range(len(ts)) if start <= ts[i] <= end]
    volume = sum(float(size[i]) for i in inside)
    if volume == 0:
        return math.nan
    return sum(float(price[i]) * float(size[i]) for i in inside) / volume


@pytest.mark.parametrize("seed", range(5))
def test_vwap_benchmark_matches_a_reference_over_random_prints(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    ts = T0 + rng.integers(-60, 150, size=n) * NANOS_PER_SECOND
    ts[:4] = [T0 - 1, T0, T1, T1 + 1]  # prints on and just outside both ends
    price = 100.0 + rng.normal(0, 0.2, size=n)
    size = rng.integers(0, 500, size=n).astype(np.float64)
    parent = _parent([_fill(1000, 100.04)])
    r = execution_report(parent, (ts, price, size))
    expected = _vwap_reference(ts, price, size, T0, T1)
    assert r.vwap_benchmark_price == pytest.approx(expected, rel=1e-12)
    assert r.slippage_vs_vwap_bps == pytest.approx((100.04 - expected) / expected * 1e4)


def test_vwap_interval_includes_both_ends() -> None:
    ts = np.array([T0 - 1, T0, T0 + 5, T1, T1 + 1])
    price = np.array([1000.0, 100.0, 101.0, 102.0, 1000.0])
    size = np.array([9.0, 1.0, 0.0, 3.0, 9.0])
    r = execution_report(_parent([_fill(1000, 101.0)]), (ts, price, size))
    assert r.vwap_benchmark_price == pytest.approx((100 + 3 * 102) / 4)  # 101.5


def test_vwap_of_an_instant_execution_uses_the_prints_of_that_instant() -> None:
    parent = _parent([_fill(1000, 100.0, ts=T0)], ts_end=T0)
    r = execution_report(parent, ([T0, T0, T0 + 1], [99.0, 101.0, 500.0], [1.0, 1.0, 1.0]))
    assert r.vwap_benchmark_price == pytest.approx(100.0)
    assert r.duration_s == 0.0


def test_vwap_is_nan_without_prints_in_the_interval() -> None:
    trades = ([T0 - 1, T1 + 1], [100.0, 100.0], [5.0, 5.0])
    r = execution_report(_buy_in_two_parts(), trades)
    assert math.isnan(r.vwap_benchmark_price)
    assert math.isnan(r.slippage_vs_vwap_bps)
    empty = execution_report(_buy_in_two_parts(), ([], [], []))
    assert math.isnan(empty.vwap_benchmark_price)


def test_slippage_vs_vwap_sign_for_a_sell() -> None:
    # Sold at 49.99 while the market averaged 49.98: better than VWAP, a negative cost.
    r = execution_report(_sell_with_rebate(), ([T0 + 1], [49.98], [1000.0]))
    assert r.slippage_vs_vwap_bps == pytest.approx(-(49.99 - 49.98) / 49.98 * 1e4)


# ---------------------------------------------------------------- aggregates


def test_summary_equals_the_hand_computation() -> None:
    reports = [
        execution_report(_buy_in_two_parts(), ([T0 + 1], [100.05], [10.0])),
        execution_report(_sell_with_rebate(), ([T0 + 1], [49.98], [10.0])),
        execution_report(_partial_buy()),
    ]
    s = summarize_executions(reports)
    assert s.n_parents == 3
    assert s.n_fills == 5
    assert s.n_vwap_benchmarked == 2
    assert s.execution_cost == pytest.approx(70 + 5 + 8)
    assert s.fees == pytest.approx(5 + 0.7 + 0.8)
    assert s.opportunity_cost == pytest.approx(180.0)
    assert s.total_cost == pytest.approx(83 + 6.5)
    assert s.implementation_shortfall == pytest.approx(269.5)
    assert s.target_notional == pytest.approx(145_000)
    assert s.filled_notional == pytest.approx(100_070 + 24_995 + 8_008)
    assert s.implementation_shortfall_bps == pytest.approx(269.5 / 145_000 * 1e4)
    # Slippage weighted by filled notional at arrival: 100k, 25k and 8k.
    assert s.slippage_bps == pytest.approx((7 * 100_000 + 2 * 25_000 + 10 * 8_000) / 133_000)
    assert s.fill_rate == pytest.approx(133_000 / 145_000)
    assert s.fees_bps == pytest.approx(6.5 / 133_073 * 1e4)
    assert s.maker_quantity_ratio == pytest.approx((400 * 100 + 300 * 50) / 133_000)
    assert s.maker_fill_ratio == pytest.approx(2 / 5)
    # Buy 1000 at 100.07 vs 100.05 costs 20; sell 500 at 49.99 vs 49.98 gains 5.
    assert s.slippage_vs_vwap_bps == pytest.approx((20 - 5) / (1000 * 100.05 + 500 * 49.98) * 1e4)


@pytest.mark.parametrize("make", [_buy_in_two_parts, _sell_with_rebate, _partial_buy])
def test_summary_of_one_report_reproduces_it(make: Callable[[], ParentExecution]) -> None:
    parent = make()
    r = execution_report(parent, ([T0 + 1], [parent.arrival_price * 1.0003], [10.0]))
    s = summarize_executions([r])
    for f in fields(ExecutionSummary):
        if hasattr(r, f.name):
            assert getattr(s, f.name) == pytest.approx(getattr(r, f.name), rel=1e-12), f.name


def test_summary_of_nothing() -> None:
    s = summarize_executions([])
    assert s.n_parents == 0
    assert s.implementation_shortfall == 0.0
    assert math.isnan(s.slippage_bps)
    assert math.isnan(s.fill_rate)
    assert s.to_dict()["maker_fill_ratio"] is None


def test_summary_ignores_unfilled_parents_in_the_fill_weighted_ratios() -> None:
    unfilled = execution_report(_parent([], end_price=101.0))
    filled = execution_report(_buy_in_two_parts())
    s = summarize_executions([filled, unfilled])
    assert s.slippage_bps == pytest.approx(filled.slippage_bps)
    assert s.maker_quantity_ratio == pytest.approx(filled.maker_quantity_ratio)
    assert s.fill_rate == pytest.approx(0.5)
    assert s.implementation_shortfall == pytest.approx(75.0 + 1000.0)


def test_summarize_rejects_what_is_not_a_report() -> None:
    with pytest.raises(TypeError, match=r"reports\[1\] must be an ExecutionReport, got dict"):
        summarize_executions([execution_report(_partial_buy()), {}])  # type: ignore[list-item]


# ---------------------------------------------------------------- property


@st.composite
def _executions(draw: st.DrawFn) -> ParentExecution:
    side = draw(st.sampled_from([BUY, SELL]))
    target = draw(st.floats(1.0, 1e6))
    arrival = draw(st.floats(0.01, 1e4))
    end = arrival * draw(st.floats(0.5, 1.5))
    multiplier = draw(st.sampled_from([1.0, 0.1, 50.0]))
    n = draw(st.integers(0, 8))
    share = draw(st.floats(0.01, 1.0))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n))
    fills = [
        _fill(
            target * share * w / sum(weights),
            arrival * draw(st.floats(0.9, 1.1)),
            draw(st.floats(-1.0, 100.0)),
            draw(st.sampled_from([MAKER, TAKER])),
            side=side,
            ts=T0 + draw(st.integers(0, T1 - T0)),
        )
        for w in weights
    ]
    return _parent(
        fills,
        side=side,
        target_quantity=target,
        arrival_price=arrival,
        end_price=end,
        multiplier=multiplier,
    )


@settings(max_examples=200, deadline=None)
@given(_executions())
def test_shortfall_is_execution_cost_plus_fees_plus_opportunity_cost(
    parent: ParentExecution,
) -> None:
    r = execution_report(parent)
    s, m, a, e = parent.side.sign, parent.multiplier, parent.arrival_price, parent.end_price
    qty = [f.last_qty for f in parent.fills]
    px = [f.last_px for f in parent.fills]
    fees = math.fsum(f.commission for f in parent.fills)
    filled = math.fsum(qty)
    execution_cost = s * math.fsum(q * (p - a) for q, p in zip(qty, px, strict=True)) * m
    opportunity_cost = s * max(parent.target_quantity - filled, 0.0) * (e - a) * m
    scale = parent.target_quantity * a * m * 1e-9 + 1e-9
    assert r.fees == pytest.approx(fees, abs=1e-9)
    assert r.execution_cost == pytest.approx(execution_cost, abs=scale)
    assert r.opportunity_cost == pytest.approx(opportunity_cost, abs=scale)
    assert r.implementation_shortfall == pytest.approx(
        execution_cost + fees + opportunity_cost, abs=scale
    )
    # Perold's definition: the paper portfolio's gain minus the real one's, marked at e.
    paper = s * parent.target_quantity * (e - a) * m
    real = s * math.fsum(q * (e - p) for q, p in zip(qty, px, strict=True)) * m - fees
    assert r.implementation_shortfall == pytest.approx(paper - real, abs=scale)
    assert r.total_cost == pytest.approx(r.execution_cost + r.fees, abs=scale)
    assert 0.0 <= r.fill_rate <= 1.0 + 1e-9
    if parent.fills:
        # slippage_bps is the execution cost over the filled notional at arrival.
        assert r.slippage_bps * filled * a * m / 1e4 == pytest.approx(execution_cost, abs=scale)
        assert 0.0 <= r.maker_quantity_ratio <= 1.0
    summary = summarize_executions([r, r])
    assert summary.implementation_shortfall == pytest.approx(2 * r.implementation_shortfall)
    assert summary.implementation_shortfall_bps == pytest.approx(
        r.implementation_shortfall_bps, abs=1e-9
    )


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"target_quantity": -5.0},
            r"ParentExecution.target_quantity must be a finite number > 0, got -5.0",
        ),
        ({"target_quantity": 0}, r"target_quantity must be a finite number > 0, got 0"),
        ({"arrival_price": 0.0}, r"arrival_price must be a finite number > 0"),
        ({"end_price": math.nan}, r"end_price must be a finite number > 0, got nan"),
        ({"multiplier": -1.0}, r"multiplier must be a finite number > 0"),
        ({"ts_end": T0 - 1}, rf"ts_end must be >= ts_arrival \({T0}\), got {T0 - 1}"),
        ({"ts_arrival": 1.5}, r"ts_arrival must be an integer timestamp in nanoseconds"),
        ({"side": "BUY"}, r"side must be an OrderSide, got 'BUY'"),
        ({"parent_id": ""}, r"parent_id must be a non-empty string"),
        ({"fills": _fill(1, 100.0)}, r"fills must be a sequence of OrderFilled"),
    ],
)
def test_bad_parent_fields_are_named_with_their_rule(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(_buy_in_two_parts(), **change)


@pytest.mark.parametrize(
    ("fills", "message"),
    [
        ([_fill(-100, 100.0)], r"fills\[0\].last_qty must be a finite number > 0, got -100"),
        ([_fill(0.0, 100.0)], r"fills\[0\].last_qty must be a finite number > 0, got 0.0"),
        ([_fill(100, -1.0)], r"fills\[0\].last_px must be a finite number > 0, got -1.0"),
        ([_fill(100, 100.0, math.inf)], r"fills\[0\].commission must be a finite number"),
        (
            [_fill(100, 100.0), _fill(100, 100.0, instrument_id="MSFT")],
            r"fills\[1\].instrument_id must be the parent's instrument 'AAPL', got 'MSFT'",
        ),
        (
            [_fill(100, 100.0, side=SELL)],
            r"fills\[0\].side must be the parent's side BUY, got <OrderSide.SELL",
        ),
        (
            [_fill(100, 100.0, ts=T0 - 1)],
            rf"fills\[0\].ts_event must lie in \[ts_arrival, ts_end\] = \[{T0}, {T1}\]",
        ),
        (
            [_fill(100, 100.0, ts=T1 + 1)],
            r"fills\[0\].ts_event must lie in \[ts_arrival, ts_end\]",
        ),
        (
            [_fill(600, 100.0), _fill(401, 100.0)],
            r"ParentExecution.fills must not total more than target_quantity \(1000.0\), got 1001",
        ),
        (
            [_fill(100, 100.0), _fill(100, 100.0, currency="EUR")],
            r"fills\[1\].currency must be the currency of the other fills \('USD'\), got 'EUR'",
        ),
        (
            [_fill(100, 100.0, trade_id="T1"), _fill(100, 100.0, trade_id="T1")],
            r"fills\[1\] must not repeat an earlier fill's \(client_order_id, trade_id\)",
        ),
        (["not a fill"], r"fills\[0\] must be an OrderFilled, got 'not a fill'"),
    ],
)
def test_bad_fills_are_named_with_their_rule(fills: list[OrderFilled], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parent(fills)


def test_fills_may_total_the_target_up_to_float_noise() -> None:
    third = 1000.0 / 3
    parent = _parent([_fill(third, 100.0), _fill(third, 100.0), _fill(third, 100.0)])
    assert execution_report(parent).fill_rate == pytest.approx(1.0)


def test_the_same_trade_id_on_different_child_orders_is_two_fills() -> None:
    parent = _parent(
        [
            _fill(100, 100.0, trade_id="1", client_order_id="a"),
            _fill(100, 100.0, trade_id="1", client_order_id="b"),
        ]
    )
    assert execution_report(parent).filled_quantity == 200


@pytest.mark.parametrize(
    ("trades", "message"),
    [
        (([T0], [100.0]), r"market_trades must be a \(ts, price, size\) tuple of arrays"),
        (([T0, T0], [100.0], [1.0]), r"ts, price and size must be 1-D arrays of one length"),
        (([T0, T0], [100.0, -1.0], [1.0, 1.0]), r"prices must be finite and > 0, got -1.0 at 1"),
        (([T0], [100.0], [math.nan]), r"sizes must be finite and >= 0, got nan at 0"),
        (([T0], [100.0], [-2.0]), r"sizes must be finite and >= 0, got -2.0 at 0"),
    ],
)
def test_bad_market_trades_are_refused(trades: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        execution_report(_buy_in_two_parts(), trades)  # type: ignore[arg-type]
