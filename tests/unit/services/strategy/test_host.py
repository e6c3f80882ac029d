"""A trading node that is down: start answers 503, reads degrade to ``running: null``."""

from __future__ import annotations

import httpx
import pytest

from quantgrid.adapters.storage import InMemoryStore
from quantgrid.services import DependencyUnavailableError, ServiceSettings
from quantgrid.services.strategy import (
    InMemoryStrategyConfigs,
    StrategyConfig,
    StrategySignal,
    create_app,
)
from tests.unit.services.strategy.callers import Callers

pytestmark = pytest.mark.anyio


class DownHost:
    """A node behind an open circuit breaker."""

    async def start_strategy(self, config: StrategyConfig) -> bool:
        raise DependencyUnavailableError("trading-node", "circuit open", retry_after_s=12)

    async def stop_strategy(self, config_id: str) -> bool:
        raise DependencyUnavailableError("trading-node", "circuit open", retry_after_s=12)

    async def running_strategies(self) -> frozenset[str]:
        raise DependencyUnavailableError("trading-node", "circuit open", retry_after_s=12)

    async def recent_signals(self, config_id: str, limit: int) -> list[StrategySignal]:
        raise DependencyUnavailableError("trading-node", "circuit open", retry_after_s=12)


async def test_a_node_that_is_down_is_a_503_for_actions_and_unknown_for_reads():
    callers = Callers(InMemoryStore())
    app = create_app(
        InMemoryStrategyConfigs(),
        DownHost(),
        settings=ServiceSettings(),
        authenticator=callers.authenticator,
    )
    trader = callers.headers("trader")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://strategy") as client:
        body = {"strategy": "ema_cross", "instruments": ["SPY"]}
        created = await client.post("/strategy-configs", json=body, headers=trader)
        config_id = created.json()["config_id"]
        start = await client.post(f"/strategy-configs/{config_id}/start", headers=trader)
        assert start.status_code == 503
        assert start.headers["retry-after"] == "12"
        assert start.json()["dependency"] == "trading-node"
        listed = (await client.get("/strategy-configs", headers=trader)).json()
        assert [c["running"] for c in listed["items"]] == [None]
        fetched = (await client.get(f"/strategy-configs/{config_id}", headers=trader)).json()
        assert fetched["running"] is None
