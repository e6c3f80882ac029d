"""The job runners without HTTP: bookkeeping, failures, and real worker processes."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from quantgrid.adapters.storage import BacktestJob, InMemoryStore, JobStatus
from quantgrid.services.backtest import (
    WORKER_DIED,
    BacktestRequest,
    BacktestSettings,
    InProcessJobRunner,
    JobSpec,
    Outcome,
    ProcessPoolJobRunner,
    QueueJobRunner,
    execute_job,
)
from quantgrid.strategy import BUILTIN_STRATEGIES, register_strategy
from tests.unit.services.backtest.conftest import SMALL

pytestmark = pytest.mark.anyio


def queue_job(store: InMemoryStore, job_id: str, request: dict[str, object] = SMALL) -> None:
    document = BacktestRequest.model_validate(request).model_dump(mode="json")
    store.create_job(job_id, {"request": document, "submitted_by": "trader"}, 1)


async def wait_until(
    store: InMemoryStore, job_id: str, check: Callable[[BacktestJob], bool], timeout_s: float = 90
) -> BacktestJob:
    with anyio.fail_after(timeout_s):
        while True:
            job = store.get_job(job_id)
            assert job is not None
            if check(job):
                return job
            await anyio.sleep(0.02)


def ended(job: BacktestJob) -> bool:
    return job.status in (JobStatus.DONE, JobStatus.FAILED)


async def test_a_job_function_that_raises_fails_its_job(
    store: InMemoryStore, settings: BacktestSettings
):
    def broken(spec: JobSpec, report: object, cancelled: object) -> Outcome:
        raise RuntimeError("bug")

    runner = InProcessJobRunner(store, settings, execute=broken)
    await runner.start()
    try:
        queue_job(store, "j-1")
        runner.submit("j-1")
        job = await wait_until(store, "j-1", ended)
    finally:
        await runner.aclose()
    assert (job.status, job.error) == (JobStatus.FAILED, "the service failed to run the job")
    assert runner.pending == 0


async def test_results_of_a_job_cancelled_as_it_finished_are_removed(
    store: InMemoryStore, settings: BacktestSettings
):
    def stubborn(spec: JobSpec, report: object, cancelled: object) -> Outcome:
        # Finishes whatever happens meanwhile: the cancellation lands just before.
        store.fail_job(spec.job_id, "cancelled by trader", 5)
        return execute_job(spec, lambda *_: None, lambda: False)

    runner = InProcessJobRunner(store, settings, execute=stubborn)
    await runner.start()
    try:
        queue_job(store, "j-1")
        runner.submit("j-1")
        with anyio.fail_after(30):
            while runner.pending:
                await anyio.sleep(0.01)
    finally:
        await runner.aclose()
    job = store.get_job("j-1")
    assert job is not None
    assert (job.status, job.error) == (JobStatus.FAILED, "cancelled by trader")
    assert not (settings.backtest_results_dir / "j-1").exists()


def test_recovery_removes_half_written_results(store: InMemoryStore, settings: BacktestSettings):
    partial = settings.backtest_results_dir / ".j-9.partial"
    partial.mkdir(parents=True)
    report = QueueJobRunner(store, settings, workers=1).recover()
    assert report.interrupted == report.requeued == ()
    assert not partial.exists()


async def test_a_runner_takes_jobs_only_while_open(
    store: InMemoryStore, settings: BacktestSettings
):
    runner = InProcessJobRunner(store, settings)
    with pytest.raises(RuntimeError, match="between start"):
        runner.submit("j-1")
    with pytest.raises(RuntimeError, match="not running"):
        await runner.check_health()
    await runner.start()
    await runner.aclose()
    with pytest.raises(RuntimeError, match="does not start again"):
        await runner.start()


# -- worker processes ------------------------------------------------------------------------
@pytest.fixture
def dying() -> Iterator[None]:
    module = importlib.import_module("tests.unit.services.backtest.dying_strategy")
    register_strategy(module.DyingStrategy)  # again, if an earlier test unregistered it
    yield
    del BUILTIN_STRATEGIES[module.DyingStrategy.name]


@pytest.fixture
def pool_settings(tmp_path: Path) -> BacktestSettings:
    return BacktestSettings(
        backtest_results_dir=tmp_path / "results",
        backtest_workers=1,
        backtest_progress_interval_s=0.0,
        backtest_chunk_bars=1_000,
    )


@pytest.mark.slow
async def test_worker_processes_run_jobs_report_progress_and_survive_a_dead_worker(
    store: InMemoryStore, pool_settings: BacktestSettings, dying: None
):
    big = {**SMALL, "data": {"kind": "synthetic", "bars": 200_000, "instruments": ["SYN0"]}}
    runner = ProcessPoolJobRunner(store, pool_settings)
    await runner.start()
    try:
        queue_job(store, "dies", {**SMALL, "strategy": "test_dying", "params": {}})
        queue_job(store, "small")
        queue_job(store, "cancelled", big)
        for job_id in ("dies", "small", "cancelled"):
            runner.submit(job_id)

        died = await wait_until(store, "dies", ended)
        assert (died.status, died.error) == (JobStatus.FAILED, WORKER_DIED)
        small = await wait_until(store, "small", ended)
        assert small.status is JobStatus.DONE, small.error  # on the pool that replaced it
        assert small.result_path is not None
        assert (Path(small.result_path) / "report.html").is_file()

        # Progress comes back from the worker; a cancellation reaches it.
        await wait_until(store, "cancelled", lambda j: 0 < j.progress < 1)
        store.fail_job("cancelled", "cancelled by trader", 9)
        runner.cancel("cancelled")
        with anyio.fail_after(60):
            while runner.pending:
                await anyio.sleep(0.05)
        assert not (pool_settings.backtest_results_dir / "cancelled").exists()
        assert await runner.check_health() == "0 running, 0 queued"
    finally:
        await runner.aclose()
    shutil.rmtree(pool_settings.backtest_results_dir)


@pytest.mark.slow
async def test_closing_the_pool_fails_the_running_job_and_stops_its_worker(
    store: InMemoryStore, pool_settings: BacktestSettings
):
    big = {**SMALL, "data": {"kind": "synthetic", "bars": 300_000, "instruments": ["SYN0"]}}
    runner = ProcessPoolJobRunner(store, pool_settings)
    await runner.start()
    queue_job(store, "long", big)
    runner.submit("long")
    await wait_until(store, "long", lambda j: j.progress > 0)
    with anyio.fail_after(30):
        await runner.aclose()
    job = store.get_job("long")
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.startswith("interrupted")
