"""The order state machine and the validation of an order's fields."""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.model import (
    InvalidOrderError,
    InvalidStateTransitionError,
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderType,
    OrderUpdated,
    TimeInForce,
)

S = OrderStatus
OID = "O-1"


def _order(**overrides: object) -> Order:
    fields: dict[str, object] = {
        "client_order_id": OID,
        "strategy_id": "S",
        "instrument_id": "X",
        "side": OrderSide.BUY,
        "order_type": OrderType.STOP_LIMIT,
        "quantity": 10.0,
        "price": 101.0,
        "trigger_price": 100.0,
    }
    fields.update(overrides)
    return Order(**fields)  # type: ignore[arg-type]


def _fill(
    qty: float, px: float = 100.0, side: OrderSide = OrderSide.BUY, ts: int = 5
) -> OrderFilled:
    return OrderFilled(OID, "S", "X", ts, f"T-{qty}-{px}", side, qty, px, 0.0, LiquiditySide.TAKER)


_BASE = (OID, "S", "X", 1)
EVENTS: dict[type[OrderEvent], Callable[[], OrderEvent]] = {
    OrderSubmitted: lambda: OrderSubmitted(*_BASE),
    OrderDenied: lambda: OrderDenied(*_BASE, "risk"),
    OrderAccepted: lambda: OrderAccepted(*_BASE, "V-1"),
    OrderRejected: lambda: OrderRejected(*_BASE, "bad"),
    OrderUpdated: lambda: OrderUpdated(*_BASE, quantity=10.0),
    OrderTriggered: lambda: OrderTriggered(*_BASE),
    OrderPendingCancel: lambda: OrderPendingCancel(*_BASE),
    OrderPendingUpdate: lambda: OrderPendingUpdate(*_BASE),
    OrderModifyRejected: lambda: OrderModifyRejected(*_BASE, "no"),
    OrderCancelRejected: lambda: OrderCancelRejected(*_BASE, "too late"),
    OrderCanceled: lambda: OrderCanceled(*_BASE),
    OrderExpired: lambda: OrderExpired(*_BASE),
    OrderFilled: lambda: _fill(2.0),
}

# How to bring a fresh order (quantity 10) to each status.
PATHS: dict[OrderStatus, list[OrderEvent]] = {
    S.INITIALIZED: [],
    S.DENIED: [OrderDenied(*_BASE, "risk")],
    S.SUBMITTED: [OrderSubmitted(*_BASE)],
    S.ACCEPTED: [OrderSubmitted(*_BASE), OrderAccepted(*_BASE, "V-1")],
    S.REJECTED: [OrderSubmitted(*_BASE), OrderRejected(*_BASE, "bad")],
    S.TRIGGERED: [OrderSubmitted(*_BASE), OrderAccepted(*_BASE, "V-1"), OrderTriggered(*_BASE)],
    S.PENDING_CANCEL: [
        OrderSubmitted(*_BASE),
        OrderAccepted(*_BASE, "V-1"),
        OrderPendingCancel(*_BASE),
    ],
    S.PENDING_UPDATE: [
        OrderSubmitted(*_BASE),
        OrderAccepted(*_BASE, "V-1"),
        OrderPendingUpdate(*_BASE),
    ],
    S.PARTIALLY_FILLED: [OrderSubmitted(*_BASE), OrderAccepted(*_BASE, "V-1"), _fill(3.0)],
    S.FILLED: [OrderSubmitted(*_BASE), OrderAccepted(*_BASE, "V-1"), _fill(10.0)],
    S.CANCELED: [OrderSubmitted(*_BASE), OrderAccepted(*_BASE, "V-1"), OrderCanceled(*_BASE)],
    S.EXPIRED: [OrderSubmitted(*_BASE), OrderAccepted(*_BASE, "V-1"), OrderExpired(*_BASE)],
}

