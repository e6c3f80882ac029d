"""The storage package's public surface is deliberate: this test changes when it does."""

from __future__ import annotations

from quantgrid.adapters import storage

PUBLIC_API = (
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
)


def test_the_public_api_is_steady():
    assert tuple(storage.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(storage, name) is not None


def test_every_store_error_is_a_store_error():
    for name in PUBLIC_API:
        obj = getattr(storage, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, storage.StoreError)
