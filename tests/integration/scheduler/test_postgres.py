"""The scheduler on PostgreSQL (a schema per test): the same guarantees as on SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from quantgrid.adapters.storage import PostgresStore, SqlStore
from tests.integration.scheduler import scenarios

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def open_store(postgres_url: sa.URL) -> scenarios.OpenStore:
    PostgresStore(postgres_url, auto_migrate=True).close()

    def open_() -> SqlStore:
        return PostgresStore(postgres_url)

    return open_


def database(url: sa.URL) -> str:
    return url.render_as_string(hide_password=False)


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


def test_two_processes_run_each_slot_once(
    postgres_url: sa.URL, open_store: scenarios.OpenStore
) -> None:
    scenarios.check_two_processes_share_the_slots(database(postgres_url), open_store)


async def test_a_killed_process_does_not_run_its_slot_again(
    postgres_url: sa.URL, open_store: scenarios.OpenStore
) -> None:
    await scenarios.check_a_killed_process_is_not_rerun(database(postgres_url), open_store)
