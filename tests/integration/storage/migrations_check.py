"""Checks of the migrations that every SQL dialect runs (imported by the test modules)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from quantgrid.adapters.storage import SchemaError, SqlStore
from quantgrid.adapters.storage._migrate import head_revision
from quantgrid.adapters.storage._tables import METADATA
from tests.unit.adapters.storage.contract import make_order
from tests.unit.adapters.storage.prediction_contract import make_prediction

TABLES_0001 = {
    "orders",
    "order_events",
    "fills",
    "positions",
    "account_events",
    "users",
    "api_keys",
    "backtest_jobs",
}
TABLES_0002 = TABLES_0001 | {"predictions", "job_runs"}
TABLES = TABLES_0002 | {"checkpoints"}
HEAD = "0003"


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def check_upgrade_downgrade_upgrade(store: SqlStore, engine: sa.Engine) -> None:
    """Upgrade from empty, downgrade to base, upgrade again; refuse a stale schema."""
    assert store.schema_revision() is None
    assert tables(engine) == set()
    with pytest.raises(SchemaError, match=r"has no QuantGrid schema .* run store.migrate"):
        store.get_order("o-1")

    assert head_revision() == HEAD
    store.migrate()
    assert store.schema_revision() == HEAD
    assert tables(engine) == TABLES
    store.save_order(make_order(price=Decimal("0.3")))

    # One step down and up again: 0003 drops only its own table.
    store.save_predictions([make_prediction()])
    store.save_checkpoint("paper.replay", {"last_ts_ns": 1}, 1)
    store.downgrade("0002")
    assert store.schema_revision() == "0002"
    assert tables(engine) == TABLES_0002
    with pytest.raises(SchemaError, match="behind the revision 0003"):
        store.get_checkpoint("paper.replay")
    store.migrate()
    assert store.get_prediction("p-1") is not None
    assert store.get_checkpoint("paper.replay") is None

    # Two steps down and up again: 0002 drops only its own tables.
    store.claim_job_run("evaluate", 0, owner="host-1", now_ns=0)
    store.downgrade("0001")
    assert store.schema_revision() == "0001"
    assert tables(engine) == TABLES_0001
    with pytest.raises(SchemaError, match="behind the revision 0003"):
        store.get_order("o-1")
    store.migrate()
    assert store.get_order("o-1") is not None
    assert store.get_prediction("p-1") is None
    assert store.last_job_run("evaluate") is None

    store.downgrade("base")
    assert store.schema_revision() is None
    assert tables(engine) == set()
    with pytest.raises(SchemaError, match="has no QuantGrid schema"):
        store.get_order("o-1")

    store.migrate()
    assert store.schema_revision() == HEAD
    assert store.get_order("o-1") is None
    store.save_order(make_order())
    assert store.get_order("o-1") is not None


def check_schema_matches_tables(engine: sa.Engine) -> None:
    """The migrated schema has no difference from ``_tables.METADATA``."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, METADATA) == []


def check_unknown_revision_is_refused(store: SqlStore, engine: sa.Engine) -> None:
    """A database migrated by newer code is refused, not written to."""
    store.migrate()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaError, match="revision 9999, which this code does not know"):
        store.check_schema()
