"""The node on PostgreSQL: durable acknowledgements, idempotent retries, recovery."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import sqlalchemy as sa

from quantgrid.adapters.storage import PostgresStore
from quantgrid.core import TestClock
from quantgrid.model import OrderStatus
from tests.unit.node.support import MS, START_NS, limit_buy, market, quote, running_node, trade

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_a_node_on_postgres_recovers_its_orders(postgres_url: sa.URL) -> None:
    store = PostgresStore(postgres_url, auto_migrate=True)
    try:
        async with running_node(store, session_id="one") as node:
            node.on_quote(quote(node.clock))
            results = await asyncio.gather(
                *(node.submit(limit_buy(f"o-{i}", quantity=5, price=99.5)) for i in range(10))
            )
            assert all(r.created for r in results)
            filled = await node.submit(market("m-1", quantity=3))
            assert filled.order.status is OrderStatus.FILLED
            node.on_trade(trade(node.clock, 99.5, 2))  # 2 of o-0
            again = await node.submit(limit_buy("o-0", quantity=5, price=99.5))
            assert not again.created

        clock = TestClock(START_NS + 10_000 * MS)
        async with running_node(store, clock=clock, session_id="two") as node:
            assert sorted(node.recovery.replaced) == sorted(f"o-{i}" for i in range(10))
            assert node.recovery.fills == 2
            assert node.portfolio.position_quantity("AAPL") == 5
            assert len(node.venue.working_orders()) == 10
            again = await node.submit(limit_buy("o-0", quantity=5, price=99.5))
            assert not again.created and again.order.filled_qty == Decimal("2.0")
            cash = await node.cash()
            assert cash.balance == Decimal("100000") - Decimal("300.06") - Decimal("199.0")
            assert node.portfolio.cash == pytest.approx(float(cash.balance), abs=1e-9)
    finally:
        store.close()
