"""Find a strategy class by built-in name or by ``path/to/file.py:ClassName``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from quantgrid.strategy._base import Strategy
from quantgrid.strategy._builtins import EmaCross, RsiMeanReversion, SmaCross

BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (EmaCross, RsiMeanReversion, SmaCross)
}

# Built-ins defined in packages that depend on this one: imported on first use, so that
# `quantgrid.strategy` never imports them (``quantgrid.regime`` imports ``strategy``).
_LAZY_BUILTINS: dict[str, str] = {"regime_switch": "quantgrid.regime"}


class StrategyNotFoundError(LookupError):
    """No strategy matches the name or path given; the message says what was tried."""


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Make ``cls`` available by its ``name`` (usable as a class decorator)."""
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        msg = f"{cls!r} is not a Strategy subclass"
        raise TypeError(msg)
    BUILTIN_STRATEGIES[cls.name] = cls
    return cls


def load_strategy(spec: str) -> type[Strategy]:
    """Return the strategy class named by ``spec``.

    ``spec`` is a built-in name (``sma_cross``) or ``path/to/file.py:ClassName``.
    """
    if spec in BUILTIN_STRATEGIES:
        return BUILTIN_STRATEGIES[spec]
    if spec in _LAZY_BUILTINS:
        importlib.import_module(_LAZY_BUILTINS[spec])  # registers the strategy on import
        return BUILTIN_STRATEGIES[spec]
    if ":" not in spec:
        eager = sorted(name for name in BUILTIN_STRATEGIES if name not in _LAZY_BUILTINS)
        known = ", ".join([*eager, *sorted(_LAZY_BUILTINS)])
        msg = f"unknown strategy {spec!r}: use a built-in ({known}) or path/to/file.py:ClassName"
        raise StrategyNotFoundError(msg)
    file_part, _, class_name = spec.rpartition(":")
    path = Path(file_part)
    if not path.is_file():
        msg = f"strategy file {file_part!r} does not exist"
        raise StrategyNotFoundError(msg)
    module_name = f"quantgrid_user_strategy_{path.stem}_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        msg = f"strategy file {file_part!r} cannot be imported as Python"
        raise StrategyNotFoundError(msg)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        msg = f"strategy file {file_part!r} failed to import: {type(exc).__name__}: {exc}"
        raise StrategyNotFoundError(msg) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(
            n for n, v in vars(module).items()
            if inspect.isclass(v) and issubclass(v, Strategy) and v is not Strategy
        )  # fmt: skip
        msg = f"{file_part!r} has no class {class_name!r} (strategies found: {found or 'none'})"
        raise StrategyNotFoundError(msg)
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        msg = f"{file_part}:{class_name} is not a subclass of quantgrid.strategy.Strategy"
        raise StrategyNotFoundError(msg)
    return cls
