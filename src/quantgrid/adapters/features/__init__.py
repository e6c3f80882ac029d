"""Feature stores: frames on Parquet for training, latest rows in memory or Redis for serving.

`ParquetFeatureStore` keeps every row of a feature set per instrument and answers
point-in-time reads and joins. `OnlineFeatureStore` is the serving port, implemented by
`MemoryOnlineStore` and `RedisOnlineStore`.
"""

from quantgrid.adapters.features._errors import (
    FeatureSchemaError,
    FeaturesNotFoundError,
    FeatureStoreError,
    FeatureStoreUnavailableError,
)
from quantgrid.adapters.features._online import MemoryOnlineStore, OnlineFeatureStore
from quantgrid.adapters.features._parquet import ParquetFeatureStore
from quantgrid.adapters.features._redis import RedisOnlineStore

__all__ = [
    "FeatureSchemaError",
    "FeatureStoreError",
    "FeatureStoreUnavailableError",
    "FeaturesNotFoundError",
    "MemoryOnlineStore",
    "OnlineFeatureStore",
    "ParquetFeatureStore",
    "RedisOnlineStore",
]
