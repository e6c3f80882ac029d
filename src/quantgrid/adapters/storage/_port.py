"""The storage port: what the services need kept, whatever keeps it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any, Protocol

from quantgrid.adapters.storage._checkpoints import Checkpoint
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
from quantgrid.model import OrderEvent, OrderStatus


class Store(Protocol):
    """Orders and their history, fills, positions, cash, users, API keys, jobs, checkpoints.

    Notes
    -----
    Every write is durable when it returns (committed, and on SQLite synced to disk):
    the execution service acknowledges an order only after ``save_order`` returned.
    Writes keyed by a caller's id are idempotent: the same record twice is stored once
    (the second call returns ``False``), and the same id with different fields raises
    ``ConflictError`` naming the id and the fields; a checkpoint, by contrast, is
    replaced by each save of its name. A refused write raises a
    ``StoreError`` subclass naming the input and the rule, and changes nothing.
    Listings are ordered by time, then id; time ranges are ``[since_ns, until_ns)``.
    """

    # -- orders ----------------------------------------------------------------------------
    def save_order(self, order: OrderRecord) -> bool:
        """Store a new order (status INITIALIZED); return ``False`` if already stored."""
        ...

    def get_order(self, client_order_id: str) -> StoredOrder | None:
        """Return the order with ``client_order_id``, or ``None``."""
        ...

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
        ...

    def append_order_event(self, event: OrderEvent, status: OrderStatus) -> bool:
        """Append ``event`` to its order's history and set the order's ``status``.

        An ``OrderFilled`` also records its fill, in the same transaction; a fill whose
        trade id is already stored changes nothing and returns ``False``.
        """
        ...

    def order_events(self, client_order_id: str) -> list[StoredOrderEvent]:
        """Return the order's history in the order it was appended."""
        ...

    # -- fills -----------------------------------------------------------------------------
    def record_fill(self, fill: FillRecord) -> bool:
        """Store a fill of a stored order; return ``False`` if its trade id already was."""
        ...

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
        ...

    # -- positions and cash ----------------------------------------------------------------
    def upsert_position(self, position: PositionRecord) -> bool:
        """Store the snapshot unless a later one is stored; return whether it was."""
        ...

    def positions(self, account_id: str | None = None) -> list[PositionRecord]:
        """Return the latest snapshots, by account then instrument (flat ones too)."""
        ...

    def append_account_event(self, event: AccountEventRecord) -> bool:
        """Store a cash movement; return ``False`` if its event id already was."""
        ...

    def account_events(
        self, account_id: str, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[AccountEventRecord]:
        """Return an account's cash movements by ``ts_event``, then as appended."""
        ...

    def cash_balances(self, account_id: str) -> dict[str, Decimal]:
        """Return the exact sum of an account's cash movements, per currency."""
        ...

    # -- users and API keys ----------------------------------------------------------------
    def create_user(self, user: UserRecord) -> bool:
        """Store a new user; a taken username raises ``ConflictError``."""
        ...

    def get_user(self, username: str) -> UserRecord | None:
        """Return the user named ``username``, or ``None``."""
        ...

    def list_users(self) -> list[UserRecord]:
        """Return every user, by username."""
        ...

    def disable_user(self, username: str, ts_ns: int) -> UserRecord:
        """Disable a user from ``ts_ns`` (a disabled user keeps its first time)."""
        ...

    def create_api_key(self, key: ApiKeyRecord) -> bool:
        """Store a new API key (its hash) for an existing user."""
        ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Return the API key ``key_id``, or ``None``."""
        ...

    def list_api_keys(self, owner: str) -> list[ApiKeyRecord]:
        """Return a user's API keys, by creation time, then key id."""
        ...

    def revoke_api_key(self, key_id: str, ts_ns: int) -> ApiKeyRecord:
        """Revoke a key from ``ts_ns`` (a revoked key keeps its first time)."""
        ...

    def touch_api_key(self, key_id: str, ts_ns: int) -> None:
        """Record that a key was used at ``ts_ns`` (the latest use is kept)."""
        ...

    # -- backtest jobs ---------------------------------------------------------------------
    def create_job(self, job_id: str, params: Mapping[str, Any], ts_ns: int) -> bool:
        """Queue a backtest job; return ``False`` if the same job was already queued."""
        ...

    def get_job(self, job_id: str) -> BacktestJob | None:
        """Return the job ``job_id``, or ``None``."""
        ...

    def list_jobs(self, status: JobStatus | None = None, *, limit: int = 100) -> list[BacktestJob]:
        """Return jobs, oldest first, optionally of one status."""
        ...

    def start_job(self, job_id: str, ts_ns: int) -> BacktestJob:
        """Move a queued job to running."""
        ...

    def set_job_progress(self, job_id: str, fraction: float) -> BacktestJob:
        """Set a running job's progress, a fraction in [0, 1]."""
        ...

    def finish_job(self, job_id: str, result_path: str, ts_ns: int) -> BacktestJob:
        """Move a running job to done, with where its result is."""
        ...

    def fail_job(self, job_id: str, error: str, ts_ns: int) -> BacktestJob:
        """Move a queued or running job to failed, with why."""
        ...

    # -- checkpoints -----------------------------------------------------------------------
    def save_checkpoint(self, name: str, value: Mapping[str, Any], ts_ns: int) -> None:
        """Store ``value`` under ``name``, replacing what was there (an upsert, atomic).

        ``name`` is 1 to 128 ASCII letters, digits or ``. _ : -``; ``value`` a dict with
        string keys (at every depth) that ``json.dumps(value, allow_nan=False)`` takes,
        at most 64 KiB as JSON; ``ts_ns`` when it was saved, by the caller's clock.
        """
        ...

    def get_checkpoint(self, name: str) -> Checkpoint | None:
        """Return the checkpoint saved under ``name`` (its value a fresh dict), or None."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...
