"""The serializer runs re-entrant actions one after another, first come first served."""

from __future__ import annotations

import pytest

from quantgrid.core import Serializer


def test_action_sent_from_inside_an_action_runs_after_it() -> None:
    serializer = Serializer()
    log: list[str] = []

    def outer(name: str) -> None:
        log.append(f"start {name}")
        serializer.run(inner, "b")
        serializer.run(inner, "c")
        assert serializer.busy
        log.append(f"end {name}")

    def inner(name: str) -> None:
        log.append(name)

    serializer.run(outer, "a")

    assert log == ["start a", "end a", "b", "c"]
    assert not serializer.busy


def test_an_action_that_raises_frees_the_serializer_and_keeps_the_queue() -> None:
    serializer = Serializer()
    log: list[str] = []

    def failing(_: object) -> None:
        serializer.run(log.append, "queued")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        serializer.run(failing, None)

    assert not serializer.busy
    serializer.run(log.append, "next")
    assert log == ["next", "queued"]
