"""The storage port on SQLAlchemy 2: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection, exc

from quantgrid.adapters.storage import _engine as eng
from quantgrid.adapters.storage import _migrate
from quantgrid.adapters.storage import _rows as rows
from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._errors import (
    NotFoundError,
    StoreError,
    StoreUnavailableError,
    TransitionError,
)
from quantgrid.adapters.storage._jobs import JobRunStore
from quantgrid.adapters.storage._port import Store
from quantgrid.adapters.storage._prediction_port import PredictionStore
from quantgrid.adapters.storage._records import (
    AccountEventRecord,
    ApiKeyRecord,
    BacktestJob,
    FillRecord,
    JobStatus,
    OrderRecord,
    Page,
    PositionRecord,
    StoredOrder,
    StoredOrderEvent,
    UserRecord,
)
from quantgrid.adapters.storage._sql_checkpoints import SqlCheckpoints
from quantgrid.adapters.storage._sql_jobs import SqlJobRuns
from quantgrid.adapters.storage._sql_predictions import SqlPredictions
from quantgrid.adapters.storage._tables import (
    account_events,
    api_keys,
    backtest_jobs,
    fills,
    order_events,
    orders,
    positions,
    users,
)
from quantgrid.model import OrderAccepted, OrderEvent, OrderStatus

# The statements of the order path, built once and compiled once: their values are
# passed as parameters (``new_*`` names, since a column's own name is reserved).
_INSERT_EVENT = sa.insert(order_events)
_BY_ID = orders.c.client_order_id == sa.bindparam("oid")
_SET_STATUS = (
    sa.update(orders)
    .where(
        _BY_ID,
        orders.c.strategy_id == sa.bindparam("of_strategy_id"),
        orders.c.instrument_id == sa.bindparam("of_instrument_id"),
    )
    .values(status=sa.bindparam("new_status"), ts_last=sa.bindparam("new_ts_last"))
    .returning(orders.c.client_order_id)
)
_SET_STATUS_AND_VENUE_ID = _SET_STATUS.values(venue_order_id=sa.bindparam("new_venue_order_id"))
_SET_FILLED = sa.update(orders).where(_BY_ID).values(filled_qty=sa.bindparam("new_filled_qty"))

_IDS_A_QUERY = 500  # well under SQLite's limit of parameters a statement

_Compiled = tuple[str, list[str] | None, tuple[tuple[str, Callable[[Any], Any]], ...]]
"""A statement compiled for the driver: its SQL, its positional parameters' names
(None if the driver takes them by name), and the converters of those that need one."""


class SqlStore(SqlPredictions, SqlJobRuns, SqlCheckpoints):
    """A ``Store``, ``PredictionStore`` and ``JobRunStore`` on SQLite or PostgreSQL.

    The database is chosen by the URL.

    Parameters
    ----------
    url
        ``sqlite:///path/to/quantgrid.db``, or ``postgresql://user@host/db`` (the
        psycopg 3 driver is used whatever driver the URL names, if any).
    auto_migrate
        Upgrade the schema to this code's revision on open. Off by default: with
        several services on one PostgreSQL, migrating is a deploy step
        (``store.migrate()``), not something each process races to do at start.
    busy_timeout_s
        SQLite only: how long a writer waits for another writer's lock before the
        write fails with ``StoreUnavailableError``.

    Notes
    -----
    Every write runs in one transaction that is committed before the method returns,
    so a caller may acknowledge what it wrote as soon as the call returns; writes made
    inside ``transaction()`` share one, committed when its block ends. On SQLite
    the journal is WAL with ``synchronous=FULL``: the commit returns after the WAL is
    synced to disk, so an acknowledged write survives a power cut, not only a crash
    (``NORMAL`` would sync only at checkpoints and could lose the last commits).
    Writers take SQLite's write lock at ``BEGIN IMMEDIATE`` and wait up to the busy
    timeout for it; readers never block writers.

    The first call checks the schema: a database behind this code's revision raises
    ``SchemaError`` until ``migrate()`` runs (or the store is opened with
    ``auto_migrate=True``), and one ahead of it (migrated by newer code) is refused.

    The engine is synchronous. SQLite's driver is synchronous anyway (async wrappers
    run it in a thread), the durability point is the commit whichever way it is
    awaited, and the same store then serves the synchronous core, the CLI and the
    async services, which call it through a thread pool (``anyio.to_thread``).
    """

    def __init__(
        self, url: str | sa.URL, *, auto_migrate: bool = False, busy_timeout_s: float = 5.0
    ) -> None:
        self._url = eng.normalise_url(url)
        self._where = self._url.render_as_string(hide_password=True)
        self._engine = eng.make_engine(self._url, busy_timeout_s)
        self._schema_checked = False
        self._local = threading.local()  # the connection of an open transaction()
        self._compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = {}
        dbapi = self._engine.dialect.loaded_dbapi
        # What the driver raises when the database is down, locked or unreachable (on
        # SQLAlchemy's execution layer these are ``exc.OperationalError`` and
        # ``exc.InterfaceError``, see ``_connection``).
        self._driver_unavailable: tuple[type[Exception], ...] = (
            dbapi.OperationalError,
            dbapi.InterfaceError,
        )
        if auto_migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """Return the database's dialect name: ``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    # -- schema ----------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (this code's, by default), in one transaction.

        Safe to run from several processes at once: on PostgreSQL they take turns on an
        advisory lock, on SQLite on the write lock.
        """
        with self._connection(write=True, check_schema=False) as conn:
            _migrate.upgrade(conn, revision)
        self._schema_checked = False

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to ``revision`` (``"base"`` drops every table and row)."""
        with self._connection(write=True, check_schema=False) as conn:
            _migrate.downgrade(conn, revision)
        self._schema_checked = False

    def schema_revision(self) -> str | None:
        """Return the database's schema revision, or ``None`` if it was never migrated."""
        with self._connection(write=False, check_schema=False) as conn:
            return _migrate.current_revision(conn)

    def schema_behind(self) -> bool:
        """Return True if the schema is missing or at an older revision this code knows."""
        with self._connection(write=False, check_schema=False) as conn:
            return _migrate.is_behind(conn)

    def check_schema(self) -> None:
        """Raise ``SchemaError`` unless the schema is at this code's revision."""
        with self._connection(write=False, check_schema=False) as conn:
            _migrate.check_current(conn, f"database {self._where}")
        self._schema_checked = True

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """Make the writes of a block in one transaction: one commit, one disk sync.

        ``with store.transaction() as tx:`` gives this store; every call made through
        it on this thread inside the block runs in the block's transaction, which is
        committed (durably, as a single write is) when the block ends, and rolled back
        whole if it raises, leaving nothing of the block stored. The node's store
        writer puts each batch of queued writes in one, so the cost of a commit is
        shared by every order in the batch (group commit).

        Raises
        ------
        StoreError
            If a transaction is already open on this thread (they do not nest).
        """
        if getattr(self._local, "conn", None) is not None:
            raise StoreError(f"database {self._where}: a transaction is already open here")
        with self._connection(write=True) as conn:
            self._local.conn = conn
            try:
                yield self
            finally:
                self._local.conn = None

    @contextmanager
    def _connection(self, *, write: bool, check_schema: bool = True) -> Iterator[Connection]:
        open_tx: Connection | None = getattr(self._local, "conn", None)
        if open_tx is not None:  # inside transaction(): its connection, its commit
            yield open_tx
            return
        if check_schema and not self._schema_checked:
            self.check_schema()
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{eng.WRITE: True})
                with conn.begin():
                    yield conn
        except (exc.OperationalError, exc.InterfaceError) as error:
            msg = f"database {self._where} is unavailable: {error.orig or error}"
            raise StoreUnavailableError(msg) from error

    # -- orders ----------------------------------------------------------------------------
    def save_order(self, order: OrderRecord) -> bool:
        """Store a new order (status INITIALIZED); return ``False`` if already stored."""
        v.validate_order(order)
        with self._connection(write=True) as conn:
            if self._insert_new(conn, orders, rows.order_row(order), "client_order_id"):
                return True
            stored = self._order(conn, order.client_order_id)
            assert stored is not None
            if stored.order != order:
                raise v.conflict(f"order {order.client_order_id}", stored.order, order)
            return False

    def save_orders(self, records: Sequence[OrderRecord]) -> list[bool | StoreError]:
        """Store new orders in one statement; return each one's outcome, in order.

        Each order's outcome is what ``save_order`` would have given, called on each
        in turn: ``True`` if it is stored now, ``False`` if the same order was stored
        already (before, or earlier in ``records``), or the ``InvalidRecordError`` or
        ``ConflictError`` it would have raised, returned rather than raised, so that
        the others are stored.

        The node's store writer calls this for the orders queued next to each other in
        one batch: one read of the ids already stored, then one ``executemany``
        insert, instead of a statement for each.

        Raises
        ------
        StoreError
            If the write fails as a whole (``StoreUnavailableError``: the database is
            down or locked), or if another writer stored one of the ids between the
            read and the insert (on PostgreSQL); nothing of the call is then stored.
        """
        outcomes: list[bool | StoreError] = []
        valid: list[OrderRecord] = []
        for order in records:
            try:
                v.validate_order(order)
            except StoreError as error:
                outcomes.append(error)
            else:
                outcomes.append(True)
                valid.append(order)
        if not valid:
            return outcomes
        with self._connection(write=True) as conn:
            ids = sorted({order.client_order_id for order in valid})
            known: dict[str, OrderRecord] = {}
            for start in range(0, len(ids), _IDS_A_QUERY):
                query = sa.select(orders).where(
                    orders.c.client_order_id.in_(ids[start : start + _IDS_A_QUERY])
                )
                for row in conn.execute(query).mappings():
                    known[row["client_order_id"]] = rows.stored_order(row).order
            new_rows = []
            given = iter(valid)
            for k, outcome in enumerate(outcomes):
                if outcome is not True:
                    continue
                order = next(given)
                first = known.setdefault(order.client_order_id, order)
                if first is order:
                    new_rows.append(rows.order_row(order))
                elif first == order:
                    outcomes[k] = False
                else:
                    outcomes[k] = v.conflict(f"order {order.client_order_id}", first, order)
            if new_rows:
                statement = eng.insert_new_rows_statement(
                    conn.dialect.name, orders, "client_order_id"
                )
                if self._driver_many(conn, statement, new_rows) != len(new_rows):
                    msg = f"database {self._where}: another writer stored some of these orders"
                    raise StoreError(f"{msg} while they were saved; save them one by one")
        return outcomes

    def get_order(self, client_order_id: str) -> StoredOrder | None:
        """Return the order with ``client_order_id``, or ``None``."""
        with self._connection(write=False) as conn:
            return self._order(conn, client_order_id)

    def list_orders(
        self,
        *,
        strategy_id: str | None = None,
        status: OrderStatus | Collection[OrderStatus] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[StoredOrder]:
        """Return orders by ``ts_init`` then id, filtered, ``limit`` at a time."""
        v.check_limit(limit)
        v.check_range(since_ns, until_ns)
        start = v.parse_cursor(after)
        statuses = v.status_filter(status)
        query = sa.select(orders)
        if strategy_id is not None:
            query = query.where(orders.c.strategy_id == strategy_id)
        if statuses is not None:
            query = query.where(orders.c.status.in_(sorted(s.value for s in statuses)))
        query = eng.keyset(query, orders.c.ts_init, orders.c.client_order_id, since_ns, until_ns)
        query = eng.after(query, orders.c.ts_init, orders.c.client_order_id, start)
        with self._connection(write=False) as conn:
            found = [rows.stored_order(r) for r in conn.execute(query.limit(limit + 1)).mappings()]
        return v.make_page(found, limit, lambda o: (o.order.ts_init, o.order.client_order_id))

    def append_order_event(self, event: OrderEvent, status: OrderStatus) -> bool:
        """Append ``event`` to its order's history and set the order's ``status``."""
        fill = v.prepare_event(event, status)
        oid = event.client_order_id
        changes: dict[str, Any] = {
            "oid": oid,
            "of_strategy_id": event.strategy_id,
            "of_instrument_id": event.instrument_id,
            "new_status": status.value,
            "new_ts_last": event.ts_event,
        }
        with self._connection(write=True) as conn:
            # An event that is not a fill moves the status in one statement that also
            # checks the order exists and matches; only if it finds none is the order
            # read, for the error that says why.
            update = _SET_STATUS
            if isinstance(event, OrderAccepted):
                update = _SET_STATUS_AND_VENUE_ID
                changes["new_venue_order_id"] = event.venue_order_id
            if fill is not None or self._driver(conn, update, changes) is None:
                stored = self._order(conn, oid, lock=True)
                if stored is None:
                    raise NotFoundError(f"{type(event).__name__}: order {oid} is not stored")
                v.check_event_matches(event, stored)
                if fill is not None and not self._record_fill(conn, fill, stored):
                    return False
                conn.execute(update, changes).first()
            self._driver(
                conn,
                _INSERT_EVENT,
                {
                    "client_order_id": oid,
                    "event_type": type(event).__name__,
                    "status": status.value,
                    "ts_event": event.ts_event,
                    "payload": msgspec.json.encode(event).decode(),
                },
            )
            return True

    def _driver(self, conn: Connection, statement: Any, params: Mapping[str, Any]) -> Any:
        """Run ``statement`` on the driver's cursor, in ``conn``'s transaction; return
        its first row (``RETURNING``), or None.

        For the order path's statements (an order's insert, its events, its status):
        compiled once per statement and set of parameters, it skips SQLAlchemy's
        execution layer (parameter processing, result wrapping), which costs more than
        SQLite's work. The columns' types still convert what they must (a decimal to
        its text on SQLite, a boolean to an integer), as that layer would.
        """
        sql, names, processors = self._compile(conn, statement, params)
        if processors:
            params = dict(params)
            for name, process in processors:
                params[name] = process(params[name])
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, [params[n] for n in names] if names is not None else params)
            return cursor.fetchone() if cursor.description else None
        except self._driver_unavailable as error:
            raise StoreUnavailableError(
                f"database {self._where} is unavailable: {error}"
            ) from error
        finally:
            cursor.close()

    def _driver_many(
        self, conn: Connection, statement: Any, params: Sequence[Mapping[str, Any]]
    ) -> int:
        """Run ``statement`` once for each of ``params`` (which have the same keys) on
        the driver's cursor, in ``conn``'s transaction, in one ``executemany``; return
        the driver's rowcount (the rows written)."""
        sql, names, processors = self._compile(conn, statement, params[0])
        batch: list[Any] = []
        for given in params:
            row = dict(given)
            for name, process in processors:
                row[name] = process(row[name])
            batch.append([row[n] for n in names] if names is not None else row)
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(sql, batch)
            return int(cursor.rowcount)
        except self._driver_unavailable as error:
            raise StoreUnavailableError(
                f"database {self._where} is unavailable: {error}"
            ) from error
        finally:
            cursor.close()

    def _compile(self, conn: Connection, statement: Any, params: Mapping[str, Any]) -> _Compiled:
        key = (id(statement), tuple(params))
        found = self._compiled.get(key)
        if found is None:
            dialect = conn.dialect
            compiled = statement.compile(dialect=dialect, column_keys=list(params))
            assert not compiled.escaped_bind_names, f"parameters to escape: {compiled.string}"
            processors = tuple(
                (name, process)
                for name, bind in compiled.binds.items()
                if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
            )
            found = (compiled.string, compiled.positiontup, processors)
            self._compiled[key] = found
        return found

    def _insert_new(
        self, conn: Connection, table: sa.Table, row: Mapping[str, Any], key: str
    ) -> bool:
        """Insert ``row`` unless ``key`` is taken; return whether it was inserted."""
        statement = eng.insert_new_statement(conn.dialect.name, table, key)
        return self._driver(conn, statement, row) is not None

    def order_events(self, client_order_id: str) -> list[StoredOrderEvent]:
        """Return the order's history in the order it was appended."""
        query = (
            sa.select(order_events)
            .where(order_events.c.client_order_id == client_order_id)
            .order_by(order_events.c.seq)
        )
        with self._connection(write=False) as conn:
            return [rows.stored_event(r) for r in conn.execute(query).mappings()]

    def _order(
        self, conn: Connection, client_order_id: str, lock: bool = False
    ) -> StoredOrder | None:
        query = sa.select(orders).where(orders.c.client_order_id == client_order_id)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        return None if row is None else rows.stored_order(row)

    # -- fills -----------------------------------------------------------------------------
    def record_fill(self, fill: FillRecord) -> bool:
        """Store a fill of a stored order; return ``False`` if its trade id already was."""
        v.validate_fill(fill)
        with self._connection(write=True) as conn:
            stored = self._order(conn, fill.client_order_id, lock=True)
            if stored is None:
                msg = f"fill {fill.trade_id}: order {fill.client_order_id} is not stored"
                raise NotFoundError(msg)
            return self._record_fill(conn, fill, stored)

    def _record_fill(self, conn: Connection, fill: FillRecord, stored: StoredOrder) -> bool:
        # ``stored`` was read with a row lock, so the filled quantity cannot move under us.
        v.check_fill_matches(fill, stored)
        if not self._insert_new(conn, fills, rows.fill_row(fill), "trade_id"):
            query = sa.select(fills).where(fills.c.trade_id == fill.trade_id)
            existing = rows.fill_record(conn.execute(query).mappings().one())
            if existing != fill:
                raise v.conflict(f"fill {fill.trade_id}", existing, fill)
            return False
        conn.execute(
            _SET_FILLED,
            {"oid": fill.client_order_id, "new_filled_qty": stored.filled_qty + fill.quantity},
        )
        return True

    def list_fills(
        self,
        *,
        client_order_id: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[FillRecord]:
        """Return fills by ``ts_event`` then trade id, of one order or of a time range."""
        v.check_limit(limit)
        v.check_range(since_ns, until_ns)
        start = v.parse_cursor(after)
        query = sa.select(fills)
        if client_order_id is not None:
            query = query.where(fills.c.client_order_id == client_order_id)
        query = eng.keyset(query, fills.c.ts_event, fills.c.trade_id, since_ns, until_ns)
        query = eng.after(query, fills.c.ts_event, fills.c.trade_id, start)
        with self._connection(write=False) as conn:
            found = [rows.fill_record(r) for r in conn.execute(query.limit(limit + 1)).mappings()]
        return v.make_page(found, limit, lambda f: (f.ts_event, f.trade_id))

    # -- positions and cash ----------------------------------------------------------------
    def upsert_position(self, position: PositionRecord) -> bool:
        """Store the snapshot unless a later one is stored; return whether it was."""
        v.validate_position(position)
        with self._connection(write=True) as conn:
            upsert = eng.newer_snapshot_upsert(
                conn.dialect.name, positions, ("account_id", "instrument_id")
            )
            return conn.execute(upsert, rows.position_row(position)).first() is not None

    def positions(self, account_id: str | None = None) -> list[PositionRecord]:
        """Return the latest snapshots, by account then instrument (flat ones too)."""
        query = sa.select(positions).order_by(positions.c.account_id, positions.c.instrument_id)
        if account_id is not None:
            query = query.where(positions.c.account_id == account_id)
        with self._connection(write=False) as conn:
            return [rows.position_record(r) for r in conn.execute(query).mappings()]

    def append_account_event(self, event: AccountEventRecord) -> bool:
        """Store a cash movement; return ``False`` if its event id already was."""
        v.validate_account_event(event)
        with self._connection(write=True) as conn:
            if self._insert_new(conn, account_events, rows.account_event_row(event), "event_id"):
                return True
            query = sa.select(account_events).where(account_events.c.event_id == event.event_id)
            stored = rows.account_event_record(conn.execute(query).mappings().one())
            if stored != event:
                raise v.conflict(f"account event {event.event_id}", stored, event)
            return False

    def account_events(
        self, account_id: str, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[AccountEventRecord]:
        """Return an account's cash movements by ``ts_event``, then as appended."""
        v.check_range(since_ns, until_ns)
        query = sa.select(account_events).where(account_events.c.account_id == account_id)
        query = eng.keyset(
            query, account_events.c.ts_event, account_events.c.seq, since_ns, until_ns
        )
        with self._connection(write=False) as conn:
            return [rows.account_event_record(r) for r in conn.execute(query).mappings()]

    def cash_balances(self, account_id: str) -> dict[str, Decimal]:
        """Return the exact sum of an account's cash movements, per currency."""
        # Summed here, not in SQL: on SQLite the amounts are text (see DecimalType).
        balances: dict[str, Decimal] = {}
        for event in self.account_events(account_id):
            balances[event.currency] = balances.get(event.currency, Decimal(0)) + event.amount
        return dict(sorted(balances.items()))

    # -- users and API keys ----------------------------------------------------------------
    def create_user(self, user: UserRecord) -> bool:
        """Store a new user; a taken username raises ``ConflictError``."""
        v.validate_user(user)
        with self._connection(write=True) as conn:
            if self._insert_new(conn, users, rows.user_row(user), "username"):
                return True
            stored = self._user(conn, user.username)
            assert stored is not None
            if msgspec.structs.replace(stored, disabled_ns=None) != user:
                raise v.username_taken(user.username)
            return False

    def get_user(self, username: str) -> UserRecord | None:
        """Return the user named ``username``, or ``None``."""
        with self._connection(write=False) as conn:
            return self._user(conn, username)

    def list_users(self) -> list[UserRecord]:
        """Return every user, by username."""
        query = sa.select(users).order_by(users.c.username)
        with self._connection(write=False) as conn:
            return [rows.user_record(r) for r in conn.execute(query).mappings()]

    def disable_user(self, username: str, ts_ns: int) -> UserRecord:
        """Disable a user from ``ts_ns`` (a disabled user keeps its first time)."""
        v.check_ts(f"user {username}", "disabled_ns", ts_ns)
        with self._connection(write=True) as conn:
            user = self._user(conn, username, lock=True)
            if user is None:
                raise NotFoundError(f"user {username!r} is not stored")
            if user.disabled_ns is None:
                user = msgspec.structs.replace(user, disabled_ns=ts_ns)
                conn.execute(
                    sa.update(users).where(users.c.username == username).values(disabled_ns=ts_ns)
                )
            return user

    def _user(self, conn: Connection, username: str, lock: bool = False) -> UserRecord | None:
        query = sa.select(users).where(users.c.username == username)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        return None if row is None else rows.user_record(row)

    def create_api_key(self, key: ApiKeyRecord) -> bool:
        """Store a new API key (its hash) for an existing user."""
        v.validate_api_key(key)
        with self._connection(write=True) as conn:
            if self._user(conn, key.owner) is None:
                raise NotFoundError(f"API key {key.key_id}: owner {key.owner!r} is not a user")
            if self._insert_new(conn, api_keys, rows.api_key_row(key), "key_id"):
                return True
            stored = self._key(conn, key.key_id)
            assert stored is not None
            created = msgspec.structs.replace(stored, revoked_ns=None, last_used_ns=None)
            if created != key:
                raise v.conflict(f"API key {key.key_id}", created, key)
            return False

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Return the API key ``key_id``, or ``None``."""
        with self._connection(write=False) as conn:
            return self._key(conn, key_id)

    def list_api_keys(self, owner: str) -> list[ApiKeyRecord]:
        """Return a user's API keys, by creation time, then key id."""
        query = (
            sa.select(api_keys)
            .where(api_keys.c.owner == owner)
            .order_by(api_keys.c.created_ns, api_keys.c.key_id)
        )
        with self._connection(write=False) as conn:
            return [rows.api_key_record(r) for r in conn.execute(query).mappings()]

    def revoke_api_key(self, key_id: str, ts_ns: int) -> ApiKeyRecord:
        """Revoke a key from ``ts_ns`` (a revoked key keeps its first time)."""
        v.check_ts(f"API key {key_id}", "revoked_ns", ts_ns)
        with self._connection(write=True) as conn:
            key = self._key(conn, key_id, lock=True)
            if key is None:
                raise NotFoundError(f"API key {key_id!r} is not stored")
            if key.revoked_ns is None:
                key = msgspec.structs.replace(key, revoked_ns=ts_ns)
                conn.execute(
                    sa.update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_ns=ts_ns)
                )
            return key

    def touch_api_key(self, key_id: str, ts_ns: int) -> None:
        """Record that a key was used at ``ts_ns`` (the latest use is kept)."""
        v.check_ts(f"API key {key_id}", "last_used_ns", ts_ns)
        with self._connection(write=True) as conn:
            if self._key(conn, key_id, lock=True) is None:
                raise NotFoundError(f"API key {key_id!r} is not stored")
            last = api_keys.c.last_used_ns
            conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.key_id == key_id, sa.or_(last.is_(None), last < ts_ns))
                .values(last_used_ns=ts_ns)
            )

    def _key(self, conn: Connection, key_id: str, lock: bool = False) -> ApiKeyRecord | None:
        query = sa.select(api_keys).where(api_keys.c.key_id == key_id)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        return None if row is None else rows.api_key_record(row)

    # -- backtest jobs ---------------------------------------------------------------------
    def create_job(self, job_id: str, params: Mapping[str, Any], ts_ns: int) -> bool:
        """Queue a backtest job; return ``False`` if the same job was already queued."""
        v.check_job_id(job_id)
        raw = v.encode_params(job_id, params).decode()
        v.check_ts(f"job {job_id}", "created_ns", ts_ns)
        row = {
            "job_id": job_id,
            "status": JobStatus.QUEUED.value,
            "progress": 0.0,
            "params": raw,
            "created_ns": ts_ns,
        }
        with self._connection(write=True) as conn:
            if self._insert_new(conn, backtest_jobs, row, "job_id"):
                return True
            stored = self._job(conn, job_id)
            assert stored is not None
            stored_raw = v.encode_params(job_id, stored.params).decode()
            if stored_raw != raw or stored.created_ns != ts_ns:
                given = msgspec.structs.replace(
                    stored, params=v.decode_params(raw), created_ns=ts_ns
                )
                raise v.conflict(f"job {job_id}", stored, given)
            return False

    def get_job(self, job_id: str) -> BacktestJob | None:
        """Return the job ``job_id``, or ``None``."""
        with self._connection(write=False) as conn:
            return self._job(conn, job_id)

    def list_jobs(self, status: JobStatus | None = None, *, limit: int = 100) -> list[BacktestJob]:
        """Return jobs, oldest first, optionally of one status."""
        v.check_limit(limit)
        query = sa.select(backtest_jobs).order_by(
            backtest_jobs.c.created_ns, backtest_jobs.c.job_id
        )
        if status is not None:
            v.check_enum("listing", "status", status, JobStatus)
            query = query.where(backtest_jobs.c.status == status.value)
        with self._connection(write=False) as conn:
            return [rows.job_record(r) for r in conn.execute(query.limit(limit)).mappings()]

    def start_job(self, job_id: str, ts_ns: int) -> BacktestJob:
        """Move a queued job to running."""
        v.check_ts(f"job {job_id}", "started_ns", ts_ns)
        return self._move_job(job_id, JobStatus.RUNNING, started_ns=ts_ns)

    def set_job_progress(self, job_id: str, fraction: float) -> BacktestJob:
        """Set a running job's progress, a fraction in [0, 1]."""
        v.check_progress(job_id, fraction)
        with self._connection(write=True) as conn:
            job = self._require_job(conn, job_id)
            if job.status is not JobStatus.RUNNING:
                msg = f"job {job_id}: progress can be set only while running, it is "
                raise TransitionError(msg + job.status.value)
            job = msgspec.structs.replace(job, progress=float(fraction))
            conn.execute(
                sa.update(backtest_jobs)
                .where(backtest_jobs.c.job_id == job_id)
                .values(progress=job.progress)
            )
            return job

    def finish_job(self, job_id: str, result_path: str, ts_ns: int) -> BacktestJob:
        """Move a running job to done, with where its result is."""
        v.check_text(f"job {job_id}", "result_path", result_path)
        v.check_ts(f"job {job_id}", "finished_ns", ts_ns)
        return self._move_job(
            job_id, JobStatus.DONE, progress=1.0, result_path=result_path, finished_ns=ts_ns
        )

    def fail_job(self, job_id: str, error: str, ts_ns: int) -> BacktestJob:
        """Move a queued or running job to failed, with why."""
        v.check_text(f"job {job_id}", "error", error)
        v.check_ts(f"job {job_id}", "finished_ns", ts_ns)
        return self._move_job(job_id, JobStatus.FAILED, error=error, finished_ns=ts_ns)

    def _move_job(self, job_id: str, status: JobStatus, **changes: Any) -> BacktestJob:
        with self._connection(write=True) as conn:
            job = self._require_job(conn, job_id)
            rule = v.job_transition_rule(job_id, job.status, status)
            if rule is not None:
                raise TransitionError(rule)
            conn.execute(
                sa.update(backtest_jobs)
                .where(backtest_jobs.c.job_id == job_id)
                .values(status=status.value, **changes)
            )
            return msgspec.structs.replace(job, status=status, **changes)

    def _job(self, conn: Connection, job_id: str, lock: bool = False) -> BacktestJob | None:
        query = sa.select(backtest_jobs).where(backtest_jobs.c.job_id == job_id)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        return None if row is None else rows.job_record(row)

    def _require_job(self, conn: Connection, job_id: str) -> BacktestJob:
        job = self._job(conn, job_id, lock=True)
        if job is None:
            raise NotFoundError(f"job {job_id!r} is not stored")
        return job


