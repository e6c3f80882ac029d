"""The in-memory fake of the storage port, for unit tests of the services."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from quantgrid.adapters.storage import _checkpoints as cp
from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._checkpoints import Checkpoint
from quantgrid.adapters.storage._errors import NotFoundError, TransitionError
from quantgrid.adapters.storage._jobs import JobRun, JobRunStore
from quantgrid.adapters.storage._memory_predictions import InMemoryJobRuns, InMemoryPredictions
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
    StoredPrediction,
    UserRecord,
)
from quantgrid.model import OrderAccepted, OrderEvent, OrderStatus


class InMemoryStore(InMemoryPredictions, InMemoryJobRuns):
    """A ``Store``, ``PredictionStore`` and ``JobRunStore`` in dictionaries, no disk.

    The same rules and errors as ``SqlStore``.

    Notes
    -----
    Every check the SQL stores make runs here too (the shared contract tests hold
    both to it), so a service tested against this fake meets the same refusals in
    production. Nothing survives the process. Thread-safe: one lock around each call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, StoredOrder] = {}
        self._events: dict[str, list[StoredOrderEvent]] = {}
        self._seq = 0
        self._fills: dict[str, FillRecord] = {}
        self._positions: dict[tuple[str, str], PositionRecord] = {}
        self._account_events: dict[str, AccountEventRecord] = {}  # insertion ordered
        self._users: dict[str, UserRecord] = {}
        self._keys: dict[str, ApiKeyRecord] = {}
        self._jobs: dict[str, tuple[BacktestJob, bytes]] = {}
        self._predictions: dict[str, tuple[StoredPrediction, int]] = {}
        self._job_runs: dict[tuple[str, int], JobRun] = {}
        self._checkpoints: dict[str, tuple[str, int]] = {}  # name: (JSON text, ts_ns)

    # -- orders ----------------------------------------------------------------------------
    def save_order(self, order: OrderRecord) -> bool:
        """Store a new order (status INITIALIZED); return ``False`` if already stored."""
        v.validate_order(order)
        with self._lock:
            stored = self._orders.get(order.client_order_id)
            if stored is not None:
                if stored.order != order:
                    raise v.conflict(f"order {order.client_order_id}", stored.order, order)
                return False
            self._orders[order.client_order_id] = StoredOrder(
                order=order,
                status=OrderStatus.INITIALIZED,
                filled_qty=Decimal(0),
                venue_order_id="",
                ts_last=order.ts_init,
            )
            return True

    def get_order(self, client_order_id: str) -> StoredOrder | None:
        """Return the order with ``client_order_id``, or ``None``."""
        with self._lock:
            return self._orders.get(client_order_id)

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
        with self._lock:
            rows = [
                o
                for o in self._orders.values()
                if (strategy_id is None or o.order.strategy_id == strategy_id)
                and (statuses is None or o.status in statuses)
                and _in_range(o.order.ts_init, since_ns, until_ns)
                and (start is None or (o.order.ts_init, o.order.client_order_id) > start)
            ]
        rows.sort(key=lambda o: (o.order.ts_init, o.order.client_order_id))
        return v.make_page(rows, limit, lambda o: (o.order.ts_init, o.order.client_order_id))

    def append_order_event(self, event: OrderEvent, status: OrderStatus) -> bool:
        """Append ``event`` to its order's history and set the order's ``status``."""
        fill = v.prepare_event(event, status)
        with self._lock:
            stored = self._require_order(event.client_order_id, type(event).__name__)
            v.check_event_matches(event, stored)
            if fill is not None:
                if not self._record_fill_locked(fill):
                    return False
                stored = self._orders[event.client_order_id]
            self._seq += 1
            self._events.setdefault(event.client_order_id, []).append(
                StoredOrderEvent(
                    seq=self._seq,
                    client_order_id=event.client_order_id,
                    event_type=type(event).__name__,
                    status=status,
                    ts_event=event.ts_event,
                    payload=msgspec.json.encode(event),
                )
            )
            venue_id = (
                event.venue_order_id if isinstance(event, OrderAccepted) else stored.venue_order_id
            )
            self._orders[event.client_order_id] = msgspec.structs.replace(
                stored, status=status, venue_order_id=venue_id, ts_last=event.ts_event
            )
            return True

    def order_events(self, client_order_id: str) -> list[StoredOrderEvent]:
        """Return the order's history in the order it was appended."""
        with self._lock:
            return list(self._events.get(client_order_id, ()))

    # -- fills -----------------------------------------------------------------------------
    def record_fill(self, fill: FillRecord) -> bool:
        """Store a fill of a stored order; return ``False`` if its trade id already was."""
        v.validate_fill(fill)
        with self._lock:
            return self._record_fill_locked(fill)

    def _record_fill_locked(self, fill: FillRecord) -> bool:
        stored = self._require_order(fill.client_order_id, f"fill {fill.trade_id}")
        v.check_fill_matches(fill, stored)
        existing = self._fills.get(fill.trade_id)
        if existing is not None:
            if existing != fill:
                raise v.conflict(f"fill {fill.trade_id}", existing, fill)
            return False
        self._fills[fill.trade_id] = fill
        self._orders[fill.client_order_id] = msgspec.structs.replace(
            stored, filled_qty=stored.filled_qty + fill.quantity
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
        with self._lock:
            rows = [
                f
                for f in self._fills.values()
                if (client_order_id is None or f.client_order_id == client_order_id)
                and _in_range(f.ts_event, since_ns, until_ns)
                and (start is None or (f.ts_event, f.trade_id) > start)
            ]
        rows.sort(key=lambda f: (f.ts_event, f.trade_id))
        return v.make_page(rows, limit, lambda f: (f.ts_event, f.trade_id))

    # -- positions and cash ----------------------------------------------------------------
    def upsert_position(self, position: PositionRecord) -> bool:
        """Store the snapshot unless a later one is stored; return whether it was."""
        v.validate_position(position)
        key = (position.account_id, position.instrument_id)
        with self._lock:
            stored = self._positions.get(key)
            if stored is not None and stored.ts_event > position.ts_event:
                return False
            self._positions[key] = position
            return True

    def positions(self, account_id: str | None = None) -> list[PositionRecord]:
        """Return the latest snapshots, by account then instrument (flat ones too)."""
        with self._lock:
            return [
                self._positions[key]
                for key in sorted(self._positions)
                if account_id is None or key[0] == account_id
            ]

    def append_account_event(self, event: AccountEventRecord) -> bool:
        """Store a cash movement; return ``False`` if its event id already was."""
        v.validate_account_event(event)
        with self._lock:
            stored = self._account_events.get(event.event_id)
            if stored is not None:
                if stored != event:
                    raise v.conflict(f"account event {event.event_id}", stored, event)
                return False
            self._account_events[event.event_id] = event
            return True

    def account_events(
        self, account_id: str, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[AccountEventRecord]:
        """Return an account's cash movements by ``ts_event``, then as appended."""
        v.check_range(since_ns, until_ns)
        with self._lock:
            rows = [
                e
                for e in self._account_events.values()
                if e.account_id == account_id and _in_range(e.ts_event, since_ns, until_ns)
            ]
        rows.sort(key=lambda e: e.ts_event)  # stable: ties keep the order appended
        return rows

    def cash_balances(self, account_id: str) -> dict[str, Decimal]:
        """Return the exact sum of an account's cash movements, per currency."""
        balances: dict[str, Decimal] = {}
        for event in self.account_events(account_id):
            balances[event.currency] = balances.get(event.currency, Decimal(0)) + event.amount
        return dict(sorted(balances.items()))

    # -- users and API keys ----------------------------------------------------------------
    def create_user(self, user: UserRecord) -> bool:
        """Store a new user; a taken username raises ``ConflictError``."""
        v.validate_user(user)
        with self._lock:
            stored = self._users.get(user.username)
            if stored is not None:
                if msgspec.structs.replace(stored, disabled_ns=None) != user:
                    raise v.username_taken(user.username)
                return False
            self._users[user.username] = user
            return True

    def get_user(self, username: str) -> UserRecord | None:
        """Return the user named ``username``, or ``None``."""
        with self._lock:
            return self._users.get(username)

    def list_users(self) -> list[UserRecord]:
        """Return every user, by username."""
        with self._lock:
            return [self._users[name] for name in sorted(self._users)]

    def disable_user(self, username: str, ts_ns: int) -> UserRecord:
        """Disable a user from ``ts_ns`` (a disabled user keeps its first time)."""
        v.check_ts(f"user {username}", "disabled_ns", ts_ns)
        with self._lock:
            user = self._users.get(username)
            if user is None:
                raise NotFoundError(f"user {username!r} is not stored")
            if user.disabled_ns is None:
                user = msgspec.structs.replace(user, disabled_ns=ts_ns)
                self._users[username] = user
            return user

    def create_api_key(self, key: ApiKeyRecord) -> bool:
        """Store a new API key (its hash) for an existing user."""
        v.validate_api_key(key)
        with self._lock:
            if key.owner not in self._users:
                raise NotFoundError(f"API key {key.key_id}: owner {key.owner!r} is not a user")
            stored = self._keys.get(key.key_id)
            if stored is not None:
                created = msgspec.structs.replace(stored, revoked_ns=None, last_used_ns=None)
                if created != key:
                    raise v.conflict(f"API key {key.key_id}", created, key)
                return False
            self._keys[key.key_id] = key
            return True

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Return the API key ``key_id``, or ``None``."""
        with self._lock:
            return self._keys.get(key_id)

    def list_api_keys(self, owner: str) -> list[ApiKeyRecord]:
        """Return a user's API keys, by creation time, then key id."""
        with self._lock:
            keys = [k for k in self._keys.values() if k.owner == owner]
        return sorted(keys, key=lambda k: (k.created_ns, k.key_id))

    def revoke_api_key(self, key_id: str, ts_ns: int) -> ApiKeyRecord:
        """Revoke a key from ``ts_ns`` (a revoked key keeps its first time)."""
        v.check_ts(f"API key {key_id}", "revoked_ns", ts_ns)
        with self._lock:
            key = self._require_key(key_id)
            if key.revoked_ns is None:
                key = msgspec.structs.replace(key, revoked_ns=ts_ns)
                self._keys[key_id] = key
            return key

    def touch_api_key(self, key_id: str, ts_ns: int) -> None:
        """Record that a key was used at ``ts_ns`` (the latest use is kept)."""
        v.check_ts(f"API key {key_id}", "last_used_ns", ts_ns)
        with self._lock:
            key = self._require_key(key_id)
            if key.last_used_ns is None or ts_ns > key.last_used_ns:
                self._keys[key_id] = msgspec.structs.replace(key, last_used_ns=ts_ns)

    # -- backtest jobs ---------------------------------------------------------------------
    def create_job(self, job_id: str, params: Mapping[str, Any], ts_ns: int) -> bool:
        """Queue a backtest job; return ``False`` if the same job was already queued."""
        v.check_job_id(job_id)
        raw = v.encode_params(job_id, params)
        v.check_ts(f"job {job_id}", "created_ns", ts_ns)
        job = BacktestJob(
            job_id=job_id,
            status=JobStatus.QUEUED,
            progress=0.0,
            params=v.decode_params(raw),
            created_ns=ts_ns,
        )
        with self._lock:
            stored = self._jobs.get(job_id)
            if stored is not None:
                old, old_raw = stored
                if old_raw != raw or old.created_ns != ts_ns:
                    given = msgspec.structs.replace(old, params=job.params, created_ns=ts_ns)
                    raise v.conflict(f"job {job_id}", old, given)
                return False
            self._jobs[job_id] = (job, raw)
            return True

    def get_job(self, job_id: str) -> BacktestJob | None:
        """Return the job ``job_id``, or ``None``."""
        with self._lock:
            stored = self._jobs.get(job_id)
        return None if stored is None else _with_fresh_params(*stored)

    def list_jobs(self, status: JobStatus | None = None, *, limit: int = 100) -> list[BacktestJob]:
        """Return jobs, oldest first, optionally of one status."""
        v.check_limit(limit)
        if status is not None:
            v.check_enum("listing", "status", status, JobStatus)
        with self._lock:
            rows = [s for s in self._jobs.values() if status is None or s[0].status is status]
        rows.sort(key=lambda s: (s[0].created_ns, s[0].job_id))
        return [_with_fresh_params(*s) for s in rows[:limit]]

    def start_job(self, job_id: str, ts_ns: int) -> BacktestJob:
        """Move a queued job to running."""
        v.check_ts(f"job {job_id}", "started_ns", ts_ns)
        return self._move_job(job_id, JobStatus.RUNNING, started_ns=ts_ns)

    def set_job_progress(self, job_id: str, fraction: float) -> BacktestJob:
        """Set a running job's progress, a fraction in [0, 1]."""
        v.check_progress(job_id, fraction)
        with self._lock:
            job, raw = self._require_job(job_id)
            if job.status is not JobStatus.RUNNING:
                msg = f"job {job_id}: progress can be set only while running, it is "
                raise TransitionError(msg + job.status.value)
            job = msgspec.structs.replace(job, progress=float(fraction))
            self._jobs[job_id] = (job, raw)
        return _with_fresh_params(job, raw)

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
        with self._lock:
            job, raw = self._require_job(job_id)
            rule = v.job_transition_rule(job_id, job.status, status)
            if rule is not None:
                raise TransitionError(rule)
            job = msgspec.structs.replace(job, status=status, **changes)
            self._jobs[job_id] = (job, raw)
        return _with_fresh_params(job, raw)

    # -- checkpoints -----------------------------------------------------------------------
    def save_checkpoint(self, name: str, value: Mapping[str, Any], ts_ns: int) -> None:
        """Store ``value`` under ``name``, replacing what was there (an upsert, atomic)."""
        text = cp.encode_checkpoint(name, value, ts_ns)
        with self._lock:
            self._checkpoints[name] = (text, ts_ns)

    def get_checkpoint(self, name: str) -> Checkpoint | None:
        """Return the checkpoint saved under ``name``, or None."""
        cp.check_name(name)
        with self._lock:
            stored = self._checkpoints.get(name)
        if stored is None:
            return None
        # Kept as the SQL stores keep it (JSON text), so a read is a fresh dict, and a
        # tuple saved reads back as a list here too.
        text, ts_ns = stored
        return Checkpoint(name=name, value=cp.decode_value(text), ts_ns=ts_ns)

    def close(self) -> None:
        """Do nothing: there is nothing to release."""

    # -- helpers ---------------------------------------------------------------------------
    def _require_order(self, client_order_id: str, what: str) -> StoredOrder:
        stored = self._orders.get(client_order_id)
        if stored is None:
            raise NotFoundError(f"{what}: order {client_order_id} is not stored")
        return stored

    def _require_key(self, key_id: str) -> ApiKeyRecord:
        key = self._keys.get(key_id)
        if key is None:
            raise NotFoundError(f"API key {key_id!r} is not stored")
        return key

    def _require_job(self, job_id: str) -> tuple[BacktestJob, bytes]:
        stored = self._jobs.get(job_id)
        if stored is None:
            raise NotFoundError(f"job {job_id!r} is not stored")
        return stored


def _in_range(ts: int, since_ns: int | None, until_ns: int | None) -> bool:
    return (since_ns is None or ts >= since_ns) and (until_ns is None or ts < until_ns)


def _with_fresh_params(job: BacktestJob, raw: bytes) -> BacktestJob:
    # Callers may mutate the dict they get; the stored params stay as submitted.
    return msgspec.structs.replace(job, params=v.decode_params(raw))


if TYPE_CHECKING:  # mypy holds the class to the ports
    _IS_A_STORE: type[Store] = InMemoryStore
    _IS_A_PREDICTION_STORE: type[PredictionStore] = InMemoryStore
    _IS_A_JOB_RUN_STORE: type[JobRunStore] = InMemoryStore