# The lifecycle, written out by hand. A fill of 2 of 10 leaves the order partly filled.
# RESUME: back to the working status the order had before its request went pending
# (PARTIALLY_FILLED if anything filled, else TRIGGERED if triggered, else ACCEPTED).
# STAY: a refused cancel or amend outside the pending states changes nothing.
RESUME = "resume"
STAY = "stay"
LEGAL: dict[tuple[OrderStatus, type[OrderEvent]], OrderStatus | str] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.INITIALIZED, OrderCanceled): S.CANCELED,
    (S.INITIALIZED, OrderUpdated): S.INITIALIZED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderUpdated): S.SUBMITTED,
    (S.SUBMITTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderRejected): S.REJECTED,
    (S.ACCEPTED, OrderUpdated): S.ACCEPTED,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.ACCEPTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.TRIGGERED, OrderUpdated): S.TRIGGERED,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderFilled): S.PARTIALLY_FILLED,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderFilled): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderTriggered): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderUpdated): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderCancelRejected): RESUME,
    (S.PENDING_UPDATE, OrderUpdated): RESUME,
    (S.PENDING_UPDATE, OrderModifyRejected): RESUME,
    (S.PENDING_UPDATE, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, OrderTriggered): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, OrderCanceled): S.CANCELED,
    (S.PENDING_UPDATE, OrderExpired): S.EXPIRED,
    (S.PENDING_UPDATE, OrderFilled): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, OrderUpdated): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): S.PARTIALLY_FILLED,
}
for _status in S:
    for _refusal in (OrderCancelRejected, OrderModifyRejected):
        LEGAL.setdefault((_status, _refusal), STAY)


def _expected(order: Order, before: OrderStatus, kind: type[OrderEvent]) -> OrderStatus:
    """Resolve the table's placeholders for an order that has just applied ``kind``."""
    target = LEGAL[before, kind]
    if target == STAY:
        return before
    if target == RESUME:
        if order.filled_qty > 0:
            return S.PARTIALLY_FILLED
        return S.TRIGGERED if order.triggered else S.ACCEPTED
    assert isinstance(target, OrderStatus)
    if kind is OrderFilled and order.filled_qty >= 10.0:
        return S.FILLED
    return target


ILLEGAL = sorted(
    (pair for pair in product(S, EVENTS) if pair not in LEGAL),
    key=lambda p: (p[0].value, p[1].__name__),
)


def _order_in(status: OrderStatus) -> Order:
    order = _order()
    for event in PATHS[status]:
        order.apply(event)
    assert order.status is status
    return order


@pytest.mark.parametrize(
    ("status", "event_type"), list(LEGAL), ids=[f"{s.value}-{e.__name__}" for s, e in LEGAL]
)
def test_legal_transition(status: OrderStatus, event_type: type[OrderEvent]) -> None:
    order = _order_in(status)
    n_events = len(order.events)
    event = EVENTS[event_type]()

    order.apply(event)

    assert order.status is _expected(order, status, event_type)
    assert order.events[-1] is event
    assert len(order.events) == n_events + 1
    assert order.ts_last == event.ts_event


@pytest.mark.parametrize(
    ("status", "event_type"), ILLEGAL, ids=[f"{s.value}-{e.__name__}" for s, e in ILLEGAL]
)
def test_illegal_transition_raises_and_leaves_order_unchanged(
    status: OrderStatus, event_type: type[OrderEvent]
) -> None:
    order = _order_in(status)
    before = (order.status, order.filled_qty, order.avg_px, list(order.events), order.ts_last)

    with pytest.raises(InvalidStateTransitionError, match=f"{event_type.__name__} is not allowed"):
        order.apply(EVENTS[event_type]())

    assert (order.status, order.filled_qty, order.avg_px, order.events, order.ts_last) == before


def test_every_status_and_event_is_covered_by_the_tables() -> None:
    assert set(PATHS) == set(S)
    assert len(LEGAL) + len(ILLEGAL) == len(S) * len(EVENTS) == 156


def test_closed_statuses() -> None:
    closed = {s for s in S if s.is_closed}

    assert closed == {S.DENIED, S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED}
    for status in S:
        order = _order_in(status)
        assert order.is_closed is (status in closed)
        assert order.is_open is (status not in closed and status is not S.INITIALIZED)


