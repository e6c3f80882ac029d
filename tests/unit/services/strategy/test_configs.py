"""Strategy configurations kept in memory and in a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantgrid.services.strategy import (
    InMemoryStrategyConfigs,
    SqlStrategyConfigs,
    StrategyConfig,
    StrategyConfigRepository,
)


def config(n: int, created_ns: int = 100) -> StrategyConfig:
    return StrategyConfig(
        config_id=f"{n:032x}",
        strategy="sma_cross",
        params={"fast": n, "slow": 50, "size": None},
        instruments=("AAPL", "ES.FUT:CME"),
        label=None if n % 2 else f"label {n}",
        created_ns=created_ns,
        created_by="trader",
    )


@pytest.fixture(params=["memory", "sqlite"])
def repository(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StrategyConfigRepository]:
    repo: StrategyConfigRepository
    if request.param == "memory":
        repo = InMemoryStrategyConfigs()
    else:
        repo = SqlStrategyConfigs(tmp_path / "configs.db")
    yield repo
    repo.close()


def test_configurations_are_kept_listed_by_time_then_id_and_removed(
    repository: StrategyConfigRepository,
):
    for n, ts in [(3, 200), (1, 100), (2, 100)]:
        repository.add(config(n, ts))
    assert repository.get(config(2).config_id) == config(2)
    assert repository.get("nope") is None
    first = repository.list(limit=2)
    assert [c.config_id for c in first.items] == [config(1).config_id, config(2).config_id]
    assert first.next_cursor == f"100:{config(2).config_id}"
    rest = repository.list(limit=2, after=first.next_cursor)
    assert rest.items == (config(3, 200),)
    assert rest.next_cursor is None
    assert repository.remove(config(1).config_id)
    assert not repository.remove(config(1).config_id)
    assert len(repository.list().items) == 2


def test_bad_cursors_and_limits_are_refused(repository: StrategyConfigRepository):
    with pytest.raises(ValueError, match="cursor"):
        repository.list(after="yesterday")
    with pytest.raises(ValueError, match="limit"):
        repository.list(limit=0)


def test_a_sqlite_file_keeps_them_across_opens(tmp_path: Path):
    path = tmp_path / "configs.db"
    first = SqlStrategyConfigs(path)
    first.add(config(7))
    first.close()
    again = SqlStrategyConfigs(f"sqlite:///{path}")
    assert again.get(config(7).config_id) == config(7)
    again.close()


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ValueError, match="InMemoryStrategyConfigs"):
        SqlStrategyConfigs("sqlite://")
