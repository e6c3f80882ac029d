"""Fixtures of the paper trading tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the node uses asyncio."""
    return "asyncio"
