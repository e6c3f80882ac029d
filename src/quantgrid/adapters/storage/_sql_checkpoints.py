"""Named checkpoints in SQL (mixed into ``SqlStore``): a save is one upsert."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from quantgrid.adapters.storage import _checkpoints as cp
from quantgrid.adapters.storage._checkpoints import Checkpoint
from quantgrid.adapters.storage._tables import checkpoints


class SqlCheckpoints:
    """Checkpoints on the ``checkpoints`` table; ``SqlStore`` provides connections.

    Notes
    -----
    A save is one ``INSERT ... ON CONFLICT (name) DO UPDATE``: concurrent savers of one
    name never fail on the primary key (PostgreSQL makes the second wait for the first
    to commit, then update; SQLite serialises writers), and the last to commit wins.
    """

    if TYPE_CHECKING:

        def _connection(
            self, *, write: bool, check_schema: bool = True
        ) -> AbstractContextManager[Connection]: ...

    def save_checkpoint(self, name: str, value: Mapping[str, Any], ts_ns: int) -> None:
        """Store ``value`` under ``name``, replacing what was there (an upsert, atomic)."""
        text = cp.encode_checkpoint(name, value, ts_ns)
        with self._connection(write=True) as conn:
            conn.execute(_upsert(conn.dialect.name), {"name": name, "value": text, "ts_ns": ts_ns})

    def get_checkpoint(self, name: str) -> Checkpoint | None:
        """Return the checkpoint saved under ``name``, or None."""
        cp.check_name(name)
        query = sa.select(checkpoints.c.value, checkpoints.c.ts_ns).where(
            checkpoints.c.name == name
        )
        with self._connection(write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Checkpoint(name=name, value=cp.decode_value(row.value), ts_ns=int(row.ts_ns))


@functools.cache
def _upsert(dialect: str) -> Any:
    insert = (
        postgresql.insert(checkpoints) if dialect == "postgresql" else sqlite.insert(checkpoints)
    )
    return insert.on_conflict_do_update(
        index_elements=["name"],
        set_={"value": insert.excluded.value, "ts_ns": insert.excluded.ts_ns},
    )
