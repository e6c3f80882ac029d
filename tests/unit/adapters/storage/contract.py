"""The storage port's contract, run against every store.

A test class per store subclasses ``StoreContract`` and provides a ``store`` fixture (a
fresh, migrated store): ``InMemoryStore`` here, ``SqliteStore`` and ``PostgresStore`` in
``tests/integration/storage``. Every refusal is checked to leave earlier rows intact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.adapters.storage import (
    AccountEventKind,
    AccountEventRecord,
    ApiKeyRecord,
    ConflictError,
    FillRecord,
    InvalidRecordError,
    JobStatus,
    NotFoundError,
    OrderRecord,
    PositionRecord,
    Role,
    Store,
    StoreError,
    TransitionError,
    UserRecord,
)
from quantgrid.model import (
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
)
from tests.unit.adapters.storage.checkpoint_contract import CheckpointContract

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
HASH_2 = "$argon2id$v=19$m=65536,t=3,p=4$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo"
T0 = 1_704_067_200_000_000_000

# Hypothesis runs many examples on one store (function-scoped fixture): each example
# uses ids of its own, so examples do not see each other's rows. Each store's class
# runs the same inherited test (differing executors): that is the point of a contract.
_ONE_STORE_MANY_EXAMPLES = settings(
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.differing_executors,
    ],
    deadline=None,
)


def make_order(oid: str = "o-1", **changes: Any) -> OrderRecord:
    fields: dict[str, Any] = {
        "client_order_id": oid,
        "strategy_id": "s-1",
        "instrument_id": "AAPL",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("10"),
        "price": Decimal("187.25"),
        "ts_init": T0,
    }
    fields.update(changes)
    return OrderRecord(**fields)


def make_fill(tid: str = "t-1", oid: str = "o-1", **changes: Any) -> FillRecord:
    fields: dict[str, Any] = {
        "trade_id": tid,
        "client_order_id": oid,
        "strategy_id": "s-1",
        "instrument_id": "AAPL",
        "side": OrderSide.BUY,
        "quantity": Decimal("4"),
        "price": Decimal("187.25"),
        "commission": Decimal("0.35"),
        "liquidity_side": LiquiditySide.MAKER,
        "ts_event": T0 + 10,
    }
    fields.update(changes)
    return FillRecord(**fields)


def filled_event(tid: str = "t-1", oid: str = "o-1", qty: float = 4.0, ts: int = T0 + 10) -> Any:
    return OrderFilled(
        oid,
        "s-1",
        "AAPL",
        ts,
        trade_id=tid,
        side=OrderSide.BUY,
        last_qty=qty,
        last_px=187.25,
        commission=0.35,
        liquidity_side=LiquiditySide.TAKER,
    )


def make_user(name: str = "alice", **changes: Any) -> UserRecord:
    fields: dict[str, Any] = {
        "username": name,
        "password_hash": HASH,
        "role": Role.TRADER,
        "created_ns": T0,
    }
    fields.update(changes)
    return UserRecord(**fields)


def make_key(key_id: str = "k-1", owner: str = "alice", **changes: Any) -> ApiKeyRecord:
    fields: dict[str, Any] = {
        "key_id": key_id,
        "key_hash": HASH,
        "owner": owner,
        "role": Role.TRADER,
        "created_ns": T0,
    }
    fields.update(changes)
    return ApiKeyRecord(**fields)


def cash(event_id: str, amount: str, kind: AccountEventKind = AccountEventKind.DEPOSIT, **kw: Any):
    fields: dict[str, Any] = {
        "event_id": event_id,
        "account_id": "acc-1",
        "kind": kind,
        "amount": Decimal(amount),
        "currency": "USD",
        "ts_event": T0,
    }
    fields.update(kw)
    return AccountEventRecord(**fields)


def position(iid: str = "AAPL", qty: str = "10", ts: int = T0, **kw: Any) -> PositionRecord:
    fields: dict[str, Any] = {
        "account_id": "acc-1",
        "instrument_id": iid,
        "quantity": Decimal(qty),
        "avg_px_open": Decimal("187.25"),
        "realized_pnl": Decimal("0"),
        "ts_event": ts,
    }
    fields.update(kw)
    return PositionRecord(**fields)


class StoreContract(CheckpointContract):
    """What every ``Store`` does; subclasses provide the ``store`` fixture."""

    # -- orders ----------------------------------------------------------------------------
    def test_a_saved_order_reads_back_with_its_fields_and_initial_state(self, store: Store):
        order = make_order(tag="entry", linked_order_ids=("o-2", "o-3"), reduce_only=True)
        assert store.save_order(order) is True
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.order == order
        assert stored.status is OrderStatus.INITIALIZED
        assert stored.filled_qty == 0
        assert stored.venue_order_id == ""
        assert stored.ts_last == T0
        assert store.get_order("nope") is None

    def test_an_order_from_the_domain_keeps_its_decimal_form(self, store: Store):
        domain = Order("o-1", "s-1", "AAPL", OrderSide.SELL, OrderType.LIMIT, 3.0, price=0.1)
        store.save_order(OrderRecord.from_order(domain))
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.order.price == Decimal("0.1")
        assert str(stored.order.price) == "0.1"
        assert stored.order.quantity == 3

    def test_a_cash_sized_order_has_no_quantity(self, store: Store):
        domain = Order(
            "o-1", "s-1", "AAPL", OrderSide.BUY, OrderType.MARKET, None, cash_fraction=0.5
        )
        store.save_order(OrderRecord.from_order(domain))
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.order.quantity is None
        assert stored.order.cash_fraction == Decimal("0.5")

    def test_saving_the_same_order_twice_stores_it_once(self, store: Store):
        assert store.save_order(make_order()) is True
        assert store.save_order(make_order()) is False
        assert len(store.list_orders().items) == 1

    def test_the_same_id_with_other_fields_is_a_conflict_naming_id_and_field(self, store: Store):
        store.save_order(make_order())
        with pytest.raises(ConflictError, match=r"order o-1 .*quantity: stored 10, given 11"):
            store.save_order(make_order(quantity=Decimal("11")))
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.order == make_order()

    @pytest.mark.parametrize(
        ("changes", "pattern"),
        [
            ({"quantity": Decimal("-1")}, r"order o-1: quantity must be positive, got -1"),
            ({"quantity": Decimal("0")}, r"order o-1: quantity must be positive"),
            ({"quantity": 10.0}, r"order o-1: quantity must be a Decimal.*to_decimal"),
            ({"quantity": Decimal("NaN")}, r"order o-1: quantity must be finite"),
            (
                {"price": Decimal(1 / 10)},
                r"order o-1: price must have at most .* digits",
            ),  # float-built
            ({"price": Decimal("1e21")}, r"order o-1: price must have at most 20 digits"),
            ({"side": "BUY"}, r"order o-1: side must be one of BUY, SELL"),
            ({"ts_init": -1}, r"order o-1: ts_init must be integer nanoseconds"),
            ({"ts_init": 1.5}, r"order o-1: ts_init must be integer nanoseconds"),
            ({"strategy_id": ""}, r"order o-1: strategy_id must be 1 to 128 characters"),
            ({"instrument_id": "A APL"}, r"order o-1: instrument_id must be .*whitespace"),
            ({"tag": "a\x00b"}, r"order o-1: tag must be a string .* without NUL"),
            (
                {"quantity": None, "cash_fraction": Decimal("1.5")},
                r"order o-1: cash_fraction must be in \(0, 1\]",
            ),
        ],
    )
    def test_a_bad_order_is_refused_naming_the_field_and_rule(
        self, store: Store, changes: dict[str, Any], pattern: str
    ):
        store.save_order(make_order("o-0"))
        with pytest.raises(InvalidRecordError, match=pattern):
            store.save_order(make_order(**changes))
        assert store.get_order("o-1") is None
        assert store.get_order("o-0") is not None

    def test_a_bad_order_id_is_refused(self, store: Store):
        with pytest.raises(InvalidRecordError, match="order: client_order_id must be 1 to 128"):
            store.save_order(make_order("x" * 129))

    def test_orders_list_by_strategy_status_and_time(self, store: Store):
        for k in range(6):
            store.save_order(make_order(f"o-{k}", strategy_id=f"s-{k % 2}", ts_init=T0 + k))
        store.append_order_event(
            OrderSubmitted("o-2", "s-0", "AAPL", T0 + 20), OrderStatus.SUBMITTED
        )
        ids = lambda page: [o.order.client_order_id for o in page.items]  # noqa: E731
        assert ids(store.list_orders()) == [f"o-{k}" for k in range(6)]
        assert ids(store.list_orders(strategy_id="s-1")) == ["o-1", "o-3", "o-5"]
        assert ids(store.list_orders(status=OrderStatus.SUBMITTED)) == ["o-2"]
        assert ids(store.list_orders(status={OrderStatus.INITIALIZED, OrderStatus.SUBMITTED})) == [
            f"o-{k}" for k in range(6)
        ]
        assert ids(store.list_orders(status=())) == []
        assert ids(store.list_orders(since_ns=T0 + 2, until_ns=T0 + 4)) == ["o-2", "o-3"]
        assert ids(store.list_orders(strategy_id="s-0", since_ns=T0 + 1)) == ["o-2", "o-4"]

    def test_order_pages_cover_every_order_once_even_with_equal_times(self, store: Store):
        expected = []
        for k in range(7):
            oid = f"o-{k:02d}"
            store.save_order(make_order(oid, ts_init=T0 + k // 3))
            expected.append(oid)
        seen: list[str] = []
        page = store.list_orders(limit=3)
        pages = 1
        while page.next_cursor is not None:
            seen += [o.order.client_order_id for o in page.items]
            page = store.list_orders(limit=3, after=page.next_cursor)
            pages += 1
        seen += [o.order.client_order_id for o in page.items]
        assert seen == expected
        assert pages == 3

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"limit": 0}, "limit must be an integer from 1 to 1000"),
            ({"limit": 1001}, "limit must be an integer from 1 to 1000"),
            ({"after": "garbage"}, "after must be a next_cursor a listing returned"),
            ({"since_ns": -5}, "since_ns must be integer nanoseconds"),
            ({"status": "FILLED"}, "status must be one of"),
        ],
    )
    def test_a_bad_listing_is_refused(self, store: Store, kwargs: dict[str, Any], pattern: str):
        with pytest.raises(InvalidRecordError, match=pattern):
            store.list_orders(**kwargs)

    # -- order events ----------------------------------------------------------------------
    def test_order_events_form_an_ordered_history_and_set_the_status(self, store: Store):
        store.save_order(make_order())
        events = [
            OrderSubmitted("o-1", "s-1", "AAPL", T0 + 1),
            OrderAccepted("o-1", "s-1", "AAPL", T0 + 2, venue_order_id="V-9"),
            filled_event(qty=4.0, ts=T0 + 3),
            OrderCanceled("o-1", "s-1", "AAPL", T0 + 4, reason="user"),
        ]
        statuses = [
            OrderStatus.SUBMITTED,
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.CANCELED,
        ]
        for event, status in zip(events, statuses, strict=True):
            assert store.append_order_event(event, status) is True
        history = store.order_events("o-1")
        assert [e.decode() for e in history] == events
        assert [e.event_type for e in history] == [type(e).__name__ for e in events]
        assert [e.status for e in history] == statuses
        assert [e.ts_event for e in history] == [T0 + 1, T0 + 2, T0 + 3, T0 + 4]
        assert history == sorted(history, key=lambda e: e.seq)
        assert msgspec.json.decode(history[1].payload)["venue_order_id"] == "V-9"
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.status is OrderStatus.CANCELED
        assert stored.venue_order_id == "V-9"
        assert stored.ts_last == T0 + 4
        assert stored.filled_qty == Decimal("4")
        assert store.order_events("nope") == []

    def test_an_event_for_an_unknown_order_is_refused(self, store: Store):
        with pytest.raises(NotFoundError, match="OrderSubmitted: order o-9 is not stored"):
            store.append_order_event(
                OrderSubmitted("o-9", "s-1", "AAPL", T0), OrderStatus.SUBMITTED
            )
        assert store.order_events("o-9") == []

    def test_an_event_naming_another_strategy_is_refused(self, store: Store):
        store.save_order(make_order())
        with pytest.raises(InvalidRecordError, match="strategy_id must be the order's 's-1'"):
            store.append_order_event(
                OrderSubmitted("o-1", "s-2", "AAPL", T0), OrderStatus.SUBMITTED
            )
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.status is OrderStatus.INITIALIZED
        assert store.order_events("o-1") == []

    def test_an_event_with_a_bad_status_is_refused(self, store: Store):
        store.save_order(make_order())
        with pytest.raises(InvalidRecordError, match="status must be one of"):
            store.append_order_event(OrderSubmitted("o-1", "s-1", "AAPL", T0), "SUBMITTED")  # type: ignore[arg-type]

    def test_a_redelivered_fill_event_changes_nothing(self, store: Store):
        store.save_order(make_order())
        assert store.append_order_event(filled_event(), OrderStatus.PARTIALLY_FILLED) is True
        assert store.append_order_event(filled_event(), OrderStatus.PARTIALLY_FILLED) is False
        assert len(store.order_events("o-1")) == 1
        assert len(store.list_fills().items) == 1
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.filled_qty == Decimal("4")

    # -- fills -----------------------------------------------------------------------------
    def test_a_redelivered_fill_is_ignored_not_doubled(self, store: Store):
        store.save_order(make_order())
        assert store.record_fill(make_fill()) is True
        assert store.record_fill(make_fill()) is False
        assert store.list_fills(client_order_id="o-1").items == (make_fill(),)
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.filled_qty == Decimal("4")

    def test_a_trade_id_reused_with_other_fields_is_a_conflict(self, store: Store):
        store.save_order(make_order())
        store.record_fill(make_fill())
        with pytest.raises(ConflictError, match=r"fill t-1 .*quantity: stored 4, given 5"):
            store.record_fill(make_fill(quantity=Decimal("5")))
        assert store.list_fills().items == (make_fill(),)

    def test_a_fill_for_an_unknown_order_is_refused(self, store: Store):
        with pytest.raises(NotFoundError, match="fill t-1: order o-1 is not stored"):
            store.record_fill(make_fill())
        assert store.list_fills().items == ()

    @pytest.mark.parametrize(
        ("changes", "pattern"),
        [
            ({"quantity": Decimal("-4")}, "fill t-1: quantity must be positive, got -4"),
            ({"price": Decimal("0")}, "fill t-1: price must be positive"),
            ({"side": OrderSide.SELL}, "fill t-1: side must be that of order o-1 .BUY., got SELL"),
            ({"instrument_id": "MSFT"}, "fill t-1: instrument_id must be that of order o-1"),
            ({"currency": "usd"}, "fill t-1: currency must be 1 to 12 upper-case"),
        ],
    )
    def test_a_bad_fill_is_refused(self, store: Store, changes: dict[str, Any], pattern: str):
        store.save_order(make_order())
        store.record_fill(make_fill("t-0"))
        with pytest.raises(InvalidRecordError, match=pattern):
            store.record_fill(make_fill(**changes))
        assert [f.trade_id for f in store.list_fills().items] == ["t-0"]
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.filled_qty == Decimal("4")

    def test_a_maker_rebate_is_a_negative_commission(self, store: Store):
        store.save_order(make_order())
        store.record_fill(make_fill(commission=Decimal("-0.02")))
        assert store.list_fills().items[0].commission == Decimal("-0.02")

    def test_fills_list_by_order_and_time_in_pages(self, store: Store):
        store.save_order(make_order("o-1"))
        store.save_order(make_order("o-2"))
        for k in range(5):
            store.record_fill(make_fill(f"t-{k}", "o-1" if k % 2 else "o-2", ts_event=T0 + k))
        by_order = store.list_fills(client_order_id="o-1").items
        assert [f.trade_id for f in by_order] == ["t-1", "t-3"]
        in_range = store.list_fills(since_ns=T0 + 1, until_ns=T0 + 4).items
        assert [f.trade_id for f in in_range] == ["t-1", "t-2", "t-3"]
        first = store.list_fills(limit=2)
        assert [f.trade_id for f in first.items] == ["t-0", "t-1"]
        second = store.list_fills(limit=2, after=first.next_cursor)
        assert [f.trade_id for f in second.items] == ["t-2", "t-3"]
        third = store.list_fills(limit=2, after=second.next_cursor)
        assert [f.trade_id for f in third.items] == ["t-4"]
        assert third.next_cursor is None

    def test_fills_sum_to_the_cent(self, store: Store):
        store.save_order(make_order(quantity=Decimal("1")))
        store.record_fill(make_fill("t-1", quantity=Decimal("0.1"), price=Decimal("0.1")))
        store.record_fill(make_fill("t-2", quantity=Decimal("0.2"), price=Decimal("0.2")))
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.filled_qty == Decimal("0.3")
        assert str(stored.filled_qty) == "0.3"
        assert 0.1 + 0.2 != 0.3  # what floats would have stored

    def test_decimals_read_back_exactly(self, store: Store):
        store.save_order(make_order())
        values = ["0.3", "12345678901234567890", "0.000000000000000001", "187.25", "1.10"]
        for k, text in enumerate(values):
            store.record_fill(make_fill(f"t-{k}", price=Decimal(text), ts_event=T0 + k))
        prices = [f.price for f in store.list_fills().items]
        # Same digits and exponent: "1.10" stays 1.10, not 1.1 or 1.1000000000000001.
        assert [p.as_tuple() for p in prices] == [Decimal(t).as_tuple() for t in values]

    def test_an_order_filled_event_from_floats_keeps_the_shortest_decimals(self, store: Store):
        store.save_order(make_order(quantity=Decimal("1")))
        store.append_order_event(filled_event(qty=0.1), OrderStatus.PARTIALLY_FILLED)
        store.append_order_event(filled_event("t-2", qty=0.2), OrderStatus.PARTIALLY_FILLED)
        stored = store.get_order("o-1")
        assert stored is not None
        assert stored.filled_qty == Decimal("0.3")

    @given(cents=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=8))
    @_ONE_STORE_MANY_EXAMPLES
    def test_filled_quantity_is_the_exact_sum_of_fills(self, store: Store, cents: list[int]):
        oid = f"o-{uuid4().hex[:12]}"
        store.save_order(make_order(oid, quantity=Decimal(sum(cents)) / 100))
        for k, c in enumerate(cents):
            store.record_fill(make_fill(f"{oid}-t{k}", oid, quantity=Decimal(c) / 100))
        stored = store.get_order(oid)
        assert stored is not None
        assert stored.filled_qty == Decimal(sum(cents)) / 100

    # -- positions -------------------------------------------------------------------------
    def test_a_position_snapshot_is_replaced_by_a_later_one_only(self, store: Store):
        assert store.upsert_position(position(qty="10", ts=T0)) is True
        assert store.upsert_position(position(qty="-5", ts=T0 + 2)) is True
        assert store.upsert_position(position(qty="99", ts=T0 + 1)) is False
        assert store.positions() == [position(qty="-5", ts=T0 + 2)]

    def test_positions_list_by_account_then_instrument(self, store: Store):
        store.upsert_position(position("MSFT"))
        store.upsert_position(position("AAPL", qty="0"))
        store.upsert_position(position("AAPL", account_id="acc-0"))
        listed = [(p.account_id, p.instrument_id) for p in store.positions()]
        assert listed == [("acc-0", "AAPL"), ("acc-1", "AAPL"), ("acc-1", "MSFT")]
        assert [p.instrument_id for p in store.positions("acc-1")] == ["AAPL", "MSFT"]

    def test_a_bad_position_is_refused(self, store: Store):
        store.upsert_position(position())
        with pytest.raises(InvalidRecordError, match="avg_px_open must not be negative"):
            store.upsert_position(position(ts=T0 + 5, avg_px_open=Decimal("-1")))
        assert store.positions() == [position()]

    # -- account events --------------------------------------------------------------------
    def test_cash_movements_are_stored_once_and_sum_to_the_cent(self, store: Store):
        assert store.append_account_event(cash("e-1", "0.1")) is True
        assert store.append_account_event(cash("e-1", "0.1")) is False
        store.append_account_event(cash("e-2", "0.2", ts_event=T0 + 1))
        store.append_account_event(
            cash("e-3", "-0.05", AccountEventKind.COMMISSION, ts_event=T0 + 1)
        )
        store.append_account_event(cash("e-4", "7", currency="EUR"))
        store.append_account_event(cash("e-5", "100", account_id="acc-2"))
        assert store.cash_balances("acc-1") == {"EUR": Decimal("7"), "USD": Decimal("0.25")}
        assert str(store.cash_balances("acc-1")["USD"]) == "0.25"
        assert [e.event_id for e in store.account_events("acc-1")] == ["e-1", "e-4", "e-2", "e-3"]
        assert [e.event_id for e in store.account_events("acc-1", since_ns=T0 + 1)] == [
            "e-2",
            "e-3",
        ]

    def test_a_reused_account_event_id_with_other_fields_is_a_conflict(self, store: Store):
        store.append_account_event(cash("e-1", "100"))
        with pytest.raises(ConflictError, match=r"account event e-1 .*amount: stored 100"):
            store.append_account_event(cash("e-1", "200"))
        assert store.cash_balances("acc-1") == {"USD": Decimal("100")}

    @pytest.mark.parametrize(
        ("event", "pattern"),
        [
            (cash("e-2", "-5"), "e-2: a DEPOSIT amount must be positive, got -5"),
            (cash("e-2", "5", AccountEventKind.WITHDRAWAL), "a WITHDRAWAL amount must be negative"),
            (cash("e-2", "5", "DEPOSIT"), "kind must be one of DEPOSIT"),  # type: ignore[arg-type]
            (cash("e-2", "Infinity"), "amount must be finite"),
        ],
    )
    def test_a_bad_cash_movement_is_refused(
        self, store: Store, event: AccountEventRecord, pattern: str
    ):
        store.append_account_event(cash("e-1", "100"))
        with pytest.raises(InvalidRecordError, match=pattern):
            store.append_account_event(event)
        assert store.cash_balances("acc-1") == {"USD": Decimal("100")}

    @given(cents=st.lists(st.integers(min_value=-(10**12), max_value=10**12), max_size=10))
    @_ONE_STORE_MANY_EXAMPLES
    def test_cash_balance_is_the_exact_sum_of_movements(self, store: Store, cents: list[int]):
        account = f"acc-{uuid4().hex[:12]}"
        for k, c in enumerate(cents):
            event = cash(f"{account}-{k}", "0", AccountEventKind.ADJUSTMENT, account_id=account)
            store.append_account_event(msgspec.structs.replace(event, amount=Decimal(c) / 100))
        expected = {"USD": Decimal(sum(cents)) / 100} if cents else {}
        assert store.cash_balances(account) == expected

    # -- users and keys --------------------------------------------------------------------
    def test_users_are_stored_and_read_by_name(self, store: Store):
        assert store.create_user(make_user()) is True
        assert store.create_user(make_user()) is False
        store.create_user(make_user("bob", role=Role.ADMIN))
        assert store.get_user("alice") == make_user()
        assert store.get_user("carol") is None
        assert [u.username for u in store.list_users()] == ["alice", "bob"]

    def test_a_taken_username_is_a_conflict(self, store: Store):
        store.create_user(make_user())
        with pytest.raises(ConflictError, match="user alice: username is taken"):
            store.create_user(make_user(password_hash=HASH_2))
        assert store.get_user("alice") == make_user()

    @pytest.mark.parametrize(
        ("user", "pattern"),
        [
            (make_user(role="superuser"), "user alice: role must be one of viewer, trader, admin"),
            (make_user(password_hash="hunter2"), "password_hash must be an argon2 hash"),
            (make_user("Alice"), "username must be 1 to 64 lower-case letters"),
            (make_user(""), "username must be 1 to 64"),
            (make_user(disabled_ns=T0), "a new user must have disabled_ns None"),
        ],
    )
    def test_a_bad_user_is_refused(self, store: Store, user: UserRecord, pattern: str):
        store.create_user(make_user("zed"))
        with pytest.raises(InvalidRecordError, match=pattern):
            store.create_user(user)
        assert [u.username for u in store.list_users()] == ["zed"]

    def test_disabling_a_user_keeps_the_first_time(self, store: Store):
        store.create_user(make_user())
        assert store.disable_user("alice", T0 + 5).disabled_ns == T0 + 5
        assert store.disable_user("alice", T0 + 9).disabled_ns == T0 + 5
        user = store.get_user("alice")
        assert user is not None
        assert user.disabled_ns == T0 + 5
        assert store.create_user(make_user()) is False  # re-creating does not re-enable
        with pytest.raises(NotFoundError, match="user 'bob' is not stored"):
            store.disable_user("bob", T0)

    def test_api_keys_store_the_hash_and_their_lifecycle(self, store: Store):
        store.create_user(make_user())
        assert store.create_api_key(make_key()) is True
        assert store.create_api_key(make_key()) is False
        store.create_api_key(make_key("k-0", created_ns=T0 + 1, role=Role.VIEWER))
        assert store.get_api_key("k-1") == make_key()
        assert store.get_api_key("k-9") is None
        assert [k.key_id for k in store.list_api_keys("alice")] == ["k-1", "k-0"]
        store.touch_api_key("k-1", T0 + 10)
        store.touch_api_key("k-1", T0 + 5)  # an older use does not move it back
        assert store.revoke_api_key("k-1", T0 + 20).revoked_ns == T0 + 20
        assert store.revoke_api_key("k-1", T0 + 30).revoked_ns == T0 + 20
        key = store.get_api_key("k-1")
        assert key is not None
        assert (key.last_used_ns, key.revoked_ns) == (T0 + 10, T0 + 20)
        assert store.create_api_key(make_key()) is False  # re-creating does not un-revoke
        stored = store.get_api_key("k-1")
        assert stored is not None
        assert stored.revoked_ns == T0 + 20

    def test_bad_api_keys_are_refused(self, store: Store):
        store.create_user(make_user())
        store.create_api_key(make_key())
        with pytest.raises(NotFoundError, match="API key k-2: owner 'bob' is not a user"):
            store.create_api_key(make_key("k-2", owner="bob"))
        with pytest.raises(ConflictError, match=r"API key k-1 .*key_hash"):
            store.create_api_key(make_key(key_hash=HASH_2))
        with pytest.raises(InvalidRecordError, match="key_hash must be an argon2 hash"):
            store.create_api_key(make_key("k-3", key_hash="sk_live_secret"))
        with pytest.raises(InvalidRecordError, match="API key k-3: role must be one of"):
            store.create_api_key(make_key("k-3", role="root"))
        with pytest.raises(InvalidRecordError, match="key_id must be 1 to 64"):
            store.create_api_key(make_key("k 3"))
        with pytest.raises(NotFoundError, match="API key 'k-9' is not stored"):
            store.touch_api_key("k-9", T0)
        with pytest.raises(NotFoundError, match="API key 'k-9' is not stored"):
            store.revoke_api_key("k-9", T0)
        assert [k.key_id for k in store.list_api_keys("alice")] == ["k-1"]
        assert store.get_api_key("k-1") == make_key()

    # -- backtest jobs ---------------------------------------------------------------------
    def test_a_job_runs_from_queued_to_done(self, store: Store):
        params = {"strategy": "sma", "fast": 10, "costs": {"bps": 1.5}, "symbols": ["A", "B"]}
        assert store.create_job("j-1", params, T0) is True
        assert store.create_job("j-1", dict(reversed(params.items())), T0) is False
        job = store.get_job("j-1")
        assert job is not None
        assert (job.status, job.progress, job.params) == (JobStatus.QUEUED, 0.0, params)
        assert store.start_job("j-1", T0 + 1).status is JobStatus.RUNNING
        assert store.set_job_progress("j-1", 0.25).progress == 0.25
        done = store.finish_job("j-1", "results/j-1", T0 + 9)
        assert done == store.get_job("j-1")
        assert (done.status, done.progress, done.result_path) == (
            JobStatus.DONE,
            1.0,
            "results/j-1",
        )
        assert (done.created_ns, done.started_ns, done.finished_ns) == (T0, T0 + 1, T0 + 9)
        assert done.error is None

    def test_a_job_fails_from_queued_or_running(self, store: Store):
        store.create_job("j-1", {}, T0)
        store.create_job("j-2", {}, T0)
        store.start_job("j-2", T0 + 1)
        assert store.fail_job("j-1", "bad params", T0 + 2).error == "bad params"
        failed = store.fail_job("j-2", "out of memory", T0 + 3)
        assert (failed.status, failed.finished_ns) == (JobStatus.FAILED, T0 + 3)

    def test_jobs_list_by_status_oldest_first(self, store: Store):
        for k in (3, 1, 2):
            store.create_job(f"j-{k}", {"k": k}, T0 + k)
        store.start_job("j-2", T0 + 5)
        assert [j.job_id for j in store.list_jobs()] == ["j-1", "j-2", "j-3"]
        assert [j.job_id for j in store.list_jobs(JobStatus.QUEUED)] == ["j-1", "j-3"]
        assert [j.job_id for j in store.list_jobs(JobStatus.RUNNING)] == ["j-2"]
        assert [j.job_id for j in store.list_jobs(limit=1)] == ["j-1"]

    def test_a_returned_job_cannot_change_the_stored_params(self, store: Store):
        store.create_job("j-1", {"a": [1]}, T0)
        job = store.get_job("j-1")
        assert job is not None
        job.params["a"].append(2)
        again = store.get_job("j-1")
        assert again is not None
        assert again.params == {"a": [1]}

    def test_bad_job_changes_are_refused_and_change_nothing(self, store: Store):
        store.create_job("j-1", {"a": 1}, T0)
        with pytest.raises(ConflictError, match=r"job j-1 .*params"):
            store.create_job("j-1", {"a": 2}, T0)
        with pytest.raises(TransitionError, match="job j-1: can become done only from running"):
            store.finish_job("j-1", "x", T0)
        with pytest.raises(TransitionError, match="progress can be set only while running"):
            store.set_job_progress("j-1", 0.5)
        store.start_job("j-1", T0 + 1)
        with pytest.raises(TransitionError, match="can become running only from queued"):
            store.start_job("j-1", T0 + 2)
        with pytest.raises(InvalidRecordError, match=r"progress must be a fraction in \[0, 1\]"):
            store.set_job_progress("j-1", 1.5)
        with pytest.raises(InvalidRecordError, match="params must be JSON-encodable"):
            store.create_job("j-2", {"a": object()}, T0)
        with pytest.raises(InvalidRecordError, match="params must be a mapping with string keys"):
            store.create_job("j-2", {1: "a"}, T0)  # type: ignore[dict-item]
        with pytest.raises(NotFoundError, match="job 'j-9' is not stored"):
            store.start_job("j-9", T0)
        job = store.get_job("j-1")
        assert job is not None
        assert (job.status, job.progress, job.params) == (JobStatus.RUNNING, 0.0, {"a": 1})
        assert store.get_job("j-2") is None


class TransactionContract:
    """``transaction()`` of the SQL stores: one commit for many writes, or none at all."""

    def test_writes_in_a_transaction_are_stored_together(self, store: Any) -> None:
        with store.transaction() as tx:
            for i in range(5):
                assert tx.save_order(make_order(f"o-{i}"))
            tx.record_fill(make_fill("t-1", "o-0"))
            # The block reads its own writes before they are committed.
            assert tx.get_order("o-4") is not None
        assert [o.order.client_order_id for o in store.list_orders().items] == [
            f"o-{i}" for i in range(5)
        ]
        assert len(store.list_fills().items) == 1

    def test_a_transaction_that_raises_stores_nothing_and_keeps_what_was_there(
        self, store: Any
    ) -> None:
        store.save_order(make_order("kept"))
        with pytest.raises(StoreError, match="quantity"), store.transaction() as tx:
            tx.save_order(make_order("lost-1"))
            tx.save_order(make_order("kept", quantity=Decimal("99")))  # a conflict
        assert store.get_order("lost-1") is None
        assert store.get_order("kept") is not None
        assert store.save_order(make_order("after"))  # the store is still usable

    def test_transactions_do_not_nest(self, store: Any) -> None:
        with (
            store.transaction(),
            pytest.raises(StoreError, match="already open"),
            store.transaction(),
        ):
            pass
        assert store.save_order(make_order("after"))
