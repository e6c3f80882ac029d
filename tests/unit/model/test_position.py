"""Netting positions, closed trades and the account's cash."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.model import Account, ClosedTrade, Position

BUY, SELL = 1, -1


def test_new_position_is_flat() -> None:
    pos = Position("X")

    assert pos.is_flat
    assert (pos.quantity, pos.avg_px_open, pos.realized_pnl, pos.commissions) == (0, 0, 0, 0)
    assert pos.unrealized_pnl(123.0) == 0.0


def test_open_long() -> None:
    pos = Position("X")

    closed = pos.apply_fill(BUY, 10, 100.0, 1.0, ts=7)

    assert closed == []
    assert not pos.is_flat
    assert (pos.quantity, pos.avg_px_open, pos.ts_opened) == (10, 100.0, 7)
    assert pos.realized_pnl == 0.0
    assert pos.commissions == 1.0
    assert pos.unrealized_pnl(110.0) == 100.0
    assert pos.unrealized_pnl(95.0) == -50.0


def test_open_short() -> None:
    pos = Position("X")

    pos.apply_fill(SELL, 10, 50.0, 0.0, ts=1)

    assert (pos.quantity, pos.avg_px_open) == (-10, 50.0)
    assert pos.unrealized_pnl(45.0) == 50.0
    assert pos.unrealized_pnl(52.0) == -20.0


def test_add_to_position_averages_the_entry_price_by_quantity() -> None:
    pos = Position("X")
    pos.apply_fill(BUY, 10, 100.0, 0.0, ts=1)

    closed = pos.apply_fill(BUY, 30, 104.0, 0.0, ts=2)

    assert closed == []
    assert pos.quantity == 40
    assert pos.avg_px_open == pytest.approx((10 * 100 + 30 * 104) / 40)  # 103
    assert pos.ts_opened == 1


def test_add_to_short_averages_too() -> None:
    pos = Position("X")
    pos.apply_fill(SELL, 5, 20.0, 0.0, ts=1)
    pos.apply_fill(SELL, 15, 24.0, 0.0, ts=2)

    assert pos.quantity == -20
    assert pos.avg_px_open == pytest.approx(23.0)


def test_partial_reduce_releases_entry_commission_pro_rata() -> None:
    pos = Position("X")
    pos.apply_fill(BUY, 10, 100.0, 2.0, ts=1)

    closed = pos.apply_fill(SELL, 4, 110.0, 1.0, ts=5)

    # gross 4 * 10 = 40; exit commission 1; entry commission 2 * 4/10 = 0.8.
    assert closed == [
        ClosedTrade(
            instrument_id="X",
            size=4.0,
            entry_ts=1,
            entry_price=100.0,
            exit_ts=5,
            exit_price=110.0,
            pnl=pytest.approx(38.2),
            return_pct=pytest.approx(38.2 / 400),
            commission=pytest.approx(1.8),
        )
    ]
    assert pos.quantity == 6
    assert pos.avg_px_open == 100.0
    assert pos.realized_pnl == pytest.approx(38.2)
    assert pos.commissions == 3.0


def test_close_releases_the_rest_of_the_entry_commission() -> None:
    pos = Position("X")
    pos.apply_fill(BUY, 10, 100.0, 2.0, ts=1)
    pos.apply_fill(SELL, 4, 110.0, 1.0, ts=5)

    closed = pos.apply_fill(SELL, 6, 90.0, 1.0, ts=9)

    # gross 6 * -10 = -60; exit 1; entry 2 * 6/10 = 1.2.
    (trade,) = closed
    assert trade.size == 6.0
    assert trade.pnl == pytest.approx(-62.2)
    assert trade.commission == pytest.approx(2.2)
    assert trade.return_pct == pytest.approx(-62.2 / 600)
    assert (trade.entry_ts, trade.exit_ts, trade.exit_price) == (1, 9, 90.0)
    assert pos.is_flat
    assert pos.avg_px_open == 0.0
    assert pos.realized_pnl == pytest.approx(38.2 - 62.2)
    # Net of every commission: gross 40 - 60 minus 2 + 1 + 1.
    assert pos.realized_pnl == pytest.approx(-20.0 - 4.0)


def test_close_short_trade_has_negative_size_and_positive_pnl_on_a_drop() -> None:
    pos = Position("X")
    pos.apply_fill(SELL, 10, 50.0, 0.0, ts=1)

    (trade,) = pos.apply_fill(BUY, 10, 40.0, 0.0, ts=2)

    assert trade.size == -10.0
    assert trade.pnl == 100.0
    assert trade.return_pct == pytest.approx(0.2)
    assert pos.is_flat


def test_flip_through_zero_closes_old_side_and_opens_at_fill_price() -> None:
    pos = Position("X")
    pos.apply_fill(BUY, 10, 100.0, 2.0, ts=1)

    closed = pos.apply_fill(SELL, 25, 90.0, 5.0, ts=3)

    # Closed part: 10 of 25, so exit commission 5 * 10/25 = 2, entry commission 2.
    (trade,) = closed
    assert trade.size == 10.0
    assert trade.pnl == pytest.approx(-100.0 - 2.0 - 2.0)
    assert trade.commission == pytest.approx(4.0)
    assert (trade.entry_price, trade.exit_price) == (100.0, 90.0)
    assert pos.quantity == -15
    assert pos.avg_px_open == 90.0
    assert pos.ts_opened == 3
    assert pos.realized_pnl == pytest.approx(-104.0)

    # The new short carries the other 3 of commission into its own closed trade.
    (second,) = pos.apply_fill(BUY, 15, 80.0, 0.0, ts=4)
    assert second.size == -15.0
    assert second.entry_ts == 3
    assert second.entry_price == 90.0
    assert second.pnl == pytest.approx(150.0 - 3.0)
    assert second.commission == pytest.approx(3.0)
    assert second.return_pct == pytest.approx(147.0 / 1350.0)
    assert pos.is_flat
    assert pos.realized_pnl == pytest.approx(-104.0 + 147.0)


def test_flip_from_short_to_long() -> None:
    pos = Position("X")
    pos.apply_fill(SELL, 4, 10.0, 0.0, ts=1)

    (trade,) = pos.apply_fill(BUY, 10, 12.0, 0.0, ts=2)

    assert trade.size == -4.0
    assert trade.pnl == pytest.approx(-8.0)
    assert pos.quantity == 6
    assert pos.avg_px_open == 12.0


def test_multiplier_scales_pnl() -> None:
    pos = Position("ES", multiplier=50.0)
    pos.apply_fill(BUY, 2, 4500.0, 0.0, ts=1)
    assert pos.unrealized_pnl(4501.0) == 100.0

    (trade,) = pos.apply_fill(SELL, 2, 4510.0, 0.0, ts=2)

    assert trade.pnl == 1000.0
    assert trade.return_pct == pytest.approx(1000.0 / (2 * 4500.0 * 50.0))


def test_reopening_after_close_starts_fresh() -> None:
    pos = Position("X")
    pos.apply_fill(BUY, 10, 100.0, 5.0, ts=1)
    pos.apply_fill(SELL, 10, 100.0, 0.0, ts=2)

    pos.apply_fill(BUY, 1, 200.0, 0.0, ts=3)
    (trade,) = pos.apply_fill(SELL, 1, 200.0, 0.0, ts=4)

    assert pos.ts_opened == 3
    assert trade.pnl == 0.0  # the first trade's commission is not charged again
    assert trade.entry_ts == 3


def test_partial_fills_leave_no_float_dust() -> None:
    pos = Position("BTC")
    pos.apply_fill(BUY, 0.3, 100.0, 0.0, ts=1)
    for ts in range(3):
        pos.apply_fill(SELL, 0.1, 100.0, 0.0, ts=ts + 2)

    assert pos.quantity == 0.0
    assert pos.is_flat


# -- account -----------------------------------------------------------------------------
def test_account_moves_cash_for_buys_sells_and_commissions() -> None:
    account = Account(10_000.0)

    account.apply_fill(BUY, 10, 100.0, 1.0, 1.0)
    assert account.cash == 8_999.0
    account.apply_fill(SELL, 10, 110.0, 1.0, 1.0)
    assert account.cash == 10_098.0
    account.apply_fill(SELL, 2, 4500.0, 50.0, 3.0)  # short sale brings cash in
    assert account.cash == 10_098.0 + 450_000.0 - 3.0
    assert account.commissions == 5.0
    assert account.initial_cash == 10_000.0
    assert account.currency == "USD"


@pytest.mark.parametrize("cash", [0.0, -1.0])
def test_account_needs_positive_initial_cash(cash: float) -> None:
    with pytest.raises(ValueError, match=re.escape(f"initial cash must be positive, got {cash}")):
        Account(cash)


# -- invariants --------------------------------------------------------------------------
_fills = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(min_value=1, max_value=100),  # quantity
        st.integers(min_value=100, max_value=100_000),  # price in cents
        st.integers(min_value=0, max_value=500),  # commission in cents
    ),
    min_size=1,
    max_size=20,
)


def _replay(
    fills: list[tuple[int, int, int, int]], multiplier: float
) -> tuple[Position, Account, float, float, float]:
    pos = Position("X", multiplier)
    account = Account(1_000_000.0)
    flows = 0.0
    commissions = 0.0
    scale = 1.0
    for ts, (side, qty, cents, fee_cents) in enumerate(fills):
        price, fee = cents / 100, fee_cents / 100
        pos.apply_fill(side, qty, price, fee, ts)
        account.apply_fill(side, qty, price, multiplier, fee)
        flows += side * qty * price * multiplier
        commissions += fee
        scale += qty * price * multiplier
    return pos, account, flows, commissions, scale


@settings(max_examples=80, deadline=None)
@given(
    fills=_fills,
    mark_cents=st.integers(min_value=100, max_value=100_000),
    multiplier=st.sampled_from([1.0, 50.0]),
)
def test_cash_and_pnl_reconcile_with_the_fills(
    fills: list[tuple[int, int, int, int]], mark_cents: int, multiplier: float
) -> None:
    pos, account, flows, commissions, scale = _replay(fills, multiplier)
    mark = mark_cents / 100
    net_quantity = sum(side * qty for side, qty, _, _ in fills)

    assert pos.quantity == net_quantity
    assert account.cash == pytest.approx(1_000_000.0 - flows - commissions, rel=1e-9)
    assert account.commissions == pytest.approx(commissions, rel=1e-9, abs=1e-12)
    assert pos.commissions == pytest.approx(commissions, rel=1e-9, abs=1e-12)

    # Cash-flow P&L of the fills marked at `mark`, before and after commissions.
    gross_pnl = -flows + net_quantity * mark * multiplier
    booked = pos.realized_pnl + pos.unrealized_pnl(mark)
    # Booked P&L is gross minus the commissions released into closed trades; what is
    # still held is the entry commission of the open quantity, between 0 and the total.
    held = booked - (gross_pnl - commissions)
    tol = 1e-9 * scale
    assert -tol <= held <= commissions + tol
    if pos.is_flat:
        assert held == pytest.approx(0.0, abs=tol)


@settings(max_examples=80, deadline=None)
@given(fills=_fills, mark_cents=st.integers(min_value=100, max_value=100_000))
def test_realized_plus_unrealized_equals_cash_flow_pnl_without_commission(
    fills: list[tuple[int, int, int, int]], mark_cents: int
) -> None:
    free = [(side, qty, cents, 0) for side, qty, cents, _ in fills]
    pos, account, flows, _, scale = _replay(free, 1.0)
    mark = mark_cents / 100
    net_quantity = sum(side * qty for side, qty, _, _ in fills)

    cash_flow_pnl = (account.cash - account.initial_cash) + net_quantity * mark

    assert cash_flow_pnl == pytest.approx(-flows + net_quantity * mark, abs=1e-9 * scale)
    assert pos.realized_pnl + pos.unrealized_pnl(mark) == pytest.approx(
        cash_flow_pnl, abs=1e-9 * scale
    )


@settings(max_examples=80, deadline=None)
@given(fills=_fills, mark_cents=st.integers(min_value=100, max_value=100_000))
def test_flattening_books_exactly_the_net_cash_flow_pnl(
    fills: list[tuple[int, int, int, int]], mark_cents: int
) -> None:
    pos, account, _, _, scale = _replay(fills, 1.0)
    mark = mark_cents / 100
    if not pos.is_flat:
        side = SELL if pos.quantity > 0 else BUY
        qty = abs(pos.quantity)
        pos.apply_fill(side, qty, mark, 0.25, len(fills))
        account.apply_fill(side, qty, mark, 1.0, 0.25)
        scale += qty * mark

    assert pos.is_flat
    assert pos.realized_pnl == pytest.approx(account.cash - account.initial_cash, abs=1e-9 * scale)
