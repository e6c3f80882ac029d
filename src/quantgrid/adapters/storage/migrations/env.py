"""Alembic environment: migrate over the connection ``SqlStore.migrate()`` hands in.

Run from code only (``SqlStore.migrate()``, ``SqlStore.downgrade()``), so no alembic.ini
is needed. For a new revision, autogenerate against a migrated scratch database:

    from alembic import command
    from sqlalchemy import create_engine
    from quantgrid.adapters.storage._migrate import alembic_config

    with create_engine("sqlite:///scratch.db").begin() as conn:
        command.revision(alembic_config(conn), "what changed", autogenerate=True)

then review the script, and keep ``_tables.py`` and the scripts in step (a test checks).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from quantgrid.adapters.storage._tables import METADATA

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    msg = "QuantGrid migrations run over a connection: use SqlStore.migrate()"
    raise RuntimeError(msg)

context.configure(
    connection=connection,
    target_metadata=METADATA,
    # SQLite alters tables by copying them; later revisions need batch operations there.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
