"""The backtest service and strategy configurations on PostgreSQL (a schema per test)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from quantgrid.adapters.storage import PostgresStore, Store
from quantgrid.services.strategy import SqlStrategyConfigs, StrategyConfig
from tests.integration.backtest_service.lifecycle import check_job_lifecycle

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_job_lifecycle_and_restart_on_postgres(postgres_url: sa.URL, tmp_path: Path):
    def open_store() -> Store:
        return PostgresStore(postgres_url, auto_migrate=True)

    await check_job_lifecycle(open_store, tmp_path)


def test_strategy_configs_keep_their_table_in_the_schema(postgres_url: sa.URL):
    configs = SqlStrategyConfigs(postgres_url)
    try:
        for n in range(3):
            configs.add(
                StrategyConfig(
                    config_id=f"{n:032x}",
                    strategy="sma_cross",
                    params={"fast": 5 + n, "slow": 20, "size": 1.5},
                    instruments=("AAPL", "BTC/USDT"),
                    label="é label" if n else None,
                    created_ns=100,
                    created_by="trader",
                )
            )
        first = configs.list(limit=2)
        assert [c.config_id for c in first.items] == [f"{n:032x}" for n in range(2)]
        rest = configs.list(limit=2, after=first.next_cursor)
        assert [c.params["fast"] for c in rest.items] == [7]
        assert rest.next_cursor is None
        assert configs.get(f"{1:032x}") == first.items[1]
        assert configs.remove(f"{1:032x}")
        assert not configs.remove(f"{1:032x}")
    finally:
        configs.close()
    reopened = SqlStrategyConfigs(postgres_url)  # the table exists: no error
    try:
        assert len(reopened.list().items) == 2
    finally:
        reopened.close()
