"""Whatever a client sends, the strategy service answers it without a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import anyio
import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.adapters.storage import InMemoryStore
from quantgrid.services import ServiceSettings
from quantgrid.services.strategy import (
    InMemoryStrategyConfigs,
    InMemoryStrategyHost,
    create_app,
)
from tests.unit.services.strategy.callers import Callers

TEXT = st.text(max_size=12) | st.sampled_from(["\ud800", "\x00", "AAPL", "BTC/USDT"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=12,
)
NAMES = st.sampled_from(["sma_cross", "rsi_mean_reversion", "regime_switch", "x.py:X"]) | TEXT
PARAMS = st.dictionaries(
    st.sampled_from(["fast", "slow", "period", "lower", "upper", "exit", "size", "zzz"]),
    JSON,
    max_size=4,
)
CONFIGS = (
    st.fixed_dictionaries(
        {
            "strategy": NAMES | JSON,
            "params": PARAMS | JSON,
            "instruments": st.lists(TEXT, max_size=3) | JSON,
        },
        optional={"label": JSON},
    )
    | JSON
)


def test_no_body_makes_the_service_answer_500():
    callers = Callers(InMemoryStore())
    app = create_app(
        InMemoryStrategyConfigs(),
        InMemoryStrategyHost(),
        settings=ServiceSettings(),
        authenticator=callers.authenticator,
    )
    headers = {**callers.headers("trader"), "content-type": "application/json"}

    async def send(method: str, url: str, body: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://strategy") as client:
            return await client.request(method, url, content=json.dumps(body), headers=headers)

    @settings(max_examples=150)
    @given(body=CONFIGS)
    def create(body: Any) -> None:
        response = anyio.run(send, "POST", "/strategy-configs", body)
        assert response.status_code in (201, 400, 422), response.text

    @settings(max_examples=150)
    @given(name=NAMES.filter(lambda n: n not in (".", "..")), params=PARAMS | JSON)
    def validate(name: str, params: Any) -> None:
        url = f"/strategies/{quote(name, safe='', errors='surrogatepass')}/validate"
        response = anyio.run(send, "POST", url, {"params": params})
        assert response.status_code in (200, 400, 404, 422), response.text

    create()
    validate()
