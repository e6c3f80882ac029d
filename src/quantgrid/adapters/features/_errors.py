"""What the feature stores raise."""

from __future__ import annotations


class FeatureStoreError(Exception):
    """Base of every error a feature store raises."""


class FeatureSchemaError(FeatureStoreError, ValueError):
    """Features whose names differ from the ones already stored under that key."""


class FeaturesNotFoundError(FeatureStoreError, LookupError):
    """Nothing is stored for that feature set and instrument."""


class FeatureStoreUnavailableError(FeatureStoreError):
    """The store's server cannot be reached."""
