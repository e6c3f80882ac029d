"""The backtest service on real databases: a SQLite file, and PostgreSQL when reachable.

PostgreSQL tests get a schema of their own (``postgres_url``, from the storage tests'
fixtures) and skip without a reachable server, except under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.storage.conftest import postgres_admin, postgres_url
from tests.unit.services.conftest import logging_restored

__all__ = ["postgres_admin", "postgres_url"]


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the services use asyncio."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what ``configure_logging`` (called by every service app) does to the root."""
    with logging_restored():
        yield
