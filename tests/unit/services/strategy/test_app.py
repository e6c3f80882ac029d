"""The strategy service over HTTP: catalogue, checks, configurations, start and stop."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.services import PROBLEM_JSON, ServiceSettings, assert_stable_operation_ids
from quantgrid.services.strategy import (
    InMemoryStrategyConfigs,
    InMemoryStrategyHost,
    ReplayProgress,
    StrategySignal,
    StrategyStartError,
    create_app,
)
from quantgrid.strategy import BUILTIN_STRATEGIES
from tests.unit.services.strategy.callers import Callers
from tests.unit.services.strategy.conftest import START_NS

pytestmark = pytest.mark.anyio

CONFIG = {"strategy": "sma_cross", "params": {"fast": 5}, "instruments": ["AAPL", "MSFT"]}
OPERATION_IDS = {
    "list_strategies",
    "get_strategy",
    "validate_strategy_params",
    "create_strategy_config",
    "list_strategy_configs",
    "get_strategy_config",
    "delete_strategy_config",
    "start_strategy",
    "stop_strategy",
    "list_strategy_signals",
    "get_replay",
    "health",
    "health_dependencies",
}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


def fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


async def create(client: httpx.AsyncClient, callers: Callers, **changes: Any) -> dict[str, Any]:
    response = await client.post(
        "/strategy-configs", json={**CONFIG, **changes}, headers=callers.headers("trader")
    )
    assert response.status_code == 201, response.text
    config: dict[str, Any] = response.json()
    return config


# -- the catalogue ---------------------------------------------------------------------------
async def test_every_registered_strategy_is_listed_with_its_parameter_schema(
    client: httpx.AsyncClient, callers: Callers
):
    response = await client.get("/strategies", headers=callers.headers("viewer"))
    assert response.status_code == 200
    items = {s["name"]: s for s in response.json()["items"]}
    assert set(items) == set(BUILTIN_STRATEGIES) >= {
        "sma_cross", "ema_cross", "rsi_mean_reversion", "regime_switch"
    }  # fmt: skip
    sma = items["sma_cross"]
    assert sma["summary"]
    assert sma["params_schema"]["properties"]["fast"]["minimum"] == 1
    assert sma["params_schema"]["additionalProperties"] is False


async def test_one_strategy_is_described_and_an_unknown_one_is_404(
    client: httpx.AsyncClient, callers: Callers
):
    viewer = callers.headers("viewer")
    rsi = (await client.get("/strategies/rsi_mean_reversion", headers=viewer)).json()
    assert "period" in rsi["params_schema"]["properties"]
    problem = assert_problem(await client.get("/strategies/nope", headers=viewer), 404)
    assert problem["type"] == "urn:quantgrid:problem:strategy-not-found"
    assert "sma_cross" in problem["detail"]


async def test_valid_params_come_back_with_their_defaults(
    client: httpx.AsyncClient, callers: Callers
):
    response = await client.post(
        "/strategies/sma_cross/validate",
        json={"params": {"fast": "7"}},
        headers=callers.headers("viewer"),
    )
    assert response.json() == {
        "strategy": "sma_cross",
        "params": {"fast": 7, "slow": 20, "size": None},
    }


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"period": 1}, "body.params.period", "greater_than_equal"),
        ({"lower": 120}, "body.params.lower", "less_than"),
        ({"allow_short": "perhaps"}, "body.params.allow_short", "bool_parsing"),
        ({"speed": 1}, "body.params.speed", "extra_forbidden"),
        ({"lower": 60, "exit": 50}, "body.params", "value_error"),
        (
            {"size": [1, [2, [3, [4, [5, [6, [7, [8, [9]]]]]]]]]},
            "body.params.size.1.1.1.1.1.1.1",
            "max_depth",
        ),
    ],
)
async def test_invalid_params_are_422_naming_the_param(
    client: httpx.AsyncClient, callers: Callers, params, field, rule
):
    response = await client.post(
        "/strategies/rsi_mean_reversion/validate",
        json={"params": params},
        headers=callers.headers("viewer"),
    )
    problem = assert_problem(response, 422)
    assert (problem["errors"][0]["field"], problem["errors"][0]["rule"]) == (field, rule)
    assert field in problem["detail"]


async def test_validating_for_an_unknown_strategy_is_404(
    client: httpx.AsyncClient, callers: Callers
):
    response = await client.post(
        "/strategies/x.py:X/validate", json={"params": {}}, headers=callers.headers("viewer")
    )
    assert_problem(response, 404)


# -- configurations --------------------------------------------------------------------------
async def test_a_configuration_is_kept_with_its_params_checked(
    client: httpx.AsyncClient, callers: Callers
):
    config = await create(client, callers, label="tech pair")
    assert config["params"] == {"fast": 5, "slow": 20, "size": None}
    assert config["instruments"] == ["AAPL", "MSFT"]
    assert config["created_by"] == "trader"
    assert config["created_ns"] == START_NS
    assert config["running"] is False
    viewer = callers.headers("viewer")
    fetched = await client.get(f"/strategy-configs/{config['config_id']}", headers=viewer)
    assert fetched.json() == config


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "nope"}, "body.strategy"),
        ({"params": {"fast": 50}}, "body.params"),
        ({"params": {"slow": "many"}}, "body.params.slow"),
        ({"instruments": []}, "body.instruments"),
        ({"instruments": ["AAPL", "AAPL"]}, "body.instruments.1"),
        ({"instruments": ["bad id"]}, "body.instruments.0"),
        ({"label": ""}, "body.label"),
    ],
)
async def test_bad_configurations_are_422_naming_the_field(
    client: httpx.AsyncClient, callers: Callers, configs, change, field
):
    response = await client.post(
        "/strategy-configs", json={**CONFIG, **change}, headers=callers.headers("trader")
    )
    assert field in fields(assert_problem(response, 422))
    assert configs.list().items == ()


async def test_configurations_are_listed_by_page(client: httpx.AsyncClient, callers: Callers):
    ids = [(await create(client, callers))["config_id"] for _ in range(3)]
    viewer = callers.headers("viewer")
    first = (await client.get("/strategy-configs?limit=2", headers=viewer)).json()
    second = (
        await client.get(
            "/strategy-configs", params={"after": first["next_cursor"]}, headers=viewer
        )
    ).json()
    assert [c["config_id"] for c in first["items"] + second["items"]] == sorted(ids)
    assert second["next_cursor"] is None
    bad = await client.get("/strategy-configs?after=nonsense", headers=viewer)
    assert fields(assert_problem(bad, 422)) == {"query.after"}


async def test_unknown_configurations_are_404(client: httpx.AsyncClient, callers: Callers):
    trader = callers.headers("trader")
    for method, path in [
        ("GET", "/strategy-configs/nope"),
        ("DELETE", "/strategy-configs/nope"),
        ("POST", "/strategy-configs/nope/start"),
        ("POST", "/strategy-configs/nope/stop"),
        ("GET", "/strategy-configs/nope/signals"),
    ]:
        problem = assert_problem(await client.request(method, path, headers=trader), 404)
        assert problem["type"] == "urn:quantgrid:problem:strategy-config-not-found"


# -- the trading node ------------------------------------------------------------------------
async def test_a_configuration_starts_stops_and_shows_its_signals(
    client: httpx.AsyncClient, callers: Callers, host: InMemoryStrategyHost
):
    trader, viewer = callers.headers("trader"), callers.headers("viewer")
    config_id = (await create(client, callers))["config_id"]
    base = f"/strategy-configs/{config_id}"

    started = (await client.post(f"{base}/start", headers=trader)).json()
    assert started == {"config_id": config_id, "running": True, "changed": True}
    again = (await client.post(f"{base}/start", headers=trader)).json()
    assert again["changed"] is False
    assert (await client.get(base, headers=viewer)).json()["running"] is True
    listed = (await client.get("/strategy-configs", headers=viewer)).json()
    assert [c["running"] for c in listed["items"]] == [True]

    for n in range(3):
        host.record_signal(
            StrategySignal(config_id, "AAPL", "BUY", "MARKET", 10.0, None, START_NS + n)
        )
    signals = (await client.get(f"{base}/signals?limit=2", headers=viewer)).json()
    assert [s["ts_event"] for s in signals["items"]] == [START_NS + 2, START_NS + 1]
    assert signals["items"][0]["side"] == "BUY"

    problem = assert_problem(await client.delete(base, headers=trader), 409)
    assert problem["type"] == "urn:quantgrid:problem:strategy-config-running"
    stopped = (await client.post(f"{base}/stop", headers=trader)).json()
    assert stopped == {"config_id": config_id, "running": False, "changed": True}
    assert (await client.post(f"{base}/stop", headers=trader)).json()["changed"] is False
    assert (await client.delete(base, headers=trader)).status_code == 204
    assert_problem(await client.get(base, headers=viewer), 404)


async def test_without_a_trading_node_start_stop_and_signals_are_503(
    headless: httpx.AsyncClient, callers: Callers
):
    config = await create(headless, callers)
    assert config["running"] is None
    base = f"/strategy-configs/{config['config_id']}"
    trader = callers.headers("trader")
    for method, path in [("POST", "/start"), ("POST", "/stop"), ("GET", "/signals")]:
        response = await headless.request(method, base + path, headers=trader)
        problem = assert_problem(response, 503)
        assert problem["detail"] == "trading-node: no trading node configured"
        assert problem["dependency"] == "trading-node"
    assert (await headless.get(base, headers=trader)).json()["running"] is None
    assert (await headless.delete(base, headers=trader)).status_code == 204


# -- roles and OpenAPI -----------------------------------------------------------------------
async def test_viewers_read_and_traders_configure_start_and_stop(
    client: httpx.AsyncClient, callers: Callers
):
    assert_problem(await client.get("/strategies"), 401)
    viewer = callers.headers("viewer")
    assert (await client.get("/strategies", headers=viewer)).status_code == 200
    assert_problem(await client.post("/strategy-configs", json=CONFIG, headers=viewer), 403)
    config_id = (await create(client, callers))["config_id"]
    for action in ("start", "stop"):
        response = await client.post(f"/strategy-configs/{config_id}/{action}", headers=viewer)
        assert_problem(response, 403)
    assert_problem(await client.delete(f"/strategy-configs/{config_id}", headers=viewer), 403)
    assert (await client.get(f"/strategy-configs/{config_id}", headers=viewer)).status_code == 200


def test_the_description_names_the_problems_each_route_answers(app: FastAPI):
    paths = app.openapi()["paths"]
    problems = {
        ("get", "/strategies/{name}"): {"404"},
        ("post", "/strategies/{name}/validate"): {"404", "422"},
        ("post", "/strategy-configs"): {"422", "503"},
        ("get", "/strategy-configs/{config_id}"): {"404", "503"},
        ("delete", "/strategy-configs/{config_id}"): {"404", "409", "503"},
        ("post", "/strategy-configs/{config_id}/start"): {"404", "409", "503"},
        ("post", "/strategy-configs/{config_id}/stop"): {"404", "503"},
        ("get", "/strategy-configs/{config_id}/signals"): {"404", "503"},
    }

    for (method, path), statuses in problems.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path)
        assert all(PROBLEM_JSON in responses[s]["content"] for s in statuses), (method, path)


def test_operation_ids_are_stable(app: FastAPI):
    assert_stable_operation_ids(app)
    ids = {
        operation["operationId"]
        for path_item in app.openapi()["paths"].values()
        for operation in path_item.values()
    }
    assert ids == OPERATION_IDS


async def test_the_replay_says_how_far_it_has_got(callers: Callers) -> None:
    progress = ReplayProgress("playing", START_NS, 12, 100, 60.0)
    app = create_app(
        InMemoryStrategyConfigs(),
        InMemoryStrategyHost(),
        settings=ServiceSettings(),
        authenticator=callers.authenticator,
        replay=lambda: progress,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://strategy") as client:
        response = await client.get("/replay", headers=callers.headers("viewer"))
        assert response.status_code == 200
        assert response.json() == {
            "state": "playing",
            "market_time_ns": START_NS,
            "market_time": "2024-01-01T00:00:00Z",
            "played": 12,
            "total": 100,
            "speed": 60.0,
            "error": None,
        }
        assert (await client.get("/replay")).status_code == 401


async def test_without_a_replay_it_is_a_404_saying_how_to_start_one(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    response = await client.get("/replay", headers=callers.headers("viewer"))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "paper-trade in `quantgrid up`" in response.json()["detail"]


async def test_a_strategy_that_cannot_start_is_a_409_saying_why(callers: Callers) -> None:
    class Refusing(InMemoryStrategyHost):
        async def start_strategy(self, config: Any) -> bool:
            raise StrategyStartError(f"strategy {config.config_id} (ml) not started: no model")

    app = create_app(
        InMemoryStrategyConfigs(),
        Refusing(),
        settings=ServiceSettings(),
        authenticator=callers.authenticator,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://strategy") as client:
        trader = callers.headers("trader")
        made = await client.post("/strategy-configs", json=CONFIG, headers=trader)
        assert made.status_code == 201
        config_id = made.json()["config_id"]
        response = await client.post(f"/strategy-configs/{config_id}/start", headers=trader)
        problem = assert_problem(response, 409)
        assert problem["detail"].endswith("not started: no model")
        assert problem["type"].endswith("strategy-not-started")
