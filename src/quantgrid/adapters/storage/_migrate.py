"""Alembic, driven from code: the migration scripts ship inside the package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text

from quantgrid.adapters.storage._errors import SchemaError

MIGRATIONS = Path(__file__).parent / "migrations"
# Held for the length of a PostgreSQL migration, so services starting together migrate
# one after another instead of racing to create the same tables.
_PG_LOCK_KEY = 0x5147_5354  # "QGST"


def alembic_config(connection: Connection) -> Config:
    """Return an Alembic config that migrates over ``connection`` (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    """Return the revision this code needs (the single head of the scripts)."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """Return the database's revision, or ``None`` if it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str) -> None:
    """Upgrade the database over ``connection`` (in its transaction) to ``revision``."""
    _lock(connection)
    _run(command.upgrade, connection, revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Downgrade the database over ``connection`` (in its transaction) to ``revision``."""
    _lock(connection)
    _run(command.downgrade, connection, revision)


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _run(step: Callable[[Config, str], None], connection: Connection, revision: str) -> None:
    try:
        step(alembic_config(connection), revision)
    except CommandError as exc:
        msg = f"migration to revision {revision!r} failed: {exc}"
        raise SchemaError(msg) from exc


def is_behind(connection: Connection) -> bool:
    """Return True if the schema is missing or at a known revision older than the head."""
    current = current_revision(connection)
    if current is None:
        return True
    if current == head_revision():
        return False
    return current in {script.revision for script in _scripts().walk_revisions()}


def check_current(connection: Connection, where: str) -> None:
    """Raise ``SchemaError`` unless the database is at the revision this code needs."""
    current = current_revision(connection)
    head = head_revision()
    if current == head:
        return
    if current is None:
        msg = (
            f"{where} has no QuantGrid schema (this code needs revision {head}): "
            "run store.migrate(), or open the store with auto_migrate=True"
        )
        raise SchemaError(msg)
    known = {script.revision for script in _scripts().walk_revisions()}
    if current not in known:
        msg = (
            f"{where} is at revision {current}, which this code does not know (a newer "
            f"QuantGrid migrated it; this code needs {head}): run the newer version"
        )
        raise SchemaError(msg)
    msg = (
        f"{where} is at revision {current}, behind the revision {head} this code needs: "
        "run store.migrate(), or open the store with auto_migrate=True"
    )
    raise SchemaError(msg)
