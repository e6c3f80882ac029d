"""The backtest service over HTTP: the job lifecycle, its problems, roles and ids."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import InMemoryStore, JobStatus
from quantgrid.data import SyntheticConfig, generate_market, write_bars
from quantgrid.services import PROBLEM_JSON, assert_stable_operation_ids
from quantgrid.services.backtest import INTERRUPTED, BacktestSettings, InProcessJobRunner
from tests.unit.services.backtest.conftest import (
    SMALL,
    GatedJobs,
    ended,
    make_app,
    wait_for_job,
)
from tests.unit.services.strategy.callers import Callers

pytestmark = pytest.mark.anyio

OPERATION_IDS = {
    "submit_backtest",
    "list_backtests",
    "get_backtest",
    "get_backtest_results",
    "get_backtest_report",
    "get_backtest_equity",
    "cancel_backtest",
    "health",
    "health_dependencies",
}


@pytest.fixture
async def gated(
    store: InMemoryStore, settings: BacktestSettings, callers: Callers, gate: GatedJobs
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a service whose jobs wait for ``gate`` before they run."""
    app = make_app(store, InProcessJobRunner(store, settings, execute=gate), settings, callers)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backtest") as client:
            yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


def fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


# -- the lifecycle ---------------------------------------------------------------------------
async def test_a_job_is_queued_runs_with_progress_and_serves_results_and_report(
    gated: httpx.AsyncClient, callers: Callers, gate: GatedJobs
):
    trader, viewer = callers.headers("trader"), callers.headers("viewer")
    response = await gated.post("/backtests", json=SMALL, headers=trader)
    assert response.status_code == 202, response.text
    job = response.json()
    job_id = job["job_id"]
    assert response.headers["location"] == f"/backtests/{job_id}"
    assert job["status"] in ("queued", "running")
    assert job["submitted_by"] == "trader"
    assert job["request"]["params"] == {"fast": 5, "slow": 20, "size": None}  # defaults in

    running = await wait_for_job(gated, job_id, lambda j: j["progress"] == 0.25, viewer)
    assert running["status"] == "running"
    assert running["started_ns"] >= running["created_ns"]
    problem = assert_problem(await gated.get(f"/backtests/{job_id}/results", headers=viewer), 409)
    assert problem["type"] == "urn:quantgrid:problem:backtest-not-done"
    assert "running (25% done)" in problem["detail"]
    assert_problem(await gated.get(f"/backtests/{job_id}/report", headers=viewer), 409)

    gate.gate.set()
    done = await wait_for_job(gated, job_id, ended, viewer)
    assert done["status"] == "done", done["error"]
    assert done["progress"] == 1.0
    assert done["finished_ns"] >= done["started_ns"]

    results = (await gated.get(f"/backtests/{job_id}/results", headers=viewer)).json()
    assert results["stats"]["strategy"] == "sma_cross"
    assert results["stats"]["bars"] == 3_000
    assert results["stats"]["instruments"] == ["SYN0"]
    assert results["final_trading_state"] == "ACTIVE"
    assert results["risk_rejections"] == 0

    report = await gated.get(f"/backtests/{job_id}/report", headers=viewer)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "<html" in report.text[:1000].lower()


