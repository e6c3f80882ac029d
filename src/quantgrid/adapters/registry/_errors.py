"""What the model registries raise besides the governance errors of `quantgrid.ml`."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of the errors a registry raises for its own reasons (backend failures)."""


class ModelNotFoundError(RegistryError, LookupError):
    """The registry has no such model, version, or version in the asked stage."""
