"""The fixtures of the execution service's tests: services over a running node."""

from tests.unit.services.execution.conftest import (  # noqa: F401 - fixtures
    anyio_backend,
    apps,
    auth,
    clock,
    execution,
    headers,
    node,
    portfolio,
    risk,
    settings,
    store,
)