async def test_the_equity_curve_comes_as_json_pages_or_whole_csv(
    client: httpx.AsyncClient, callers: Callers
):
    trader = callers.headers("trader")
    job_id = (await client.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
    assert (await wait_for_job(client, job_id, ended, trader))["status"] == "done"

    page = (
        await client.get(f"/backtests/{job_id}/equity?offset=10&limit=5", headers=trader)
    ).json()
    assert page["total"] == 3_000
    assert page["offset"] == 10
    assert len(page["items"]) == 5
    assert set(page["items"][0]) == {"timestamp", "equity", "drawdown"}
    assert page["items"][0]["timestamp"].endswith("Z")

    csv = await client.get(f"/backtests/{job_id}/equity?format=csv", headers=trader)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "timestamp,equity,drawdown"
    assert len(lines) == 3_001


async def test_a_job_on_data_files_runs(
    client: httpx.AsyncClient, callers: Callers, data_dir: Path
):
    market = generate_market(SyntheticConfig(instruments=("AAA", "BBB"), bars=1_500), 5)
    (data_dir / "daily").mkdir()
    for iid, series in market.bars.items():
        write_bars(series, data_dir / "daily" / f"{iid}.csv")
    body = {
        **SMALL,
        "data": {
            "kind": "file",
            "files": [{"path": "daily/AAA.csv"}, {"path": "daily/BBB.csv", "instrument_id": "B"}],
        },
    }
    trader = callers.headers("trader")
    response = await client.post("/backtests", json=body, headers=trader)
    assert response.status_code == 202, response.text
    job = await wait_for_job(client, response.json()["job_id"], ended, trader)
    assert job["status"] == "done", job["error"]
    results = (await client.get(f"/backtests/{job['job_id']}/results", headers=trader)).json()
    assert results["stats"]["instruments"] == ["AAA", "B"]


async def test_a_job_that_fails_says_why(client: httpx.AsyncClient, callers: Callers):
    # Prices near 100 are less than 100 ticks of 5: the engine refuses them.
    body = {**SMALL, "tick_size": 5}
    trader = callers.headers("trader")
    job_id = (await client.post("/backtests", json=body, headers=trader)).json()["job_id"]
    job = await wait_for_job(client, job_id, ended, trader)
    assert job["status"] == "failed"
    assert "less than 100 ticks of 5" in job["error"]
    problem = assert_problem(await client.get(f"/backtests/{job_id}/results", headers=trader), 409)
    assert "failed" in problem["detail"]
    assert problem["job_status"] == "failed"


async def test_risk_limits_reach_the_engine(client: httpx.AsyncClient, callers: Callers):
    body = {**SMALL, "risk": {"max_order_quantity": 1}}
    trader = callers.headers("trader")
    job_id = (await client.post("/backtests", json=body, headers=trader)).json()["job_id"]
    assert (await wait_for_job(client, job_id, ended, trader))["status"] == "done"
    results = (await client.get(f"/backtests/{job_id}/results", headers=trader)).json()
    assert results["risk_rejections"] > 0


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"fast": 0}, "body.params.fast", "greater_than_equal"),
        ({"fast": "ten"}, "body.params.fast", "int_parsing"),
        ({"fastest": 3}, "body.params.fastest", "extra_forbidden"),
        ({"fast": 30, "slow": 20}, "body.params", "value_error"),
        ({"size": "inf"}, "body.params.size", "finite_number"),
        ({"slow": 10**30}, "body.params.slow", "int64"),
    ],
)
async def test_invalid_strategy_params_are_refused_naming_the_param(
    client: httpx.AsyncClient, callers: Callers, store: InMemoryStore, params, field, rule
):
    body = {**SMALL, "params": params}
    response = await client.post("/backtests", json=body, headers=callers.headers("trader"))
    problem = assert_problem(response, 422)
    assert problem["type"] == "urn:quantgrid:problem:validation-error"
    assert {"field": field, "rule": rule} == {k: problem["errors"][0][k] for k in ("field", "rule")}
    assert field in problem["detail"]
    assert store.list_jobs() == []  # refused before anything was queued


async def test_a_rule_over_several_params_names_them(client: httpx.AsyncClient, callers: Callers):
    body = {**SMALL, "params": {"fast": 30, "slow": 20}}
    problem = assert_problem(
        await client.post("/backtests", json=body, headers=callers.headers("trader")), 422
    )
    assert "fast (30) must be smaller than slow (20)" in problem["detail"]


async def test_nan_in_params_is_refused(client: httpx.AsyncClient, callers: Callers):
    raw = json.dumps(SMALL).replace('"fast": 5', '"fast": NaN')
    headers = {**callers.headers("trader"), "content-type": "application/json"}
    problem = assert_problem(await client.post("/backtests", content=raw, headers=headers), 422)
    assert fields(problem) == {"body.params.fast"}


@pytest.mark.parametrize(
    ("body_change", "field"),
    [
        ({"strategy": "no_such"}, "body.strategy"),
        ({"strategy": "evil.py:Strategy"}, "body.strategy"),
        ({"commission": 1.5}, "body.commission"),
        ({"spread_bps": -1}, "body.spread_bps"),
        ({"initial_cash": 0}, "body.initial_cash"),
        (
            {"data": {"kind": "synthetic", "bars": 1_000_000, "instruments": ["A", "B", "C"]}},
            "body.data.bars",
        ),
        ({"data": {"kind": "synthetic", "instruments": ["A", "A"]}}, "body.data.instruments.1"),
        ({"data": {"kind": "tape"}}, "body.data"),
        ({"risk": {"reduce_at_drawdown": 0.2, "halt_at_drawdown": 0.1}}, "body.risk"),
        ({"risk": {"max_position": -1}}, "body.risk.max_position"),
        ({"extra": 1}, "body.extra"),
    ],
)
async def test_bad_bodies_are_refused_naming_the_field(
    client: httpx.AsyncClient, callers: Callers, body_change, field
):
    body = {**SMALL, **body_change}
    response = await client.post("/backtests", json=body, headers=callers.headers("trader"))
    problem = assert_problem(response, 422)
    assert field in fields(problem), problem