def test_accepted_records_the_venue_order_id() -> None:
    order = _order_in(S.SUBMITTED)

    order.apply(OrderAccepted(OID, "S", "X", 3, "SIM-42"))

    assert order.venue_order_id == "SIM-42"


def test_event_of_another_order_is_refused() -> None:
    order = _order()

    with pytest.raises(
        InvalidStateTransitionError, match="event for order O-2 applied to order O-1"
    ):
        order.apply(OrderSubmitted("O-2", "S", "X", 1))

    assert order.status is S.INITIALIZED
    assert order.events == []


# -- fills -----------------------------------------------------------------------------
def test_partial_then_complete_fill_moves_status_and_average_price() -> None:
    order = _order_in(S.ACCEPTED)

    order.apply(_fill(4.0, 100.0))
    assert order.status is S.PARTIALLY_FILLED
    assert order.filled_qty == 4.0
    assert order.leaves_qty == 6.0
    assert order.avg_px == 100.0

    order.apply(_fill(6.0, 105.0))
    assert order.status is S.FILLED
    assert order.filled_qty == 10.0
    assert order.leaves_qty == 0.0
    assert order.avg_px == pytest.approx((4 * 100.0 + 6 * 105.0) / 10)  # 103.0


def test_fill_beyond_quantity_raises_and_leaves_order_unchanged() -> None:
    order = _order_in(S.PARTIALLY_FILLED)  # 3 of 10 filled at 100

    with pytest.raises(InvalidStateTransitionError, match=r"exceed the order quantity 10\.0"):
        order.apply(_fill(8.0, 120.0))

    assert order.status is S.PARTIALLY_FILLED
    assert order.filled_qty == 3.0
    assert order.avg_px == 100.0
    assert len(order.events) == 3


def test_fill_on_the_wrong_side_is_refused() -> None:
    order = _order_in(S.ACCEPTED)

    with pytest.raises(InvalidStateTransitionError, match="fill side SELL != order side"):
        order.apply(_fill(1.0, side=OrderSide.SELL))

    assert order.status is S.ACCEPTED
    assert order.filled_qty == 0.0


@pytest.mark.parametrize("qty", [0.0, -1.0])
def test_fill_quantity_must_be_positive(qty: float) -> None:
    order = _order_in(S.ACCEPTED)

    with pytest.raises(InvalidStateTransitionError, match="fill quantity must be positive"):
        order.apply(_fill(qty))

    assert order.status is S.ACCEPTED


def test_cash_sized_order_cannot_fill_before_it_is_sized() -> None:
    order = _order(
        order_type=OrderType.MARKET,
        quantity=None,
        price=None,
        trigger_price=None,
        cash_fraction=0.5,
    )
    order.apply(OrderSubmitted(*_BASE))
    order.apply(OrderAccepted(*_BASE, "V-1"))
    assert order.leaves_qty == 0.0
    assert order.signed_quantity == 0.0

    with pytest.raises(InvalidStateTransitionError, match="fill before the order was sized"):
        order.apply(_fill(1.0))

    order.apply(OrderUpdated(*_BASE, quantity=7.0))
    order.apply(_fill(7.0, 50.0))
    assert order.status is S.FILLED
    assert order.quantity == 7.0


def test_update_changes_quantity_and_prices() -> None:
    order = _order_in(S.ACCEPTED)

    order.apply(OrderUpdated(*_BASE, quantity=12.0, price=102.0, trigger_price=99.5))

    assert (order.quantity, order.price, order.trigger_price) == (12.0, 102.0, 99.5)
    assert order.status is S.ACCEPTED


def test_update_without_prices_keeps_them() -> None:
    order = _order_in(S.ACCEPTED)

    order.apply(OrderUpdated(*_BASE, quantity=4.0))

    assert (order.quantity, order.price, order.trigger_price) == (4.0, 101.0, 100.0)


def test_update_below_the_filled_quantity_is_refused() -> None:
    order = _order_in(S.PARTIALLY_FILLED)  # 3 filled

    with pytest.raises(InvalidStateTransitionError, match=r"below the filled quantity 3\.0"):
        order.apply(OrderUpdated(*_BASE, quantity=2.0))

    assert order.quantity == 10.0
    assert order.status is S.PARTIALLY_FILLED


