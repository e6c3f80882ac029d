"""SqliteStore on a real file: the contract, durability, concurrent writers, migrations."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from quantgrid.adapters.storage import (
    Checkpoint,
    SchemaError,
    SqliteStore,
    SqlStore,
    Store,
    StoreError,
    StoreUnavailableError,
)
from quantgrid.model import OrderStatus, OrderSubmitted
from quantgrid.runtime import open_store
from tests.integration.storage.migrations_check import (
    HEAD,
    check_schema_matches_tables,
    check_unknown_revision_is_refused,
    check_upgrade_downgrade_upgrade,
)
from tests.unit.adapters.storage.contract import (
    T0,
    StoreContract,
    TransactionContract,
    make_fill,
    make_order,
    make_user,
)
from tests.unit.adapters.storage.prediction_contract import (
    JobRunStoreContract,
    PredictionStoreContract,
    make_prediction,
    resolved,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "quantgrid.db"


@pytest.fixture
def engine(db_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{db_path}", poolclass=NullPool)
    yield engine
    engine.dispose()


class TestSqliteStore(StoreContract, TransactionContract):
    @pytest.fixture
    def store(self, db_path: Path) -> Iterator[Store]:
        with SqliteStore(db_path, auto_migrate=True) as store:
            yield store


class TestSqlitePredictionsAndJobRuns(PredictionStoreContract, JobRunStoreContract):
    @pytest.fixture
    def store(self, db_path: Path) -> Iterator[SqlStore]:
        with SqliteStore(db_path, auto_migrate=True) as store:
            yield store


def test_claims_of_one_slot_from_many_stores_have_one_winner(db_path: Path):
    # As processes would: one store (engine, connections) per thread, on one file.
    SqliteStore(db_path, auto_migrate=True).close()
    stores = [SqliteStore(db_path, busy_timeout_s=30) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    won: dict[int, list[int]] = {k: [] for k in range(len(stores))}
    errors: list[BaseException] = []

    def claim(k: int, store: SqlStore) -> None:
        try:
            for slot in range(10):
                barrier.wait()
                if store.claim_job_run("evaluate", T0 + slot, owner=f"w-{k}", now_ns=T0):
                    won[k].append(slot)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(k, s)) for k, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert sorted(slot for slots in won.values() for slot in slots) == list(range(10))
    with SqliteStore(db_path) as reader:
        runs = reader.list_job_runs("evaluate")
        assert [r.slot_ns - T0 for r in runs] == list(range(9, -1, -1))
        assert all(
            r.owner == f"w-{k}" for k, slots in won.items() for r in runs if r.slot_ns - T0 in slots
        )


def test_saves_of_one_checkpoint_from_many_stores_all_land(db_path: Path):
    # As processes would: one store per thread; each round a new name, saved by all.
    SqliteStore(db_path, auto_migrate=True).close()
    stores = [SqliteStore(db_path, busy_timeout_s=30) for _ in range(3)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def save(k: int, store: SqlStore) -> None:
        try:
            for n in range(10):
                barrier.wait(timeout=60)
                store.save_checkpoint(f"round.{n}", {"writer": k}, T0 + n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(k, s)) for k, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in stores:
        store.close()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with SqliteStore(db_path) as reader:
        for n in range(10):
            got = reader.get_checkpoint(f"round.{n}")
            assert got is not None
            assert (got.value["writer"] in range(3), got.ts_ns) == (True, T0 + n)


def test_a_checkpoint_is_stored_as_readable_json_text(db_path: Path):
    with SqliteStore(db_path, auto_migrate=True) as store:
        store.save_checkpoint("paper.replay", {"note": "東京", "ts": [T0]}, T0)
    with sqlite3.connect(db_path) as raw:
        row = raw.execute("SELECT name, value, typeof(value), ts_ns FROM checkpoints").fetchone()
    raw.close()
    assert row == ("paper.replay", f'{{"note":"東京","ts":[{T0}]}}', "text", T0)


def test_open_store_migrates_a_0002_file_to_checkpoints_keeping_its_rows(db_path: Path):
    # A file made by the code before checkpoints (revision 0002), opened by `quantgrid up`.
    with SqliteStore(db_path, auto_migrate=True) as old:
        old.save_order(make_order())
        old.create_user(make_user())
        old.save_predictions([make_prediction()])
        old.claim_job_run("evaluate", T0, owner="host-1", now_ns=T0)
        old.downgrade("0002")  # this code writes only at its own revision: write, step back
        assert old.schema_behind()
    with sqlite3.connect(db_path) as raw:
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    assert "job_runs" in names and "checkpoints" not in names

    store = open_store(f"sqlite:///{db_path}")
    try:
        assert store.schema_revision() == HEAD
        assert not store.schema_behind()
        store.check_schema()
        assert store.get_order("o-1") is not None
        assert store.get_user("alice") == make_user()
        assert store.get_prediction("p-1") is not None
        last = store.last_job_run("evaluate")
        assert last is not None and last.owner == "host-1"
        assert store.get_checkpoint("paper.replay") is None
        store.save_checkpoint("paper.replay", {"last_ts_ns": T0}, T0)
    finally:
        store.close()
    with SqliteStore(db_path) as reopened:
        assert reopened.get_checkpoint("paper.replay") == Checkpoint(
            "paper.replay", {"last_ts_ns": T0}, T0
        )


def test_prediction_floats_are_stored_as_doubles(db_path: Path):
    with SqliteStore(db_path, auto_migrate=True) as store:
        store.save_predictions([make_prediction()])
        store.save_outcomes([resolved()])
    with sqlite3.connect(db_path) as raw:
        row = raw.execute(
            "SELECT typeof(confidence), confidence, typeof(realized_return), feature_snapshot "
            "FROM predictions"
        ).fetchone()
    raw.close()
    assert row[:3] == ("real", 0.1 + 0.2, "real")
    assert row[3] == '{"log_return_5":-0.0031,"rsi_14":61.5,"tiny":5e-324}'


def test_what_one_store_wrote_another_reads_back(db_path: Path):
    with SqliteStore(db_path, auto_migrate=True) as writer:
        writer.save_order(make_order(price=Decimal("0.1")))
        writer.record_fill(make_fill(quantity=Decimal("0.1")))
        writer.record_fill(make_fill("t-2", quantity=Decimal("0.2")))
        writer.create_user(make_user())
        with SqliteStore(db_path) as reader:  # open while the writer is still open
            stored = reader.get_order("o-1")
            assert stored is not None
            assert stored.filled_qty == Decimal("0.3")
            assert reader.get_user("alice") == make_user()


def test_a_write_is_on_disk_when_the_call_returns(db_path: Path):
    # The writer process dies right after save_order returns: no close, no dispose, no
    # interpreter shutdown. What it acknowledged must be in the file.
    SqliteStore(db_path, auto_migrate=True).close()
    code = (
        "import os\n"
        "from quantgrid.adapters.storage import SqliteStore\n"
        "from tests.unit.adapters.storage.contract import make_order\n"
        f"store = SqliteStore({str(db_path)!r})\n"
        "assert store.save_order(make_order())\n"
        "os._exit(0)\n"
    )
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=120)
    with SqliteStore(db_path) as reader:
        stored = reader.get_order("o-1")
    assert stored is not None
    assert stored.order == make_order()


def test_the_journal_is_wal_synchronous_full_with_foreign_keys(db_path: Path):
    with SqliteStore(db_path, auto_migrate=True) as store:
        store.save_order(make_order())
        # White-box: the per-connection pragmas are only visible on the store's own pool.
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # Decimals are stored as their text, not as 8-byte floats.
        assert raw.execute("SELECT price, typeof(price) FROM orders").fetchone() == (
            "187.25",
            "text",
        )
    raw.close()


def test_concurrent_writers_on_one_file_all_land(db_path: Path):
    SqliteStore(db_path, auto_migrate=True).close()
    stores = [SqliteStore(db_path, busy_timeout_s=30) for _ in range(3)]
    errors: list[BaseException] = []

    def write(k: int, store: SqlStore) -> None:
        try:
            for n in range(20):
                oid = f"w{k}-{n:02d}"
                store.save_order(make_order(oid))
                store.append_order_event(
                    OrderSubmitted(oid, "s-1", "AAPL", T0 + n), OrderStatus.SUBMITTED
                )
                store.record_fill(make_fill(f"{oid}-t", oid))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k, s)) for k, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    with SqliteStore(db_path) as reader:
        assert len(reader.list_orders(limit=1000).items) == 60
        assert len(reader.list_fills(limit=1000).items) == 60
        assert all(
            o.status is OrderStatus.SUBMITTED and o.filled_qty == 4
            for o in reader.list_orders(limit=1000).items
        )


def test_a_writer_locked_out_past_the_busy_timeout_fails_and_loses_nothing(db_path: Path):
    with SqliteStore(db_path, auto_migrate=True, busy_timeout_s=0.2) as store:
        store.save_order(make_order("o-0"))
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError, match="is unavailable: database is locked"):
                store.save_order(make_order("o-1"))
            assert store.get_order("o-0") is not None  # readers are not blocked (WAL)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert store.save_order(make_order("o-1")) is True
        assert [o.order.client_order_id for o in store.list_orders().items] == ["o-0", "o-1"]


def test_migrations_upgrade_downgrade_and_upgrade_again(db_path: Path, engine: sa.Engine):
    with SqliteStore(db_path) as store:
        check_upgrade_downgrade_upgrade(store, engine)


def test_the_migrated_schema_matches_the_tables(db_path: Path, engine: sa.Engine):
    SqliteStore(db_path, auto_migrate=True).close()
    check_schema_matches_tables(engine)


def test_a_database_from_newer_code_is_refused(db_path: Path, engine: sa.Engine):
    with SqliteStore(db_path) as store:
        check_unknown_revision_is_refused(store, engine)


def test_a_revision_this_code_does_not_have_is_refused_on_open(db_path: Path, engine: sa.Engine):
    with SqliteStore(db_path, auto_migrate=True) as store:
        store.save_order(make_order())
    with engine.begin() as conn:  # as if another branch of the code had migrated it
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with SqliteStore(db_path) as store, pytest.raises(SchemaError, match="0000"):
        store.check_schema()


def test_sql_store_takes_a_sqlite_url(db_path: Path):
    with SqlStore(f"sqlite:///{db_path}", auto_migrate=True) as store:
        assert store.dialect == "sqlite"
        store.save_order(make_order())
    with SqliteStore(db_path) as again:
        assert again.get_order("o-1") is not None


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("sqlite://", "in-memory SQLite database; use InMemoryStore"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
        ("mysql://root@localhost/test", "is neither sqlite:/// nor postgresql://"),
        ("not a url", "not a database URL"),
    ],
)
def test_an_unusable_url_is_refused(url: str, pattern: str):
    with pytest.raises(StoreError, match=pattern):
        SqlStore(url)
