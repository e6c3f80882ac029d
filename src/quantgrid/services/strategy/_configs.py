"""Strategy configurations: which strategy, with which parameters, on which instruments.

The ``Store`` has no table for them, so the strategy service keeps them itself, behind
``StrategyConfigRepository``: in memory for tests, or in a ``strategy_configs`` table
of its own through SQLAlchemy (a SQLite file by default, or PostgreSQL by URL).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from quantgrid.adapters.storage import StoreUnavailableError

#: Largest page of a listing.
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """A strategy set up to run: what the trading node starts and stops.

    Attributes
    ----------
    config_id
        Its id, made by the service.
    strategy
        The registered strategy's name.
    params
        Every parameter, defaults filled in, as JSON values (already validated).
    instruments
        What it trades.
    label
        A name for people, optional.
    created_ns, created_by
        When (nanoseconds since the epoch, UTC) and by whom it was made.
    """

    config_id: str
    strategy: str
    params: dict[str, Any]
    instruments: tuple[str, ...]
    label: str | None
    created_ns: int
    created_by: str


@dataclass(frozen=True, slots=True)
class ConfigPage:
    """One page of configurations; pass ``next_cursor`` back as ``after``."""

    items: tuple[StrategyConfig, ...]
    next_cursor: str | None


class StrategyConfigRepository(Protocol):
    """Where strategy configurations are kept.

    Notes
    -----
    Synchronous, like ``Store``: services call it from a worker thread. Listings are
    ordered by creation time, then id; the cursor is ``"<created_ns>:<config_id>"``.
    """

    def add(self, config: StrategyConfig) -> None:
        """Keep a new configuration (its id is new)."""
        ...

    def get(self, config_id: str) -> StrategyConfig | None:
        """Return the configuration ``config_id``, or ``None``."""
        ...

    def list(self, *, limit: int = 100, after: str | None = None) -> ConfigPage:
        """Return configurations oldest first, ``limit`` at a time, after the cursor."""
        ...

    def remove(self, config_id: str) -> bool:
        """Forget a configuration; return whether it was kept."""
        ...

    def close(self) -> None:
        """Release what the repository holds."""
        ...


def parse_cursor(cursor: str | None) -> tuple[int, str] | None:
    """Return the ``(created_ns, id)`` a cursor names.

    Raises
    ------
    ValueError
        If ``cursor`` is not ``"<nanoseconds>:<id>"``.
    """
    if cursor is None:
        return None
    ts, sep, key = cursor.partition(":")
    if not sep or not key or not ts.isdigit():
        msg = "a cursor is '<created_ns>:<id>', as next_cursor gives it"
        raise ValueError(msg)
    return int(ts), key


def _page(found: list[StrategyConfig], limit: int) -> ConfigPage:
    if len(found) <= limit:
        return ConfigPage(tuple(found), None)
    last = found[limit - 1]
    return ConfigPage(tuple(found[:limit]), f"{last.created_ns}:{last.config_id}")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        msg = f"limit must be from 1 to {MAX_PAGE}, got {limit}"
        raise ValueError(msg)


@dataclass
class InMemoryStrategyConfigs:
    """A ``StrategyConfigRepository`` in a dictionary: for tests; nothing survives."""

    _configs: dict[str, StrategyConfig] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, config: StrategyConfig) -> None:
        """Keep a new configuration."""
        with self._lock:
            if config.config_id in self._configs:
                msg = f"strategy config {config.config_id!r} is already kept"
                raise ValueError(msg)
            self._configs[config.config_id] = config

    def get(self, config_id: str) -> StrategyConfig | None:
        """Return the configuration ``config_id``, or ``None``."""
        with self._lock:
            return self._configs.get(config_id)

    def list(self, *, limit: int = 100, after: str | None = None) -> ConfigPage:
        """Return configurations oldest first, ``limit`` at a time, after the cursor."""
        _check_limit(limit)
        start = parse_cursor(after)
        with self._lock:
            found = sorted(self._configs.values(), key=lambda c: (c.created_ns, c.config_id))
        if start is not None:
            found = [c for c in found if (c.created_ns, c.config_id) > start]
        return _page(found[: limit + 1], limit)

    def remove(self, config_id: str) -> bool:
        """Forget a configuration; return whether it was kept."""
        with self._lock:
            return self._configs.pop(config_id, None) is not None

    def close(self) -> None:
        """Nothing to release."""


_METADATA = sa.MetaData()
_CONFIGS = sa.Table(
    "strategy_configs",
    _METADATA,
    sa.Column("config_id", sa.String(64), primary_key=True),
    sa.Column("strategy", sa.String(128), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("instruments", sa.Text, nullable=False),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Index("ix_strategy_configs_created", "created_ns", "config_id"),
)


class SqlStrategyConfigs:
    """A ``StrategyConfigRepository`` in a ``strategy_configs`` table of its own.

    Parameters
    ----------
    url
        A SQLAlchemy URL (``sqlite:///strategy-configs.db``, ``postgresql://...``) or
        a SQLite file path. The table is created if missing.

    Notes
    -----
    The table is not part of the ``Store``'s Alembic migrations: it belongs to this
    service until the ``Store`` gains one. Its ids are hex UUIDs, so they sort the
    same under any collation.
    """

    def __init__(self, url: str | sa.URL | Path) -> None:
        if isinstance(url, Path) or (isinstance(url, str) and "://" not in url):
            url = sa.URL.create("sqlite", database=str(Path(url).absolute()))
        parsed = sa.make_url(url)
        if parsed.drivername in ("postgres", "postgresql"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.drivername.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
            msg = "an in-memory SQLite database is per connection: use InMemoryStrategyConfigs"
            raise ValueError(msg)
        self._where = parsed.render_as_string(hide_password=True)
        self._engine = sa.create_engine(parsed)
        with self._connection() as conn:
            _METADATA.create_all(conn, checkfirst=True)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
            msg = f"strategy configs at {self._where} are unavailable: {error.orig or error}"
            raise StoreUnavailableError(msg) from error

    def add(self, config: StrategyConfig) -> None:
        """Keep a new configuration."""
        row = {
            "config_id": config.config_id,
            "strategy": config.strategy,
            "params": json.dumps(config.params, sort_keys=True, allow_nan=False),
            "instruments": json.dumps(list(config.instruments)),
            "label": config.label,
            "created_ns": config.created_ns,
            "created_by": config.created_by,
        }
        with self._connection() as conn:
            conn.execute(sa.insert(_CONFIGS).values(row))

    def get(self, config_id: str) -> StrategyConfig | None:
        """Return the configuration ``config_id``, or ``None``."""
        query = sa.select(_CONFIGS).where(_CONFIGS.c.config_id == config_id)
        with self._connection() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _config(row)

    def list(self, *, limit: int = 100, after: str | None = None) -> ConfigPage:
        """Return configurations oldest first, ``limit`` at a time, after the cursor."""
        _check_limit(limit)
        start = parse_cursor(after)
        query = sa.select(_CONFIGS).order_by(_CONFIGS.c.created_ns, _CONFIGS.c.config_id)
        if start is not None:
            ts, key = start
            query = query.where(
                sa.or_(
                    _CONFIGS.c.created_ns > ts,
                    sa.and_(_CONFIGS.c.created_ns == ts, _CONFIGS.c.config_id > key),
                )
            )
        with self._connection() as conn:
            rows = conn.execute(query.limit(limit + 1)).mappings().all()
        return _page([_config(row) for row in rows], limit)

    def remove(self, config_id: str) -> bool:
        """Forget a configuration; return whether it was kept."""
        with self._connection() as conn:
            result = conn.execute(sa.delete(_CONFIGS).where(_CONFIGS.c.config_id == config_id))
        return bool(result.rowcount)

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()


def _config(row: Any) -> StrategyConfig:
    return StrategyConfig(
        config_id=row["config_id"],
        strategy=row["strategy"],
        params=json.loads(row["params"]),
        instruments=tuple(json.loads(row["instruments"])),
        label=row["label"],
        created_ns=int(row["created_ns"]),
        created_by=row["created_by"],
    )
