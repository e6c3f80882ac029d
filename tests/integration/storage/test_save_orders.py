"""``SqlStore.save_orders``: many new orders in one statement, each with its outcome.

On SQLite and the local PostgreSQL. Each order's outcome must be what ``save_order``
called on each in turn gives: the same rows stored, the same errors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from quantgrid.adapters.storage import (
    ConflictError,
    InvalidRecordError,
    PostgresStore,
    SqliteStore,
    SqlStore,
    StoreUnavailableError,
)
from quantgrid.model import OrderStatus
from tests.unit.adapters.storage.contract import make_order

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        opened: SqlStore = SqliteStore(tmp_path / "quantgrid.db", auto_migrate=True)
    else:
        url: sa.URL = request.getfixturevalue("postgres_url")
        opened = PostgresStore(url, auto_migrate=True)
    with opened:
        yield opened


def test_new_orders_are_stored_as_save_order_stores_them(store: SqlStore):
    orders = [
        make_order("o-1"),
        make_order("o-2", price=None, quantity=None, cash_fraction=Decimal("0.25")),
        make_order("o-3", post_only=True, tag="t", linked_order_ids=("o-1", "o-2")),
    ]
    assert store.save_orders(orders) == [True, True, True]
    for order in orders:
        stored = store.get_order(order.client_order_id)
        assert stored is not None
        assert stored.order == order
        assert stored.status is OrderStatus.INITIALIZED
        assert stored.filled_qty == 0 and stored.venue_order_id == ""
        assert stored.ts_last == order.ts_init


def test_a_conflict_in_the_middle_fails_alone(store: SqlStore):
    assert store.save_order(make_order("old")) is True
    outcomes = store.save_orders(
        [
            make_order("a"),
            make_order("old"),  # the same again: not a second row
            make_order("old", price=Decimal("190")),  # same id, another price
            make_order("b", quantity=Decimal("-1")),  # invalid: nothing written
            make_order("a"),  # a repeat of this batch's first
            make_order("a", tag="other"),  # a conflict with this batch's first
            make_order("c"),
        ]
    )
    assert outcomes[0] is True and outcomes[1] is False and outcomes[4] is False
    assert outcomes[6] is True
    assert isinstance(outcomes[2], ConflictError) and "price" in str(outcomes[2])
    assert isinstance(outcomes[3], InvalidRecordError) and "quantity" in str(outcomes[3])
    assert isinstance(outcomes[5], ConflictError) and "tag" in str(outcomes[5])
    ids = [o.order.client_order_id for o in store.list_orders(limit=100).items]
    assert sorted(ids) == ["a", "c", "old"]
    stored = store.get_order("old")
    assert stored is not None and stored.order.price == Decimal("187.25")


def test_the_outcomes_are_those_of_save_order_one_by_one(store: SqlStore):
    store.save_order(make_order("x"))
    batch = [make_order("x"), make_order("y"), make_order("y", tag="t")]
    outcomes = store.save_orders(batch)
    assert outcomes[:2] == [False, True]
    with pytest.raises(ConflictError) as raised:
        store.save_order(batch[2])
    assert str(outcomes[2]) == str(raised.value)


def test_an_invalid_batch_writes_nothing(store: SqlStore):
    outcomes = store.save_orders([make_order(""), make_order("z", price=Decimal("-2"))])
    assert all(isinstance(o, InvalidRecordError) for o in outcomes)
    assert "client_order_id" in str(outcomes[0]) and "price" in str(outcomes[1])
    assert not store.list_orders().items
    assert store.save_orders([]) == []


def test_inside_a_transaction_the_orders_go_with_the_block(store: SqlStore):
    with store.transaction() as tx:
        assert tx.save_orders([make_order("t-1"), make_order("t-2")]) == [True, True]
        tx.save_order(make_order("t-3"))
    assert len(store.list_orders().items) == 3
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
        tx.save_orders([make_order("t-4")])
        raise RuntimeError("boom")
    assert store.get_order("t-4") is None


def test_a_locked_sqlite_database_is_unavailable_and_nothing_is_stored(tmp_path: Path):
    path = tmp_path / "quantgrid.db"
    with SqliteStore(path, auto_migrate=True, busy_timeout_s=0.2) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError, match="database is locked"):
                store.save_orders([make_order("l-1"), make_order("l-2")])
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert not store.list_orders().items
        assert store.save_orders([make_order("l-1")]) == [True]