@pytest.mark.parametrize("qty", [0.0, -3.0, math.nan, math.inf])
def test_update_to_a_non_positive_quantity_is_refused(qty: float) -> None:
    order = _order_in(S.ACCEPTED)

    with pytest.raises(InvalidStateTransitionError, match="updated quantity must be positive"):
        order.apply(OrderUpdated(*_BASE, quantity=qty))

    assert order.quantity == 10.0


def test_signed_quantity_and_leaves() -> None:
    assert _order(side=OrderSide.SELL, quantity=7.0).signed_quantity == -7.0
    assert _order(side=OrderSide.BUY, quantity=7.0).signed_quantity == 7.0
    assert _order(quantity=7.0).leaves_qty == 7.0


@settings(max_examples=60, deadline=None)
@given(
    quantity=st.integers(min_value=1, max_value=50),
    fills=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=20),
            st.integers(min_value=1, max_value=20_000),  # price in cents
        ),
        max_size=15,
    ),
)
def test_random_partial_fills_never_exceed_quantity(
    quantity: int, fills: list[tuple[int, int]]
) -> None:
    order = _order(quantity=float(quantity))
    order.apply(OrderSubmitted(*_BASE))
    order.apply(OrderAccepted(*_BASE, "V-1"))
    accepted: list[tuple[int, float]] = []

    for k, (qty, cents) in enumerate(fills):
        px = cents / 100
        before = (order.status, order.filled_qty, order.avg_px, len(order.events))
        event = OrderFilled(
            OID, "S", "X", k, f"T{k}", OrderSide.BUY, float(qty), px, 0.0, LiquiditySide.MAKER
        )
        filled_so_far = sum(q for q, _ in accepted)
        if order.is_closed or filled_so_far + qty > quantity:
            with pytest.raises(InvalidStateTransitionError):
                order.apply(event)
            assert (order.status, order.filled_qty, order.avg_px, len(order.events)) == before
            continue
        order.apply(event)
        accepted.append((qty, px))

        filled = sum(q for q, _ in accepted)
        assert order.filled_qty == filled
        assert 0 < order.filled_qty <= quantity
        assert order.leaves_qty == quantity - filled
        assert order.status is (S.FILLED if filled == quantity else S.PARTIALLY_FILLED)
        weighted = sum(q * p for q, p in accepted) / filled
        assert order.avg_px == pytest.approx(weighted, rel=1e-12)
        assert min(p for _, p in accepted) - 1e-9 <= order.avg_px
        assert order.avg_px <= max(p for _, p in accepted) + 1e-9


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(sorted(EVENTS, key=lambda e: e.__name__)), max_size=12))
def test_random_event_sequences_follow_the_transition_table(
    kinds: list[type[OrderEvent]],
) -> None:
    order = _order()

    for kind in kinds:
        before = (order.status, order.filled_qty, order.avg_px, len(order.events))
        event = EVENTS[kind]()
        overfill = kind is OrderFilled and order.filled_qty + 2.0 > 10.0
        if (order.status, kind) not in LEGAL or overfill:
            with pytest.raises(InvalidStateTransitionError):
                order.apply(event)
            assert (order.status, order.filled_qty, order.avg_px, len(order.events)) == before
            continue
        order.apply(event)
        assert order.status is _expected(order, before[0], kind)
        if before[0].is_closed:
            assert order.status is before[0]  # a closed order never reopens or fills
        assert 0.0 <= order.filled_qty <= 10.0
        assert order.events[-1] is event


def test_triggered_flag_outlives_the_triggered_status() -> None:
    order = _order_in(S.ACCEPTED)
    assert order.triggered is False

    order.apply(OrderTriggered(*_BASE))
    order.apply(_fill(2.0))

    assert order.status is S.PARTIALLY_FILLED
    assert order.triggered is True


