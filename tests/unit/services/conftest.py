"""Fixtures of the service foundation's tests: apps in process, logs captured."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from quantgrid.services import configure_logging

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: the services use asyncio."""
    return "asyncio"


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo, at the end of the block, what ``configure_logging`` does to the loggers."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    httpx_level = logging.getLogger("httpx").level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        logging.getLogger("httpx").setLevel(httpx_level)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what ``configure_logging`` does to the process's loggers."""
    with logging_restored():
        yield


@pytest.fixture
def log_lines() -> LogLines:
    """Capture the JSON log lines; call the result to read those written so far."""
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
