"""Named checkpoints: small JSON objects of runtime state, one per name, replaced whole."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._errors import InvalidRecordError

NAME_MAX = 128
VALUE_MAX_BYTES = 64 * 1024
_TS_MAX = 2**63 - 1  # a BIGINT
_NAME = re.compile(rf"[A-Za-z0-9._:-]{{1,{NAME_MAX}}}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A piece of runtime state saved under a name, such as where a replay got to.

    Attributes
    ----------
    name
        The checkpoint's key: 1 to 128 ASCII letters, digits or ``. _ : -``
        (``"paper.replay"``).
    value
        The JSON object saved; each read returns a fresh dict, the caller's to change.
    ts_ns
        When it was saved (UTC ns), by the saver's clock.
    """

    name: str
    value: Mapping[str, Any]
    ts_ns: int


# -- the rules every store checks ----------------------------------------------------------
def check_name(name: object) -> None:
    """Check a checkpoint name: 1 to 128 ASCII letters, digits or ``. _ : -``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        rule = f"1 to {NAME_MAX} ASCII letters, digits or . _ : -"
        raise _fail("name", f"must be {rule}, got {_short(name)}")


def encode_checkpoint(name: object, value: object, ts_ns: object) -> str:
    """Check a checkpoint's fields; return its value as the JSON text a store keeps.

    Notes
    -----
    The text is what ``json.dumps`` makes of the value, so a tuple reads back as a
    list. Keys must be strings at every depth, not only the top: JSON would turn a key
    ``1`` into ``"1"``, which reads back as another dict (or clashes with a key ``"1"``).
    """
    check_name(name)
    if not isinstance(value, Mapping):
        raise _fail("value", f"must be a dict (a JSON object), got {_short(value)}")
    try:
        text = json.dumps(dict(value), allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise _fail("value", f"must be JSON-encodable (finite numbers, no cycles): {exc}") from None
    try:
        size = len(text.encode())
    except UnicodeEncodeError as exc:
        raise _fail("value", f"must hold only encodable text (no lone surrogates): {exc}") from None
    if size > VALUE_MAX_BYTES:
        rule = f"must be at most {VALUE_MAX_BYTES} bytes as JSON (64 KiB), got {size}"
        raise _fail("value", rule)
    _check_keys(value)
    if isinstance(ts_ns, bool) or not isinstance(ts_ns, int) or not 0 <= ts_ns <= _TS_MAX:
        rule = "must be integer nanoseconds since the epoch (0 to 2**63 - 1)"
        raise _fail("ts_ns", f"{rule}, got {_short(ts_ns)}")
    return text


def decode_value(text: str) -> dict[str, Any]:
    """Return the value a checkpoint was saved with, as a fresh dict."""
    decoded: dict[str, Any] = json.loads(text)
    return decoded


def _check_keys(value: Mapping[Any, Any]) -> None:
    # Walked without recursion: json.dumps has already refused cycles, and deep nesting
    # must not hit Python's recursion limit here either.
    stack: list[tuple[str, Any]] = [("value", value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, Mapping):
            for key, item in node.items():
                if not isinstance(key, str):
                    raise _fail("value", f"keys must be strings, got {key!r} in {where}")
                stack.append((f"{where}[{key!r}]", item))
        elif isinstance(node, list | tuple):
            stack.extend((f"{where}[{k}]", item) for k, item in enumerate(node))


def _fail(field: str, rule: str) -> InvalidRecordError:
    return v.fail(f"checkpoint.{field}", rule)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
