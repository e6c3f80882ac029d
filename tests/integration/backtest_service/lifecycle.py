"""The job lifecycle over HTTP, on whatever store a test opens: shared by SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

from quantgrid.adapters.storage import JobStatus, Store
from quantgrid.services.backtest import (
    INTERRUPTED,
    BacktestRequest,
    BacktestSettings,
    InProcessJobRunner,
    create_app,
)
from tests.unit.services.strategy.callers import Callers

SMALL = {
    "strategy": "ema_cross",
    "params": {"fast": 8, "slow": 30},
    "data": {"kind": "synthetic", "seed": 11, "bars": 2_000, "instruments": ["SYN0", "SYN1"]},
}


async def _wait(
    client: httpx.AsyncClient, job_id: str, headers: dict[str, str], timeout_s: float = 60
) -> dict[str, Any]:
    with anyio.fail_after(timeout_s):
        while True:
            job: dict[str, Any] = (await client.get(f"/backtests/{job_id}", headers=headers)).json()
            if job["status"] in ("done", "failed"):
                return job
            await anyio.sleep(0.05)


async def check_job_lifecycle(open_store: Callable[[], Store], tmp_path: Path) -> None:
    """Submit, follow, read and list a job; then restart on a job left running."""
    settings = BacktestSettings(
        backtest_results_dir=tmp_path / "results", backtest_progress_interval_s=0.0
    )
    store = open_store()
    callers = Callers(store)
    trader, viewer = callers.headers("trader"), callers.headers("viewer")
    app = create_app(
        store, InProcessJobRunner(store, settings), settings, authenticator=callers.authenticator
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://backtest") as client,
    ):
        response = await client.post("/backtests", json=SMALL, headers=trader)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        job = await _wait(client, job_id, viewer)
        assert job["status"] == "done", job["error"]
        assert job["request"]["params"] == {"fast": 8, "slow": 30, "size": None}
        results = (await client.get(f"/backtests/{job_id}/results", headers=viewer)).json()
        assert results["stats"]["instruments"] == ["SYN0", "SYN1"]
        report = await client.get(f"/backtests/{job_id}/report", headers=viewer)
        assert report.status_code == 200
        done = (await client.get("/backtests?status=done", headers=viewer)).json()
        assert [j["job_id"] for j in done["items"]] == [job_id]
        assert (await client.delete(f"/backtests/{job_id}", headers=trader)).status_code == 409

        # A crash while a job ran: it is left RUNNING in the database.
        request = BacktestRequest.model_validate(SMALL).model_dump(mode="json")
        store.create_job("crashed", {"request": request, "submitted_by": "trader"}, 10)
        store.start_job("crashed", 11)

    # The next process opens the same database.
    reopened = open_store()
    runner = InProcessJobRunner(reopened, settings)
    app = create_app(reopened, runner, settings, authenticator=Callers.existing(reopened))
    async with app.router.lifespan_context(app):
        crashed = reopened.get_job("crashed")
        assert crashed is not None
        assert (crashed.status, crashed.error) == (JobStatus.FAILED, INTERRUPTED)
        kept = reopened.get_job(job_id)
        assert kept is not None
        assert kept.status is JobStatus.DONE
    assert runner.recovered is not None
    assert runner.recovered.interrupted == ("crashed",)
    store.close()
    reopened.close()
