"""The risk service over HTTP: approval, limits, states, VaR, correlation, sizing."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import Role
from quantgrid.model import QuoteTick
from quantgrid.node import TradingNode
from quantgrid.risk import (
    ewma_correlation,
    historical_cvar,
    historical_var,
    kelly_fraction,
    monte_carlo_var,
    parametric_var,
)
from quantgrid.services import PROBLEM_JSON, assert_stable_operation_ids
from tests.unit.node.support import MS, market
from tests.unit.services.execution.conftest import Headers

pytestmark = pytest.mark.anyio

ORDER = {
    "instrument_id": "AAPL",
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": "10",
    "price": "99.5",
}
RETURNS = [float(x) for x in np.random.default_rng(7).normal(0.0005, 0.01, 250)]
PUBLIC = (
    "ApprovalOut",
    "CorrelationBody",
    "CorrelationOut",
    "DenialOut",
    "InstrumentLimitsBody",
    "KellyBody",
    "KellyReturnsBody",
    "KillOut",
    "PositionSizeOut",
    "ReasonBody",
    "RiskBackend",
    "RiskLimits",
    "RiskStateOut",
    "VarBody",
    "VarOut",
    "VolTargetBody",
    "create_app",
    "risk_router",
)


def test_the_public_api_is_stable() -> None:
    assert tuple(importlib.import_module("quantgrid.services.risk").__all__) == PUBLIC


async def test_every_route_describes_the_node_being_down(apps: dict[str, FastAPI]) -> None:
    for item in apps["risk"].openapi()["paths"].values():
        for operation in item.values():
            if operation["operationId"].startswith("health"):
                continue
            assert PROBLEM_JSON in operation["responses"]["503"]["content"], operation


async def test_operation_ids_are_stable(apps: dict[str, FastAPI]) -> None:
    app = apps["risk"]
    assert_stable_operation_ids(app)
    ids = {op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()}
    assert ids >= {
        "approve_order",
        "get_risk_limits",
        "set_risk_limits",
        "get_trading_state",
        "halt_trading",
        "resume_trading",
        "kill_switch",
        "portfolio_var",
        "correlation_matrix",
        "position_size",
    }


async def test_approve_is_a_dry_run(
    risk: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    ok = await risk.post("/risk/approve", json=ORDER, headers=headers(Role.VIEWER))
    assert ok.json() == {"approved": True, "state": "ACTIVE", "denial": None}
    big = await risk.post(
        "/risk/approve", json={**ORDER, "quantity": "2000"}, headers=headers(Role.VIEWER)
    )
    denial = big.json()["denial"]
    assert (denial["check"], denial["value"], denial["limit"]) == (
        "max_order_quantity",
        2000.0,
        1000.0,
    )
    assert node.execution.orders == ()


async def test_limits_are_read_by_viewers_and_changed_by_admins(
    risk: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    limits = (await risk.get("/risk/limits", headers=headers(Role.VIEWER))).json()
    assert limits["max_order_quantity"] == 1000
    limits.update(max_position=50, per_instrument={"AAPL": {"max_order_quantity": 5}})
    refused = await risk.put("/risk/limits", json=limits, headers=headers(Role.TRADER))
    assert refused.status_code == 403
    changed = await risk.put("/risk/limits", json=limits, headers=headers(Role.ADMIN))
    assert changed.status_code == 200, changed.text
    assert changed.json()["per_instrument"]["AAPL"]["max_order_quantity"] == 5
    assert node.risk.config.limits_for("AAPL").max_order_quantity == 5
    bad = await risk.put(
        "/risk/limits",
        json={"reduce_at_drawdown": 0.3, "halt_at_drawdown": 0.2},
        headers=headers(Role.ADMIN),
    )
    assert bad.status_code == 422
    assert "halt_at_drawdown" in bad.json()["detail"]


async def test_halt_resume_and_kill_need_an_admin(
    risk: httpx.AsyncClient, execution: httpx.AsyncClient, headers: Headers
) -> None:
    await execution.post(
        "/orders", json={**ORDER, "client_order_id": "o-1"}, headers=headers(Role.TRADER)
    )
    assert (await risk.post("/risk/halt", headers=headers(Role.TRADER))).status_code == 403
    halted = await risk.post("/risk/halt", json={"reason": "lunch"}, headers=headers(Role.ADMIN))
    assert halted.json()["state"] == "HALTED"
    assert halted.json()["reason"] == "admin: lunch"
    denied = await execution.post(
        "/orders", json={**ORDER, "client_order_id": "o-2"}, headers=headers(Role.TRADER)
    )
    assert denied.status_code == 422 and denied.json()["check"] == "halted"
    resumed = await risk.post("/risk/resume", headers=headers(Role.ADMIN))
    assert resumed.json()["state"] == "ACTIVE"
    killed = await risk.post("/risk/kill", json={"reason": "test"}, headers=headers(Role.ADMIN))
    assert killed.json()["canceled"] == ["o-1"]
    assert killed.json()["state"]["state"] == "HALTED"
    state = await risk.get("/risk/state", headers=headers(Role.VIEWER))
    assert state.json()["denied_orders"] == 1


async def test_var_of_given_returns_matches_the_core(
    risk: httpx.AsyncClient, headers: Headers
) -> None:
    viewer = headers(Role.VIEWER)
    historical = (
        await risk.post("/risk/var", json={"returns": RETURNS, "confidence": 0.95}, headers=viewer)
    ).json()
    assert historical["var"] == pytest.approx(historical_var(RETURNS, 0.95))
    assert historical["cvar"] == pytest.approx(historical_cvar(RETURNS, 0.95))
    assert historical["var_amount"] == pytest.approx(historical["var"] * 100_000)
    parametric = (
        await risk.post(
            "/risk/var",
            json={"returns": RETURNS, "method": "parametric", "horizon": 10},
            headers=viewer,
        )
    ).json()
    assert parametric["var"] == pytest.approx(parametric_var(RETURNS, 0.99, 10))
    matrix = np.column_stack([RETURNS, RETURNS[::-1]]).tolist()
    body = {
        "returns_matrix": matrix,
        "weights": [0.6, 0.4],
        "method": "monte_carlo",
        "seed": 3,
        "n_paths": 5000,
    }
    mc = (await risk.post("/risk/var", json=body, headers=viewer)).json()
    assert mc["var"] == pytest.approx(monte_carlo_var(matrix, [0.6, 0.4], 0.99, 1, 5000, 3))
    assert mc["source"] == "returns_matrix"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),  # the node has no equity history yet
        ({"returns": [0.01, 0.01], "method": "parametric"}, "body.returns"),
        ({"returns_matrix": [[0.1, 0.2], [0.3]]}, "body.returns_matrix"),
        ({"returns_matrix": [[0.1, 0.2], [0.3, 0.1]], "weights": [1.0]}, "body.weights"),
        ({"returns": RETURNS, "weights": [1.0]}, "body.weights"),
        ({"returns": RETURNS, "confidence": 1.0}, "body.confidence"),
    ],
)
async def test_var_refusals_name_the_field(
    risk: httpx.AsyncClient, headers: Headers, body: dict[str, Any], field: str
) -> None:
    response = await risk.post("/risk/var", json=body, headers=headers(Role.VIEWER))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["errors"][0]["field"] == field


async def test_var_from_the_equity_history(
    risk: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    node.on_quote(QuoteTick("AAPL", node.clock.timestamp_ns() + MS, 100.0, 100.02, 500, 500))
    await node.submit(market("m-1", quantity=100))
    for i in range(30):
        mid = 100 + (i % 7) * 0.1
        node.on_quote(
            QuoteTick(
                "AAPL",
                node.clock.timestamp_ns() + 2_000 * MS,
                round(mid, 2),
                round(mid + 0.02, 2),
                500,
                500,
            )
        )
    body = (await risk.post("/risk/var", json={}, headers=headers(Role.VIEWER))).json()
    assert body["source"] == "equity_history" and body["observations"] >= 30


async def test_correlation_matrices(risk: httpx.AsyncClient, headers: Headers) -> None:
    rng = np.random.default_rng(1)
    matrix = rng.normal(0, 0.01, (120, 3))
    matrix[:, 1] += matrix[:, 0]
    rows = matrix.tolist()
    viewer = headers(Role.VIEWER)
    sample = (
        await risk.post(
            "/risk/correlation",
            json={"returns_matrix": rows, "labels": ["A", "B", "C"]},
            headers=viewer,
        )
    ).json()
    assert sample["labels"] == ["A", "B", "C"]
    assert np.allclose(sample["matrix"], np.corrcoef(matrix, rowvar=False))
    rolling = (
        await risk.post(
            "/risk/correlation",
            json={"returns_matrix": rows, "method": "rolling", "window": 30},
            headers=viewer,
        )
    ).json()
    assert np.allclose(rolling["matrix"], np.corrcoef(matrix[-30:], rowvar=False))
    ewma = (
        await risk.post(
            "/risk/correlation", json={"returns_matrix": rows, "method": "ewma"}, headers=viewer
        )
    ).json()
    assert np.allclose(ewma["matrix"], ewma_correlation(matrix)[-1])
    constant = (
        await risk.post(
            "/risk/correlation", json={"returns_matrix": [[0.1, 0.0]] * 5}, headers=viewer
        )
    ).json()
    assert constant["matrix"][0][1] is None
    mismatch = await risk.post(
        "/risk/correlation", json={"returns_matrix": rows, "labels": ["A"]}, headers=viewer
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["errors"][0]["field"] == "body.labels"


async def test_position_sizes(risk: httpx.AsyncClient, headers: Headers, node: TradingNode) -> None:
    viewer = headers(Role.VIEWER)
    kelly = (
        await risk.post(
            "/risk/position-size",
            json={"method": "kelly", "win_rate": 0.55, "win_loss_ratio": 1.5},
            headers=viewer,
        )
    ).json()
    assert kelly["fraction"] == pytest.approx(kelly_fraction(0.55, 1.5))
    from_returns = await risk.post(
        "/risk/position-size",
        json={"method": "kelly_returns", "returns": RETURNS, "cap": 2},
        headers=viewer,
    )
    assert from_returns.status_code == 200
    missing = await risk.post(
        "/risk/position-size",
        json={
            "method": "vol_target",
            "target_annual_vol": 0.1,
            "asset_vol": 0.2,
            "instrument_id": "AAPL",
        },
        headers=viewer,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.price"
    node.on_quote(QuoteTick("AAPL", node.clock.timestamp_ns() + MS, 100.0, 100.02, 500, 500))
    sized = (
        await risk.post(
            "/risk/position-size",
            json={
                "method": "vol_target",
                "target_annual_vol": 0.1,
                "asset_vol": 0.2,
                "instrument_id": "AAPL",
            },
            headers=viewer,
        )
    ).json()
    assert sized["quantity"] == int(0.1 * 100_000 / (0.2 * 100.01))
    unknown = await risk.post("/risk/position-size", json={"method": "martingale"}, headers=viewer)
    assert unknown.status_code == 422


RISK_ROUTES = [
    ("POST", "/risk/approve", Role.VIEWER, ORDER),
    ("GET", "/risk/limits", Role.VIEWER, None),
    ("PUT", "/risk/limits", Role.ADMIN, {"max_order_quantity": 10}),
    ("GET", "/risk/state", Role.VIEWER, None),
    ("POST", "/risk/halt", Role.ADMIN, None),
    ("POST", "/risk/resume", Role.ADMIN, None),
    ("POST", "/risk/kill", Role.ADMIN, None),
    ("POST", "/risk/var", Role.VIEWER, {"returns": RETURNS}),
    ("POST", "/risk/correlation", Role.VIEWER, {"returns_matrix": [[0.1, 0.2], [0.2, 0.1]]}),
    (
        "POST",
        "/risk/position-size",
        Role.VIEWER,
        {"method": "kelly", "win_rate": 0.5, "win_loss_ratio": 2},
    ),
]


@pytest.mark.parametrize(("method", "path", "minimum", "body"), RISK_ROUTES)
async def test_every_risk_route_checks_the_caller(
    risk: httpx.AsyncClient,
    headers: Headers,
    method: str,
    path: str,
    minimum: Role,
    body: dict[str, Any] | None,
) -> None:
    assert (await risk.request(method, path, json=body)).status_code == 401
    for below in [r for r in (Role.VIEWER, Role.TRADER) if minimum is Role.ADMIN]:
        refused = await risk.request(method, path, json=body, headers=headers(below))
        assert refused.status_code == 403
    allowed = await risk.request(method, path, json=body, headers=headers(minimum))
    assert allowed.status_code == 200, allowed.text
