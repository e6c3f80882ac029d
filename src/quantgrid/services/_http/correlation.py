"""Correlation ids: one per request, carried in a context variable and a header."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The request and response header that carries the correlation id.
CORRELATION_ID_HEADER = "X-Correlation-ID"

# Safe in a header and a log line: no spaces, quotes or control characters.
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_correlation_id: ContextVar[str | None] = ContextVar("quantgrid_correlation_id", default=None)
_service_name: ContextVar[str | None] = ContextVar("quantgrid_service_name", default=None)


def new_correlation_id() -> str:
    """Return a fresh correlation id (a random UUID)."""
    return str(uuid.uuid4())


def accept_correlation_id(value: str | None) -> str:
    """Return ``value`` if it is a well-formed correlation id, else a fresh one.

    Notes
    -----
    Well formed: 1 to 128 characters from letters, digits and ``. _ : -``, starting
    with a letter or digit. Anything else (spaces, quotes, control characters, a
    megabyte) could forge log lines, so it is replaced, not trusted.
    """
    if value is not None and _VALID.fullmatch(value):
        return value
    return new_correlation_id()


def current_correlation_id() -> str | None:
    """Return the correlation id of the request being handled, if any."""
    return _correlation_id.get()


def current_service() -> str | None:
    """Return the name of the service handling the current request, if any."""
    return _service_name.get()


@contextmanager
def correlation_context(
    correlation_id: str | None = None, *, service: str | None = None
) -> Iterator[str]:
    """Run a block under a correlation id, as a request handler runs.

    For work that does not start with a request (a scheduled job, a bus handler): its
    log lines and service calls then carry the id.

    Parameters
    ----------
    correlation_id
        The id to use; checked like a header, so a malformed one is replaced. None
        for a fresh one.
    service
        The service name for the block's log lines; None keeps the current one.

    Yields
    ------
    str
        The correlation id in force.
    """
    cid = accept_correlation_id(correlation_id)
    token = _correlation_id.set(cid)
    service_token = _service_name.set(service) if service is not None else None
    try:
        yield cid
    finally:
        if service_token is not None:
            _service_name.reset(service_token)
        _correlation_id.reset(token)
