"""Storage: orders, fills, positions, cash, users, API keys, backtest jobs, predictions
and their outcomes, runs of recurring jobs, and named checkpoints of runtime state.

``Store``, ``PredictionStore`` and ``JobRunStore`` are the ports; ``SqliteStore`` (the
default) and ``PostgresStore`` keep them in a database through SQLAlchemy and Alembic,
and ``InMemoryStore`` is their fake for tests.
"""

from quantgrid.adapters.storage._checkpoints import Checkpoint
from quantgrid.adapters.storage._errors import (
    ConflictError,
    InvalidRecordError,
    NotFoundError,
    SchemaError,
    StoreError,
    StoreUnavailableError,
    TransitionError,
)
from quantgrid.adapters.storage._jobs import JobRun, JobRunStatus, JobRunStore
from quantgrid.adapters.storage._memory import InMemoryStore
from quantgrid.adapters.storage._port import Store
from quantgrid.adapters.storage._prediction_port import PredictionStore
from quantgrid.adapters.storage._prediction_sink import StorePredictionSink
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
    StoredPrediction,
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
    "Checkpoint",
    "ConflictError",
    "FillRecord",
    "InMemoryStore",
    "InvalidRecordError",
    "JobRun",
    "JobRunStatus",
    "JobRunStore",
    "JobStatus",
    "NotFoundError",
    "OrderRecord",
    "Page",
    "PositionRecord",
    "PostgresStore",
    "PredictionStore",
    "Role",
    "SchemaError",
    "SqlStore",
    "SqliteStore",
    "Store",
    "StoreError",
    "StorePredictionSink",
    "StoreUnavailableError",
    "StoredOrder",
    "StoredOrderEvent",
    "StoredPrediction",
    "TransitionError",
    "UserRecord",
    "to_decimal",
]