class SqliteStore(SqlStore):
    """A ``SqlStore`` on a SQLite file: WAL journal, ``synchronous=FULL``, foreign keys on.

    Parameters
    ----------
    path
        The database file; its folder must exist. Other processes may open the same
        file: SQLite serialises their writes (see ``busy_timeout_s``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        auto_migrate: bool = False,
        busy_timeout_s: float = 5.0,
    ) -> None:
        url = sa.URL.create("sqlite", database=str(Path(path).absolute()))
        super().__init__(url, auto_migrate=auto_migrate, busy_timeout_s=busy_timeout_s)


class PostgresStore(SqlStore):
    """A ``SqlStore`` on PostgreSQL, through psycopg 3.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:5432/dbname``; a ``?options=-csearch_path=s``
        query puts the tables in schema ``s``.
    """

    def __init__(self, url: str | sa.URL, *, auto_migrate: bool = False) -> None:
        parsed = eng.normalise_url(url)
        if parsed.get_backend_name() != "postgresql":
            shown = parsed.render_as_string(hide_password=True)
            raise StoreError(f"PostgresStore: url must be a postgresql:// URL, got {shown!r}")
        super().__init__(parsed, auto_migrate=auto_migrate)


if TYPE_CHECKING:  # mypy holds the class to the ports
    _IS_A_STORE: type[Store] = SqlStore
    _IS_A_PREDICTION_STORE: type[PredictionStore] = SqlStore
    _IS_A_JOB_RUN_STORE: type[JobRunStore] = SqlStore
