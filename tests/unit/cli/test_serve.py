"""``quantgrid serve`` and ``quantgrid up``: names, help and refused configurations."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantgrid.adapters.storage import Role
from quantgrid.cli import _serve
from quantgrid.cli._app import app
from quantgrid.cli._serve import _create_demo_user
from quantgrid.runtime import open_store
from quantgrid.services import SERVICES

runner = CliRunner()


def test_serve_an_unknown_name_lists_the_valid_ones() -> None:
    result = runner.invoke(app, ["serve", "nope"])

    assert result.exit_code == 2
    for name in SERVICES:
        assert name in result.output


def test_up_help_names_its_options() -> None:
    result = runner.invoke(app, ["up", "--help"])

    assert result.exit_code == 0
    for option in ("--host", "--port", "--database-url"):
        assert option in result.output


def test_serve_without_a_shared_database_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("QUANTGRID_DATABASE_URL", raising=False)
    monkeypatch.setenv("QUANTGRID_JWT_SECRET", "x" * 48)

    result = runner.invoke(app, ["serve", "market-data"])

    assert result.exit_code == 2
    assert "QUANTGRID_DATABASE_URL" in result.output


def test_serve_without_a_secret_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANTGRID_JWT_SECRET", raising=False)

    result = runner.invoke(app, ["serve", "regime"])

    assert result.exit_code == 2
    assert "QUANTGRID_JWT_SECRET" in result.output


@pytest.mark.parametrize("name", ["risk", "portfolio"])
def test_serve_a_co_located_service_points_at_the_execution_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    monkeypatch.setenv("QUANTGRID_DATABASE_URL", f"sqlite:///{tmp_path / 'quantgrid.db'}")
    monkeypatch.setenv("QUANTGRID_JWT_SECRET", "x" * 48)

    result = runner.invoke(app, ["serve", name])

    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "served by the execution process" in output
    assert f"QUANTGRID_{name.upper()}_URL" in output


def test_up_creates_a_demo_trader_once_on_an_empty_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'quantgrid.db'}")
    try:
        _create_demo_user(store)
        _create_demo_user(store)
        users = store.list_users()
    finally:
        store.close()

    printed = capsys.readouterr().out
    assert [(u.username, u.role) for u in users] == [("demo", Role.ADMIN)]
    assert printed.count("created user demo (admin), password: ") == 1


def test_a_server_freezes_what_it_built_and_collects_young_objects_less_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Full collections over the startup heap were the order path's p99 (70 ms stalls)."""
    seen: dict[str, object] = {}

    def fake_uvicorn_run(app: object, **options: object) -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["thresholds"] = gc.get_threshold()
        seen["options"] = options

    class FakeRuntime:
        def asgi(self) -> str:
            return "the app"

    thresholds = gc.get_threshold()
    monkeypatch.setattr(_serve.uvicorn, "run", fake_uvicorn_run)
    try:
        _serve._run(FakeRuntime(), "127.0.0.1", 8000)  # type: ignore[arg-type]
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000
    assert seen["thresholds"] == (20_000, 20, 50)
    assert seen["options"] == {
        "host": "127.0.0.1",
        "port": 8000,
        "log_config": None,
        "access_log": False,
    }
