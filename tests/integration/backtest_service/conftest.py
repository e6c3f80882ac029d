"""The backtest service on real databases: a SQLite file, and PostgreSQL when reachable.

PostgreSQL tests get a schema of their own (``postgres_url``, from the storage tests'
fixtures) and skip without a reachable server, except under ``CI=true``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.integration.storage.conftest import postgres_admin, postgres_url

__all__ = ["postgres_admin", "postgres_url"]


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the services use asyncio."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what ``configure_logging`` (called by every service app) does to the root."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    httpx_level = logging.getLogger("httpx").level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)
