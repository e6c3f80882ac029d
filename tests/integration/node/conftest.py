"""PostgreSQL schemas of their own for the node's integration tests (see storage's)."""

import pytest

from tests.integration.storage.conftest import postgres_admin, postgres_url  # noqa: F401


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