@pytest.mark.parametrize(
    "path",
    [
        "../secrets.csv",
        "daily/../../secrets.csv",
        "/etc/passwd.csv",
        "..\\secrets.csv",
        "~/bars.csv",
        "bars.txt",
        "missing.csv",
        "link/escape.csv",
    ],
)
async def test_data_files_outside_the_data_directory_are_refused(
    client: httpx.AsyncClient, callers: Callers, data_dir: Path, tmp_path: Path, path: str
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "escape.csv").write_text("timestamp,open,high,low,close\n")
    (tmp_path / "secrets.csv").write_text("timestamp,open,high,low,close\n")
    (data_dir / "link").symlink_to(outside)
    body = {**SMALL, "data": {"kind": "file", "files": [{"path": path}]}}
    response = await client.post("/backtests", json=body, headers=callers.headers("trader"))
    problem = assert_problem(response, 422)
    assert fields(problem) == {"body.data.files.0.path"}
    assert str(tmp_path) not in response.text  # the server's folders are not told


async def test_file_data_without_a_data_directory_is_refused(
    store: InMemoryStore, callers: Callers, tmp_path: Path
):
    settings = BacktestSettings(backtest_results_dir=tmp_path / "results")
    app = make_app(store, InProcessJobRunner(store, settings), settings, callers)
    body = {**SMALL, "data": {"kind": "file", "files": [{"path": "a.csv"}]}}
    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.post("/backtests", json=body, headers=callers.headers("trader"))
    assert fields(assert_problem(response, 422)) == {"body.data.kind"}


async def test_two_files_for_one_instrument_are_refused(
    client: httpx.AsyncClient, callers: Callers, data_dir: Path
):
    (data_dir / "a.csv").write_text("x")
    (data_dir / "b.csv").write_text("x")
    files = [{"path": "a.csv", "instrument_id": "X"}, {"path": "b.csv", "instrument_id": "X"}]
    body = {**SMALL, "data": {"kind": "file", "files": files}}
    response = await client.post("/backtests", json=body, headers=callers.headers("trader"))
    assert fields(assert_problem(response, 422)) == {"body.data.files.1.instrument_id"}


async def test_unknown_jobs_are_404_problems(client: httpx.AsyncClient, callers: Callers):
    viewer, trader = callers.headers("viewer"), callers.headers("trader")
    for path in ("", "/results", "/report", "/equity"):
        problem = assert_problem(await client.get(f"/backtests/nope{path}", headers=viewer), 404)
        assert problem["type"] == "urn:quantgrid:problem:backtest-not-found"
    assert_problem(await client.delete("/backtests/nope", headers=trader), 404)


async def test_bad_queries_are_422(client: httpx.AsyncClient, callers: Callers):
    viewer = callers.headers("viewer")
    for query, field in [
        ("status=lost", "query.status"),
        ("limit=0", "query.limit"),
        ("after=yesterday", "query.after"),
    ]:
        problem = assert_problem(await client.get(f"/backtests?{query}", headers=viewer), 422)
        assert fields(problem) == {field}


