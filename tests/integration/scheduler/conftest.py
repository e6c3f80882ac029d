"""The scheduler on real databases: a SQLite file, and PostgreSQL when reachable.

PostgreSQL tests get a schema of their own (``postgres_url``, from the storage tests'
fixtures) and skip without a reachable server, except under ``CI=true``.
"""

from __future__ import annotations

import pytest

from tests.integration.storage.conftest import postgres_admin, postgres_url

__all__ = ["postgres_admin", "postgres_url"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
