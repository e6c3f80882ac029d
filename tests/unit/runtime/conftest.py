"""Runtimes on embedded defaults: a temporary SQLite file and a small synthetic market."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from quantgrid.adapters.market_data import SyntheticSource
from quantgrid.adapters.registry import InMemoryModelRegistry
from quantgrid.data import SyntheticConfig
from quantgrid.runtime import Mode, RuntimeConfig

PASSWORD = "correct horse battery staple"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_config(tmp_path: Path, mode: Mode = "one-process", **env: str) -> RuntimeConfig:
    """Return a config on a SQLite file in ``tmp_path`` and a two-symbol market."""
    environ = {"QUANTGRID_BACKTEST_RESULTS_DIR": str(tmp_path / "results"), **env}
    return RuntimeConfig.from_env(
        mode,
        environ,
        database_url=f"sqlite:///{tmp_path / 'quantgrid.db'}",
        jwt_secret=secrets.token_urlsafe(48),
        source=SyntheticSource(SyntheticConfig(instruments=("SYN0", "SYN1"), bars=2000)),
        registry=InMemoryModelRegistry(),
    )
