"""Finding strategies by built-in name or by ``path/to/file.py:ClassName``."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from quantgrid.strategy import (
    BUILTIN_STRATEGIES,
    EmaCross,
    RsiMeanReversion,
    SmaCross,
    Strategy,
    StrategyNotFoundError,
    load_strategy,
    register_strategy,
)

USER_FILE = """
from typing import ClassVar

from quantgrid.strategy import Strategy


class Alpha(Strategy):
    name: ClassVar[str] = "alpha"


class Beta(Strategy):
    name: ClassVar[str] = "beta"


class NotAStrategy:
    pass


NUMBER = 3
"""


def _write(tmp_path: Path, text: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("spec", "cls"),
    [("sma_cross", SmaCross), ("ema_cross", EmaCross), ("rsi_mean_reversion", RsiMeanReversion)],
)
def test_builtin_names(spec: str, cls: type[Strategy]) -> None:
    assert load_strategy(spec) is cls


def test_builtins_are_registered_under_their_names() -> None:
    for cls in (EmaCross, RsiMeanReversion, SmaCross):
        assert BUILTIN_STRATEGIES[cls.name] is cls
    assert (SmaCross.name, EmaCross.name, RsiMeanReversion.name) == (
        "sma_cross",
        "ema_cross",
        "rsi_mean_reversion",
    )


def test_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(StrategyNotFoundError) as info:
        load_strategy("sma_crosss")

    message = str(info.value)
    assert message.startswith("unknown strategy 'sma_crosss': use a built-in (")
    assert "ema_cross, rsi_mean_reversion, sma_cross" in message
    assert "path/to/file.py:ClassName" in message


def test_class_from_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path, USER_FILE)

    cls = load_strategy(f"{path}:Beta")

    assert issubclass(cls, Strategy)
    assert cls.__name__ == "Beta"
    assert cls.name == "beta"
    assert cls().id == "beta"


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"

    message = f"strategy file '{missing}' does not exist"
    with pytest.raises(StrategyNotFoundError, match=re.escape(message)):
        load_strategy(f"{missing}:Alpha")


def test_missing_class_lists_the_strategies_found(tmp_path: Path) -> None:
    path = _write(tmp_path, USER_FILE)

    with pytest.raises(StrategyNotFoundError) as info:
        load_strategy(f"{path}:Gamma")

    assert str(info.value) == (
        f"'{path}' has no class 'Gamma' (strategies found: ['Alpha', 'Beta'])"
    )


def test_missing_class_in_a_file_without_strategies(tmp_path: Path) -> None:
    path = _write(tmp_path, "X = 1\n", name="empty.py")

    with pytest.raises(StrategyNotFoundError, match=r"has no class 'A' \(strategies found: none\)"):
        load_strategy(f"{path}:A")


@pytest.mark.parametrize("name", ["NotAStrategy", "NUMBER"])
def test_not_a_strategy_subclass(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, USER_FILE)

    with pytest.raises(StrategyNotFoundError) as info:
        load_strategy(f"{path}:{name}")

    assert str(info.value) == (f"{path}:{name} is not a subclass of quantgrid.strategy.Strategy")


def test_file_that_raises_on_import(tmp_path: Path) -> None:
    path = _write(tmp_path, "raise RuntimeError('boom at import')\n", name="broken.py")
    before = set(sys.modules)

    with pytest.raises(StrategyNotFoundError) as info:
        load_strategy(f"{path}:Anything")

    assert str(info.value) == (
        f"strategy file '{path}' failed to import: RuntimeError: boom at import"
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    assert set(sys.modules) == before


def test_file_with_a_syntax_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "def broken(:\n", name="syntax.py")

    with pytest.raises(StrategyNotFoundError, match="failed to import: SyntaxError"):
        load_strategy(f"{path}:Anything")


def test_not_found_error_is_a_lookup_error() -> None:
    assert issubclass(StrategyNotFoundError, LookupError)


def test_register_strategy_makes_a_class_loadable_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Restored after the test, whatever happens in it.
    monkeypatch.setitem(BUILTIN_STRATEGIES, "my_registered", SmaCross)

    @register_strategy
    class Mine(Strategy):
        name: ClassVar[str] = "my_registered"

    assert load_strategy("my_registered") is Mine


def test_register_strategy_refuses_other_classes() -> None:
    with pytest.raises(TypeError, match="is not a Strategy subclass"):
        register_strategy(int)  # type: ignore[arg-type]
