"""``open_store``: the embedded SQLite file follows the code's schema; nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.adapters.storage import Role, SchemaError, SqliteStore, UserRecord
from quantgrid.runtime import open_store

HEAD_BEFORE_ISSUE_6 = "0001"
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


def test_a_sqlite_file_behind_the_head_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "quantgrid.db"
    old = SqliteStore(path)
    old.migrate()
    old.create_user(
        UserRecord(username="alice", password_hash=HASH, role=Role.TRADER, created_ns=1)
    )
    old.downgrade(HEAD_BEFORE_ISSUE_6)  # as a database made before issue 6 was
    assert old.schema_behind()
    old.close()

    store = open_store(f"sqlite:///{path}")
    try:
        assert not store.schema_behind()
        store.check_schema()
        user = store.get_user("alice")
        assert user is not None and user.role is Role.TRADER
    finally:
        store.close()


def test_a_sqlite_file_of_a_newer_quantgrid_is_refused_naming_the_revision(
    tmp_path: Path,
) -> None:
    path = tmp_path / "quantgrid.db"
    store = SqliteStore(path)
    store.migrate()
    with store._engine.begin() as conn:  # as a newer QuantGrid would have left it
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    store.close()

    with pytest.raises(SchemaError, match="9999_future, which this code does not know"):
        open_store(f"sqlite:///{path}")
