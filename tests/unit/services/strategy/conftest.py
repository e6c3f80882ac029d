"""The strategy service under test: in-memory configurations and a fake trading node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import InMemoryStore
from quantgrid.core import TestClock
from quantgrid.services import ServiceSettings
from quantgrid.services.strategy import (
    InMemoryStrategyConfigs,
    InMemoryStrategyHost,
    create_app,
)
from tests.unit.services.strategy.callers import Callers

START_NS = 1_704_067_200_000_000_000


@pytest.fixture
def callers() -> Callers:
    return Callers(InMemoryStore())


@pytest.fixture
def host() -> InMemoryStrategyHost:
    return InMemoryStrategyHost()


@pytest.fixture
def configs() -> InMemoryStrategyConfigs:
    return InMemoryStrategyConfigs()


@pytest.fixture
def app(configs: InMemoryStrategyConfigs, host: InMemoryStrategyHost, callers: Callers) -> FastAPI:
    return create_app(
        configs,
        host,
        settings=ServiceSettings(),
        authenticator=callers.authenticator,
        clock=TestClock(START_NS),
    )


@pytest.fixture
def headless_app(configs: InMemoryStrategyConfigs, callers: Callers) -> FastAPI:
    """The service with no trading node configured."""
    return create_app(configs, settings=ServiceSettings(), authenticator=callers.authenticator)


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://strategy") as client:
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(app):
        yield client


@pytest.fixture
async def headless(headless_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(headless_app):
        yield client