# -- field validation --------------------------------------------------------------------
@pytest.mark.parametrize("qty", [0.0, -1.0, math.nan, math.inf])
def test_quantity_must_be_positive_and_finite(qty: float) -> None:
    with pytest.raises(
        InvalidOrderError, match=r"order O-1: quantity must be a positive finite number"
    ):
        _order(order_type=OrderType.MARKET, price=None, trigger_price=None, quantity=qty)


def test_limit_order_needs_a_price() -> None:
    with pytest.raises(InvalidOrderError, match="order O-1: LIMIT orders need a price"):
        _order(order_type=OrderType.LIMIT, price=None, trigger_price=None)


def test_market_order_takes_no_price() -> None:
    with pytest.raises(InvalidOrderError, match="order O-1: MARKET orders take no price"):
        _order(order_type=OrderType.MARKET, price=100.0, trigger_price=None)


def test_market_order_takes_no_trigger_price() -> None:
    with pytest.raises(InvalidOrderError, match="MARKET orders take no trigger_price"):
        _order(order_type=OrderType.MARKET, price=None, trigger_price=100.0)


def test_stop_order_needs_a_trigger_price_and_takes_no_price() -> None:
    with pytest.raises(InvalidOrderError, match="STOP orders need a trigger_price"):
        _order(order_type=OrderType.STOP, price=None, trigger_price=None)
    with pytest.raises(InvalidOrderError, match="STOP orders take no price"):
        _order(order_type=OrderType.STOP, price=100.0, trigger_price=100.0)


def test_stop_limit_order_needs_both_prices() -> None:
    with pytest.raises(InvalidOrderError, match="STOP_LIMIT orders need a price"):
        _order(price=None)
    with pytest.raises(InvalidOrderError, match="STOP_LIMIT orders need a trigger_price"):
        _order(trigger_price=None)


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf])
def test_prices_must_be_positive_and_finite(price: float) -> None:
    with pytest.raises(InvalidOrderError, match="price must be a positive finite number"):
        _order(order_type=OrderType.LIMIT, price=price, trigger_price=None)
    with pytest.raises(InvalidOrderError, match="trigger_price must be a positive finite number"):
        _order(order_type=OrderType.STOP, price=None, trigger_price=price)


@pytest.mark.parametrize("order_type", [OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT])
def test_post_only_applies_only_to_limit_orders(order_type: OrderType) -> None:
    prices = {
        OrderType.MARKET: (None, None),
        OrderType.STOP: (None, 100.0),
        OrderType.STOP_LIMIT: (101.0, 100.0),
    }[order_type]

    with pytest.raises(
        InvalidOrderError, match=f"post_only applies only to LIMIT orders, not {order_type.value}"
    ):
        _order(order_type=order_type, price=prices[0], trigger_price=prices[1], post_only=True)


def test_post_only_limit_order_is_valid() -> None:
    order = _order(order_type=OrderType.LIMIT, trigger_price=None, post_only=True)

    assert order.post_only is True
    assert order.status is S.INITIALIZED


@pytest.mark.parametrize("fraction", [None, 0.0, -0.5, 1.01])
def test_cash_sized_order_needs_a_fraction_in_zero_one(fraction: float | None) -> None:
    with pytest.raises(InvalidOrderError, match=r"cash_fraction must be in \(0, 1\]"):
        _order(
            order_type=OrderType.MARKET,
            price=None,
            trigger_price=None,
            quantity=None,
            cash_fraction=fraction,
        )


@pytest.mark.parametrize("fraction", [1.0, 0.25])
def test_cash_sized_market_order_is_valid(fraction: float) -> None:
    order = _order(
        order_type=OrderType.MARKET,
        price=None,
        trigger_price=None,
        quantity=None,
        cash_fraction=fraction,
        time_in_force=TimeInForce.DAY,
    )

    assert order.quantity is None
    assert order.cash_fraction == fraction


def test_only_market_orders_can_be_sized_from_cash() -> None:
    with pytest.raises(InvalidOrderError, match="only market orders can be sized from cash"):
        _order(order_type=OrderType.LIMIT, trigger_price=None, quantity=None, cash_fraction=0.5)


def test_invalid_order_error_is_a_value_error() -> None:
    assert issubclass(InvalidOrderError, ValueError)
