"""One job, run by ``execute_job`` directly: results, progress, cancellation, failures."""

from __future__ import annotations

from pathlib import Path

from quantgrid.services.backtest import BacktestRequest, JobSpec, execute_job
from tests.unit.services.backtest.conftest import SMALL


def spec_for(tmp_path: Path, request: dict[str, object], **changes: object) -> JobSpec:
    fields: dict[str, object] = {
        "job_id": "j-1",
        "request": BacktestRequest.model_validate(request).model_dump(mode="json"),
        "strategy_module": "quantgrid.strategy",
        "results_dir": str(tmp_path / "results"),
        "data_dir": str(tmp_path / "data"),
        "progress_interval_s": 0.0,
        "chunk_bars": 500,
    }
    fields.update(changes)
    return JobSpec(**fields)  # type: ignore[arg-type]


def test_a_job_writes_its_results_whole_and_reports_progress_to_the_end(tmp_path: Path):
    reported: list[float] = []
    outcome = execute_job(spec_for(tmp_path, SMALL), lambda _, f: reported.append(f), lambda: False)
    assert outcome.status == "done"
    folder = Path(outcome.detail)
    assert folder == (tmp_path / "results" / "j-1").resolve()
    assert {p.name for p in folder.iterdir()} == {
        "stats.json", "equity.csv", "trades.csv", "risk.json", "report.html"
    }  # fmt: skip
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["j-1"]  # no partial left
    assert reported == sorted(reported)
    assert reported[-1] == 1.0
    assert len(reported) == 6  # 3,000 bars in chunks of 500


def test_progress_is_throttled(tmp_path: Path):
    reported: list[float] = []
    spec = spec_for(tmp_path, SMALL, progress_interval_s=60.0)
    execute_job(spec, lambda _, f: reported.append(f), lambda: False)
    assert reported == [1.0]  # only the end, within a minute


def test_a_cancelled_job_stops_between_chunks_and_writes_nothing(tmp_path: Path):
    asked = 0

    def cancelled() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2

    outcome = execute_job(spec_for(tmp_path, SMALL), lambda *_: None, cancelled)
    assert outcome.status == "cancelled"
    assert not (tmp_path / "results" / "j-1").exists()


def test_a_missing_data_file_fails_without_naming_server_folders(tmp_path: Path):
    (tmp_path / "data").mkdir()
    request = {**SMALL, "data": {"kind": "file", "files": [{"path": "gone.csv"}]}}
    outcome = execute_job(spec_for(tmp_path, request), lambda *_: None, lambda: False)
    assert outcome.status == "failed"
    assert "there is no data file 'gone.csv'" in outcome.detail
    assert str(tmp_path) not in outcome.detail


def test_a_bad_data_file_fails_with_the_loaders_reason(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bad.csv").write_text("when,price\n1,2\n")
    request = {**SMALL, "data": {"kind": "file", "files": [{"path": "bad.csv"}]}}
    outcome = execute_job(spec_for(tmp_path, request), lambda *_: None, lambda: False)
    assert outcome.status == "failed"
    assert "bad.csv" in outcome.detail
    assert str(tmp_path) not in outcome.detail


def test_a_strategy_no_longer_registered_fails(tmp_path: Path):
    request = {**SMALL, "strategy": "gone", "params": {}}
    outcome = execute_job(spec_for(tmp_path, request), lambda *_: None, lambda: False)
    assert outcome == outcome.__class__("failed", "strategy 'gone' is no longer registered")
