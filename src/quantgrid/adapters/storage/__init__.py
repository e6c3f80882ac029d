"""Storage: orders, fills, positions, cash, users, API keys and backtest jobs.

``Store`` is the port; ``SqliteStore`` (the default) and ``PostgresStore`` keep it in a
database through SQLAlchemy and Alembic, and ``InMemoryStore`` is its fake for tests.
"""

from quantgrid.adapters.storage._errors import (
    ConflictError,
    InvalidRecordError,
    NotFoundError,
    SchemaError,
    StoreError,
    StoreUnavailableError,
    TransitionError,
)
from quantgrid.adapters.storage._memory import InMemoryStore
from quantgrid.adapters.storage._port import Store
from quantgrid.adapters.storage._records import (
    ORDER_EVENT_TYPES,
    AccountEventKind,
    AccountEventRecord,
    ApiKeyRecord,
    BacktestJob,
    FillRecord,
    JobStatus,
    OrderRecord,
    Page,
    PositionRecord,
    Role,
    StoredOrder,
    StoredOrderEvent,
    UserRecord,
    to_decimal,
)
from quantgrid.adapters.storage._sql import PostgresStore, SqliteStore, SqlStore

__all__ = [
    "ORDER_EVENT_TYPES",
    "AccountEventKind",
    "AccountEventRecord",
    "ApiKeyRecord",
    "BacktestJob",
    "ConflictError",
    "FillRecord",
    "InMemoryStore",
    "InvalidRecordError",
    "JobStatus",
    "NotFoundError",
    "OrderRecord",
    "Page",
    "PositionRecord",
    "PostgresStore",
    "Role",
    "SchemaError",
    "SqlStore",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "StoredOrder",
    "StoredOrderEvent",
    "TransitionError",
    "UserRecord",
    "to_decimal",
]
