"""What the caches raise."""

from __future__ import annotations


class CacheError(Exception):
    """Base of every error a cache adapter raises."""


class CacheUnavailableError(CacheError):
    """The cache server cannot be reached."""
