"""Engines, and the SQL both dialects share: insert-if-new, upserts, keyset pages."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, exc
from sqlalchemy.dialects import postgresql, sqlite

from quantgrid.adapters.storage._errors import StoreError

#: Execution option: this transaction writes (on SQLite it begins IMMEDIATE).
WRITE = "quantgrid_write"


def normalise_url(url: str | sa.URL) -> sa.URL:
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError as error:
        raise StoreError(f"url: not a database URL: {error}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"url: {shown!r} is neither sqlite:/// nor postgresql://")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        msg = f"url: {shown!r} is an in-memory SQLite database; use InMemoryStore instead"
        raise StoreError(msg)
    return parsed


def make_engine(url: sa.URL, busy_timeout_s: float) -> sa.Engine:
    if url.get_backend_name() == "postgresql":
        connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})
    busy_ms = round(busy_timeout_s * 1000)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, begins transactions (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            (mode,) = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            if str(mode).lower() != "wal":
                msg = f"database {url.database}: cannot use the WAL journal (got {mode})"
                raise StoreError(msg)
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    def on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front, waiting up to the busy timeout; a
        # deferred transaction that reads, then writes, fails at once if another wrote.
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)
    return engine


def _dialect_insert(dialect: str, table: sa.Table) -> Any:
    """Return the dialect's INSERT of ``table``, which has ON CONFLICT clauses."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


@functools.cache
def insert_new_statement(dialect: str, table: sa.Table, key: str) -> Any:
    """Return an insert of a row of ``table`` unless its ``key`` is taken.

    Executed with the row as parameters; returns the key if the row was inserted,
    nothing if the key was taken (RETURNING, not rowcount: drivers need not report a
    rowcount for an INSERT).
    """
    # One statement per table, its values passed as parameters: compiled once.
    # Building ``insert(table).values(row)`` per call costs more than the write itself
    # (a bind parameter and a cache key per column, every time).
    return insert_new_rows_statement(dialect, table, key).returning(table.c[key])


@functools.cache
def insert_new_rows_statement(dialect: str, table: sa.Table, key: str) -> Any:
    """Return an insert of rows of ``table`` that skips those whose ``key`` is taken.

    For ``executemany``, which returns no rows (SQLite's driver drops what a
    ``RETURNING`` gives there): the driver's rowcount tells how many were inserted.
    """
    insert = _dialect_insert(dialect, table)
    return insert.on_conflict_do_nothing(index_elements=[key])


@functools.cache
def newer_snapshot_upsert(dialect: str, table: sa.Table, keys: tuple[str, ...]) -> Any:
    """Return an upsert of a snapshot row, kept only if its ``ts_event`` is not older.

    Executed with the row as parameters; returns the row's ``ts_event`` if it was
    written, nothing if a later snapshot is stored.
    """
    insert = _dialect_insert(dialect, table)
    changed = [c.name for c in table.columns if c.name not in keys]
    upsert = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: insert.excluded[name] for name in changed},
        where=table.c.ts_event <= insert.excluded.ts_event,
    )
    # RETURNING, not rowcount: drivers need not report it for an upsert.
    return upsert.returning(table.c.ts_event)


def keyset(
    query: sa.Select[Any],
    ts: sa.ColumnElement[int],
    key: sa.ColumnElement[Any],
    since_ns: int | None,
    until_ns: int | None,
) -> sa.Select[Any]:
    if since_ns is not None:
        query = query.where(ts >= since_ns)
    if until_ns is not None:
        query = query.where(ts < until_ns)
    return query.order_by(ts, key)


def after(
    query: sa.Select[Any],
    ts: sa.ColumnElement[int],
    key: sa.ColumnElement[str],
    start: tuple[int, str] | None,
) -> sa.Select[Any]:
    if start is None:
        return query
    at, ident = start
    return query.where(sa.or_(ts > at, sa.and_(ts == at, key > ident)))
