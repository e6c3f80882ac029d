"""PostgresStore on the loopback PostgreSQL: the contract, durability, migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from quantgrid.adapters.storage import PostgresStore, SqlStore, Store, StoreError
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
)
from tests.unit.adapters.storage.prediction_contract import (
    JobRunStoreContract,
    PredictionStoreContract,
    make_prediction,
    resolved,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(postgres_url: sa.URL) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, poolclass=NullPool)
    yield engine
    engine.dispose()


class TestPostgresStore(StoreContract, TransactionContract):
    @pytest.fixture
    def store(self, postgres_url: sa.URL) -> Iterator[Store]:
        with PostgresStore(postgres_url, auto_migrate=True) as store:
            yield store


class TestPostgresPredictionsAndJobRuns(PredictionStoreContract, JobRunStoreContract):
    @pytest.fixture
    def store(self, postgres_url: sa.URL) -> Iterator[SqlStore]:
        with PostgresStore(postgres_url, auto_migrate=True) as store:
            yield store


def test_claims_of_one_slot_from_two_engines_have_one_winner(postgres_url: sa.URL):
    # Two stores, two engines and pools: as two scheduler processes would race.
    PostgresStore(postgres_url, auto_migrate=True).close()
    stores = [PostgresStore(postgres_url) for _ in range(2)]
    barrier = threading.Barrier(len(stores))
    won: dict[int, list[int]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def claim(k: int, store: SqlStore) -> None:
        try:
            for slot in range(20):
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
    assert sorted(won[0] + won[1]) == list(range(20))
    with PostgresStore(postgres_url) as reader:
        assert len(reader.list_job_runs("evaluate")) == 20


def test_saves_of_one_checkpoint_from_two_engines_never_fail(postgres_url: sa.URL):
    # Two stores, two engines: each round a new name, so both race to insert it.
    PostgresStore(postgres_url, auto_migrate=True).close()
    stores = [PostgresStore(postgres_url) for _ in range(2)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def save(k: int, store: SqlStore) -> None:
        try:
            for n in range(20):
                barrier.wait(timeout=60)
                store.save_checkpoint(f"round.{n}", {"writer": k}, T0 + n)
                barrier.wait(timeout=60)
                store.save_checkpoint("paper.replay", {"writer": k, "round": n}, T0 + n)
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
    with PostgresStore(postgres_url) as reader:
        for n in range(20):
            got = reader.get_checkpoint(f"round.{n}")
            assert got is not None
            assert (got.value["writer"] in (0, 1), got.ts_ns) == (True, T0 + n)
        last = reader.get_checkpoint("paper.replay")
        assert last is not None
        assert (last.value["writer"] in (0, 1), last.value["round"], last.ts_ns) == (
            True,
            19,
            T0 + 19,
        )


def test_checkpoint_names_sort_by_code_point_and_values_are_text(
    postgres_url: sa.URL, engine: sa.Engine
):
    with PostgresStore(postgres_url, auto_migrate=True) as store:
        store.save_checkpoint("paper.replay", {"note": "東京\x00"}, T0)
        got = store.get_checkpoint("paper.replay")
        assert got is not None and got.value == {"note": "東京\x00"}
    with engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT column_name, data_type, collation_name FROM information_schema.columns "
                "WHERE table_name = 'checkpoints' AND table_schema = current_schema() "
                "ORDER BY column_name"
            )
        ).all()
    assert [tuple(c) for c in columns] == [
        ("name", "character varying", "C"),
        ("ts_ns", "bigint", None),
        ("value", "text", None),
    ]


def test_concurrent_batches_of_the_same_predictions_store_each_once(postgres_url: sa.URL):
    PostgresStore(postgres_url, auto_migrate=True).close()
    stores = [PostgresStore(postgres_url) for _ in range(3)]
    batch = [make_prediction(f"p-{k}") for k in range(50)]
    barrier = threading.Barrier(len(stores))
    counts: list[int] = []
    errors: list[BaseException] = []

    def save(store: SqlStore) -> None:
        try:
            barrier.wait()
            counts.append(store.save_predictions(batch))
            barrier.wait()
            counts.append(store.save_outcomes([resolved(f"p-{k}") for k in range(50)]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert sum(counts) == 100  # 50 predictions and 50 outcomes, each written once
    with PostgresStore(postgres_url) as reader:
        assert len(reader.list_predictions(resolved=True, limit=100).items) == 50


def test_prediction_floats_are_double_precision(postgres_url: sa.URL, engine: sa.Engine):
    PostgresStore(postgres_url, auto_migrate=True).close()
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("predictions")}
    assert isinstance(columns["confidence"], sa.Float)
    assert columns["confidence"].precision in (None, 53)
    with engine.connect() as conn:
        kind = conn.exec_driver_sql(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'predictions' AND column_name = 'confidence' "
            "AND table_schema = current_schema()"
        ).scalar()
    assert kind == "double precision"


def test_what_one_store_wrote_another_reads_back(postgres_url: sa.URL):
    with PostgresStore(postgres_url, auto_migrate=True) as writer:
        writer.save_order(make_order(price=Decimal("0.1")))
        writer.record_fill(make_fill(quantity=Decimal("0.1")))
        writer.record_fill(make_fill("t-2", quantity=Decimal("0.2")))
        with PostgresStore(postgres_url) as reader:
            stored = reader.get_order("o-1")
            assert stored is not None
            assert stored.filled_qty == Decimal("0.3")
            assert stored.order.price == Decimal("0.1")


def test_money_columns_are_numeric(postgres_url: sa.URL, engine: sa.Engine):
    PostgresStore(postgres_url, auto_migrate=True).close()
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("fills")}
    assert isinstance(columns["price"], sa.Numeric)
    assert isinstance(columns["ts_event"], sa.BigInteger)


def test_concurrent_redeliveries_of_a_fill_store_it_once(postgres_url: sa.URL):
    with PostgresStore(postgres_url, auto_migrate=True) as store:
        store.save_order(make_order())
    stores = [PostgresStore(postgres_url) for _ in range(4)]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def deliver(store: SqlStore) -> None:
        barrier.wait()
        results.append(store.record_fill(make_fill()))

    threads = [threading.Thread(target=deliver, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert sorted(results) == [False, False, False, True]
    with PostgresStore(postgres_url) as reader:
        stored = reader.get_order("o-1")
        assert stored is not None
        assert stored.filled_qty == Decimal("4")


def test_concurrent_migrations_take_turns(postgres_url: sa.URL):
    stores = [PostgresStore(postgres_url) for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def migrate(store: SqlStore) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for store in stores:
        assert store.schema_revision() == HEAD
        store.close()


def test_migrations_upgrade_downgrade_and_upgrade_again(postgres_url: sa.URL, engine: sa.Engine):
    with PostgresStore(postgres_url) as store:
        check_upgrade_downgrade_upgrade(store, engine)


def test_the_migrated_schema_matches_the_tables(postgres_url: sa.URL, engine: sa.Engine):
    PostgresStore(postgres_url, auto_migrate=True).close()
    check_schema_matches_tables(engine)


def test_a_database_from_newer_code_is_refused(postgres_url: sa.URL, engine: sa.Engine):
    with PostgresStore(postgres_url) as store:
        check_unknown_revision_is_refused(store, engine)


def test_plain_postgresql_urls_use_psycopg(postgres_url: sa.URL):
    plain = postgres_url.set(drivername="postgresql")
    with SqlStore(plain, auto_migrate=True) as store:
        assert store.dialect == "postgresql"
        assert store.save_order(make_order()) is True


def test_postgres_store_refuses_another_database():
    with pytest.raises(StoreError, match="PostgresStore: url must be a postgresql:// URL"):
        PostgresStore("sqlite:///x.db")
