"""The portfolio service over HTTP: positions, cash, P&L and equity history."""

from __future__ import annotations

import importlib
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import Role
from quantgrid.model import QuoteTick
from quantgrid.node import TradingNode
from quantgrid.services import assert_stable_operation_ids
from tests.unit.node.support import MS, market
from tests.unit.services.execution.conftest import Headers

pytestmark = pytest.mark.anyio

PUBLIC = (
    "CashOut",
    "EquityOut",
    "EquityPointOut",
    "PnlOut",
    "PortfolioBackend",
    "PositionOut",
    "SnapshotOut",
    "create_app",
    "portfolio_router",
)


def test_the_public_api_is_stable() -> None:
    assert tuple(importlib.import_module("quantgrid.services.portfolio").__all__) == PUBLIC


async def test_every_route_describes_the_node_being_down(apps: dict[str, FastAPI]) -> None:
    for path, item in apps["portfolio"].openapi()["paths"].items():
        if path.startswith("/portfolio"):
            for operation in item.values():
                assert "503" in operation["responses"], operation["operationId"]


async def test_operation_ids_are_stable(apps: dict[str, FastAPI]) -> None:
    app = apps["portfolio"]
    assert_stable_operation_ids(app)
    ids = {op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()}
    assert ids >= {
        "list_positions",
        "get_cash",
        "get_pnl",
        "get_equity_history",
        "stream_snapshots",
    }


async def test_positions_cash_pnl_and_equity(
    portfolio: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    viewer = headers(Role.VIEWER)
    node.on_quote(QuoteTick("AAPL", node.clock.timestamp_ns() + MS, 100.0, 100.02, 500, 500))
    await node.submit(market("m-1", quantity=10))
    node.on_quote(
        QuoteTick("AAPL", node.clock.timestamp_ns() + 2_000 * MS, 101.0, 101.02, 500, 500)
    )
    (position,) = (await portfolio.get("/portfolio/positions", headers=viewer)).json()
    assert (position["instrument_id"], position["quantity"]) == ("AAPL", 10.0)
    assert position["unrealized_pnl"] == pytest.approx(9.9)
    cash = (await portfolio.get("/portfolio/cash", headers=viewer)).json()
    assert Decimal(cash["balance"]) == Decimal("98999.8")
    assert cash["cash"] == pytest.approx(98999.8)
    pnl = (await portfolio.get("/portfolio/pnl", headers=viewer)).json()
    assert pnl["capital"] == 100_000
    assert pnl["total"] == pytest.approx(pnl["equity"] - 100_000)
    equity = (await portfolio.get("/portfolio/equity", headers=viewer)).json()
    assert len(equity["points"]) >= 3
    assert equity["points"][-1]["equity"] == pytest.approx(pnl["equity"])
    latest = (await portfolio.get("/portfolio/equity", params={"limit": 1}, headers=viewer)).json()
    assert latest["points"] == equity["points"][-1:]


@pytest.mark.parametrize(
    "path", ["/portfolio/positions", "/portfolio/cash", "/portfolio/pnl", "/portfolio/equity"]
)
async def test_every_route_needs_a_caller(
    portfolio: httpx.AsyncClient, headers: Headers, path: str
) -> None:
    assert (await portfolio.get(path)).status_code == 401
    assert (await portfolio.get(path, headers=headers(Role.VIEWER))).status_code == 200
