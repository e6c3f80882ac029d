"""The backtest service on a SQLite file: the job lifecycle and a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.adapters.storage import SqliteStore, Store
from tests.integration.backtest_service.lifecycle import check_job_lifecycle

pytestmark = pytest.mark.anyio


async def test_job_lifecycle_and_restart_on_sqlite(tmp_path: Path):
    path = tmp_path / "quantgrid.db"

    def open_store() -> Store:
        return SqliteStore(path, auto_migrate=True)

    await check_job_lifecycle(open_store, tmp_path)
