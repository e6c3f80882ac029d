"""Fixtures of the live venue adapters' tests: a loopback server, asyncio only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.adapters.venues.loopback import LoopbackServer


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the bridge and ccxt use asyncio."""
    return "asyncio"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """Serve scripted venue answers on 127.0.0.1 for one test."""
    loopback = LoopbackServer()
    loopback.start()
    try:
        yield loopback
    finally:
        loopback.close()