# -- listing ---------------------------------------------------------------------------------
async def test_jobs_are_listed_oldest_first_by_page_and_by_status(
    gated: httpx.AsyncClient, callers: Callers, gate: GatedJobs
):
    trader = callers.headers("trader")
    ids = [
        (await gated.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
        for _ in range(3)
    ]
    first = (await gated.get("/backtests?limit=2", headers=trader)).json()
    assert [j["job_id"] for j in first["items"]] == ids[:2]
    cursor = first["next_cursor"]
    second = (await gated.get("/backtests", params={"after": cursor}, headers=trader)).json()
    assert [j["job_id"] for j in second["items"]] == ids[2:]
    assert second["next_cursor"] is None

    await wait_for_job(gated, ids[0], lambda j: j["status"] == "running", trader)
    queued = (await gated.get("/backtests?status=queued", headers=trader)).json()
    assert [j["job_id"] for j in queued["items"]] == ids[1:]
    gate.gate.set()
    for job_id in ids:
        await wait_for_job(gated, job_id, ended, trader)
    done = (await gated.get("/backtests?status=done", headers=trader)).json()
    assert [j["job_id"] for j in done["items"]] == ids


async def test_a_full_queue_answers_503_with_retry_after(
    store: InMemoryStore, callers: Callers, tmp_path: Path, gate: GatedJobs
):
    settings = BacktestSettings(backtest_results_dir=tmp_path / "r", backtest_max_pending=2)
    app = make_app(store, InProcessJobRunner(store, settings, execute=gate), settings, callers)
    trader = callers.headers("trader")
    async with app.router.lifespan_context(app), _client(app) as client:
        for _ in range(2):
            assert (await client.post("/backtests", json=SMALL, headers=trader)).status_code == 202
        response = await client.post("/backtests", json=SMALL, headers=trader)
        problem = assert_problem(response, 503)
        assert problem["type"] == "urn:quantgrid:problem:backtest-queue-full"
        assert response.headers["retry-after"] == "30"
        assert len(store.list_jobs()) == 2


# -- cancelling ------------------------------------------------------------------------------
async def test_a_queued_job_is_cancelled_and_never_runs(
    gated: httpx.AsyncClient, callers: Callers, gate: GatedJobs
):
    trader = callers.headers("trader")
    first = (await gated.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
    second = (await gated.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
    await wait_for_job(gated, first, lambda j: j["status"] == "running", trader)

    response = await gated.delete(f"/backtests/{second}", headers=trader)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "failed"
    assert response.json()["error"] == "cancelled by trader"

    gate.gate.set()
    assert (await wait_for_job(gated, first, ended, trader))["status"] == "done"
    assert second not in gate.started
    problem = assert_problem(await gated.delete(f"/backtests/{second}", headers=trader), 409)
    assert problem["type"] == "urn:quantgrid:problem:backtest-ended"
    assert_problem(await gated.delete(f"/backtests/{first}", headers=trader), 409)


async def test_a_running_job_is_cancelled(
    gated: httpx.AsyncClient, callers: Callers, store: InMemoryStore, gate: GatedJobs
):
    trader = callers.headers("trader")
    job_id = (await gated.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
    await wait_for_job(gated, job_id, lambda j: j["status"] == "running", trader)
    response = await gated.delete(f"/backtests/{job_id}", headers=trader)
    assert response.json()["status"] == "failed"
    with anyio.fail_after(30):  # the worker notices at its next check
        while job_id not in gate.returned:
            await anyio.sleep(0.01)
    job = store.get_job(job_id)
    assert job is not None
    assert job.error == "cancelled by trader"


async def test_only_the_submitter_or_an_admin_cancels(gated: httpx.AsyncClient, callers: Callers):
    job_id = (await gated.post("/backtests", json=SMALL, headers=callers.headers("trader"))).json()[
        "job_id"
    ]
    assert_problem(
        await gated.delete(f"/backtests/{job_id}", headers=callers.headers("other")), 403
    )
    response = await gated.delete(f"/backtests/{job_id}", headers=callers.headers("admin"))
    assert response.json()["error"] == "cancelled by admin"


# -- crash recovery --------------------------------------------------------------------------
async def test_jobs_left_running_fail_and_queued_ones_run_after_a_restart(
    store: InMemoryStore, settings: BacktestSettings, callers: Callers
):
    request = {**SMALL, "params": {"fast": 5, "slow": 20, "size": None}}
    params = {"request": request, "submitted_by": "trader"}
    store.create_job("crashed", params, 1)
    store.start_job("crashed", 2)
    store.set_job_progress("crashed", 0.4)
    store.create_job("waiting", params, 3)

    runner = InProcessJobRunner(store, settings)
    app = make_app(store, runner, settings, callers)
    trader = callers.headers("trader")
    async with app.router.lifespan_context(app), _client(app) as client:
        crashed = (await client.get("/backtests/crashed", headers=trader)).json()
        assert crashed["status"] == "failed"
        assert crashed["error"] == INTERRUPTED
        waiting = await wait_for_job(client, "waiting", ended, trader)
        assert waiting["status"] == "done", waiting["error"]
    assert runner.recovered is not None
    assert runner.recovered.interrupted == ("crashed",)
    assert runner.recovered.requeued == ("waiting",)


async def test_stopping_the_service_fails_running_jobs_and_keeps_queued_ones(
    store: InMemoryStore, settings: BacktestSettings, callers: Callers, gate: GatedJobs
):
    app = make_app(store, InProcessJobRunner(store, settings, execute=gate), settings, callers)
    trader = callers.headers("trader")
    async with app.router.lifespan_context(app), _client(app) as client:
        first = (await client.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
        second = (await client.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
        await wait_for_job(client, first, lambda j: j["status"] == "running", trader)
    running, queued = store.get_job(first), store.get_job(second)
    assert running is not None
    assert queued is not None
    assert (running.status, running.error) == (JobStatus.FAILED, INTERRUPTED)
    assert queued.status is JobStatus.QUEUED


# -- roles, health, OpenAPI ------------------------------------------------------------------
async def test_viewers_read_and_traders_submit(client: httpx.AsyncClient, callers: Callers):
    assert_problem(await client.get("/backtests"), 401)
    assert_problem(await client.post("/backtests", json=SMALL), 401)
    viewer = callers.headers("viewer")
    assert (await client.get("/backtests", headers=viewer)).status_code == 200
    problem = assert_problem(await client.post("/backtests", json=SMALL, headers=viewer), 403)
    assert "trader" in problem["detail"]
    response = await client.post("/backtests", json=SMALL, headers=callers.headers("trader"))
    job_id = response.json()["job_id"]
    assert (await client.get(f"/backtests/{job_id}", headers=viewer)).status_code == 200
    assert_problem(await client.delete(f"/backtests/{job_id}", headers=viewer), 403)


async def test_dependencies_report_the_store_and_the_runner(client: httpx.AsyncClient):
    response = await client.get("/health/dependencies")
    assert response.status_code == 200, response.text
    assert {d for d in response.json()["dependencies"]} == {"database", "runner"}


def test_operation_ids_are_stable(app: FastAPI):
    assert_stable_operation_ids(app)
    ids = {
        operation["operationId"]
        for path_item in app.openapi()["paths"].values()
        for operation in path_item.values()
    }
    assert ids == OPERATION_IDS


def test_the_openapi_description_shows_problems_and_media_types(app: FastAPI):
    paths = app.openapi()["paths"]
    submit = paths["/backtests"]["post"]["responses"]
    assert "application/problem+json" in submit["422"]["content"]
    assert "text/html" in paths["/backtests/{job_id}/report"]["get"]["responses"]["200"]["content"]
    equity = paths["/backtests/{job_id}/equity"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(equity)


def test_the_description_names_the_problems_each_route_answers(app: FastAPI):
    paths = app.openapi()["paths"]
    done_only = {"404", "409", "410", "503"}
    problems = {
        ("post", "/backtests"): {"400", "413", "422", "503"},
        ("get", "/backtests"): {"422", "503"},
        ("get", "/backtests/{job_id}"): {"404", "503"},
        ("get", "/backtests/{job_id}/results"): done_only,
        ("get", "/backtests/{job_id}/report"): done_only,
        ("get", "/backtests/{job_id}/equity"): done_only,
        ("delete", "/backtests/{job_id}"): {"403", "404", "409", "503"},
    }

    for (method, path), statuses in problems.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path)
        assert all(PROBLEM_JSON in responses[s]["content"] for s in statuses), (method, path)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://backtest")


async def test_results_removed_from_the_server_are_410(
    client: httpx.AsyncClient, callers: Callers, settings: BacktestSettings
):
    trader = callers.headers("trader")
    job_id = (await client.post("/backtests", json=SMALL, headers=trader)).json()["job_id"]
    assert (await wait_for_job(client, job_id, ended, trader))["status"] == "done"
    (settings.backtest_results_dir / job_id / "report.html").unlink()
    assert_problem(await client.get(f"/backtests/{job_id}/report", headers=trader), 410)
    shutil.rmtree(settings.backtest_results_dir / job_id)
    for part in ("results", "equity"):
        problem = assert_problem(
            await client.get(f"/backtests/{job_id}/{part}", headers=trader), 410
        )
        assert problem["type"] == "urn:quantgrid:problem:backtest-results-gone"


async def test_a_service_whose_runner_is_not_running_keeps_the_job_queued_and_says_503(
    app: FastAPI, callers: Callers, store: InMemoryStore
):
    async with _client(app) as client:  # no lifespan: the runner never started
        response = await client.post("/backtests", json=SMALL, headers=callers.headers("trader"))
    problem = assert_problem(response, 503)
    assert problem["dependency"] == "runner"
    assert [job.status for job in store.list_jobs()] == [JobStatus.QUEUED]
