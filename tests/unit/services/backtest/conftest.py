"""The backtest service under test: an in-memory store, jobs run in a worker thread."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import InMemoryStore, Store
from quantgrid.services.backtest import (
    BacktestSettings,
    InProcessJobRunner,
    JobSpec,
    Outcome,
    create_app,
    execute_job,
)
from tests.unit.services.strategy.callers import Callers

#: A small, fast synthetic backtest.
SMALL = {
    "strategy": "sma_cross",
    "params": {"fast": 5, "slow": 20},
    "data": {"kind": "synthetic", "seed": 3, "bars": 3_000, "instruments": ["SYN0"]},
    "commission": 0.0005,
}


class GatedJobs:
    """A job function the test drives: each job reports 25 %, then waits to be let go.

    Cancellation is honoured while it waits; once let go it runs the real job.
    """

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started: list[str] = []
        self.returned: list[str] = []

    def __call__(
        self, spec: JobSpec, report: Callable[[str, float], None], cancelled: Callable[[], bool]
    ) -> Outcome:
        self.started.append(spec.job_id)
        try:
            return self._run(spec, report, cancelled)
        finally:
            self.returned.append(spec.job_id)

    def _run(
        self, spec: JobSpec, report: Callable[[str, float], None], cancelled: Callable[[], bool]
    ) -> Outcome:
        report(spec.job_id, 0.25)
        for _ in range(3_000):  # at most 30 s
            if cancelled():
                return Outcome("cancelled")
            if self.gate.wait(0.01):
                return execute_job(spec, report, cancelled)
        return Outcome("failed", "the test never opened the gate")


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def callers(store: InMemoryStore) -> Callers:
    return Callers(store)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path) -> BacktestSettings:
    return BacktestSettings(
        backtest_results_dir=tmp_path / "results",
        backtest_data_dir=data_dir,
        backtest_progress_interval_s=0.0,
        backtest_chunk_bars=1_000,
    )


@pytest.fixture
def gate() -> GatedJobs:
    return GatedJobs()


@pytest.fixture
def runner(store: InMemoryStore, settings: BacktestSettings) -> InProcessJobRunner:
    return InProcessJobRunner(store, settings)


@pytest.fixture
def app(
    store: InMemoryStore,
    runner: InProcessJobRunner,
    settings: BacktestSettings,
    callers: Callers,
) -> FastAPI:
    return create_app(store, runner, settings, authenticator=callers.authenticator)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # ASGITransport does not run the lifespan, which starts and stops the runner.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backtest") as client:
            yield client


async def wait_for_job(
    client: httpx.AsyncClient,
    job_id: str,
    done: Callable[[dict[str, Any]], bool],
    headers: dict[str, str],
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Poll the job until ``done(job)``; fail after ``timeout_s``."""
    with anyio.fail_after(timeout_s):
        while True:
            response = await client.get(f"/backtests/{job_id}", headers=headers)
            assert response.status_code == 200, response.text
            job: dict[str, Any] = response.json()
            if done(job):
                return job
            await anyio.sleep(0.02)


def ended(job: dict[str, Any]) -> bool:
    """Return whether a job is done or failed."""
    return job["status"] in ("done", "failed")


def make_app(store: Store, runner: Any, settings: BacktestSettings, callers: Callers) -> FastAPI:
    """Return the service over another store or runner."""
    return create_app(store, runner, settings, authenticator=callers.authenticator)
