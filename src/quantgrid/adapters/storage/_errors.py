"""What a store raises: every error names the input and the rule it broke."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the errors a store raises; nothing already stored is lost by one."""


class InvalidRecordError(StoreError, ValueError):
    """A field breaks a rule (a negative quantity, an unknown role, a bad id)."""


class ConflictError(StoreError):
    """The key is already stored with different fields (an order id, a username...)."""


class NotFoundError(StoreError, LookupError):
    """The record named, or one it refers to, is not stored (a fill's order, say)."""


class TransitionError(StoreError):
    """The change is not allowed from the record's current state (a job already done)."""


class SchemaError(StoreError):
    """The database's schema is not the one this code needs: run ``migrate()``."""


class StoreUnavailableError(StoreError):
    """The database could not be reached or stayed locked: the write did not happen."""
