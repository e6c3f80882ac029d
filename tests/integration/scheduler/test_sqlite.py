"""The scheduler on a SQLite file: one run per slot across schedulers, processes, crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.adapters.storage import SqliteStore, SqlStore
from tests.integration.scheduler import scenarios

pytestmark = pytest.mark.anyio


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "quantgrid.db"


@pytest.fixture
def open_store(db_path: Path) -> scenarios.OpenStore:
    SqliteStore(db_path, auto_migrate=True).close()

    def open_() -> SqlStore:
        return SqliteStore(db_path, busy_timeout_s=30)

    return open_


async def test_two_schedulers_on_two_engines_run_each_slot_once(
    open_store: scenarios.OpenStore,
) -> None:
    await scenarios.check_two_schedulers_share_the_slots(open_store)


async def test_a_restart_abandons_the_dead_run_and_catches_up(
    open_store: scenarios.OpenStore,
) -> None:
    await scenarios.check_a_restart_abandons_and_catches_up(open_store)


async def test_a_started_scheduler_records_its_runs(open_store: scenarios.OpenStore) -> None:
    await scenarios.check_a_started_scheduler_runs_on_the_store(open_store)


def test_two_processes_run_each_slot_once(db_path: Path, open_store: scenarios.OpenStore) -> None:
    scenarios.check_two_processes_share_the_slots(str(db_path), open_store)


async def test_a_killed_process_does_not_run_its_slot_again(
    db_path: Path, open_store: scenarios.OpenStore
) -> None:
    await scenarios.check_a_killed_process_is_not_rerun(str(db_path), open_store)
