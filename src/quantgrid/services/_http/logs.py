"""JSON log lines that carry the service and the correlation id of the request."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from quantgrid.services._http.correlation import current_correlation_id, current_service

try:  # Optional: trace ids in log lines when OpenTelemetry is importable.
    from opentelemetry import trace as _otel_trace
except ImportError:  # pragma: no cover - opentelemetry-api comes with FastAPI
    _otel_trace = None  # type: ignore[assignment]

#: Service name on log lines written outside any service's request.
DEFAULT_SERVICE = "quantgrid"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "taskName", "correlation_id", "service", "trace_id", "span_id"}
)


class ContextFilter(logging.Filter):
    """Stamp each record with the service, the correlation id and any trace id.

    A filter on the handler runs where the record is made, so it sees the request's
    context variables even for lines logged from a worker thread.
    """

    def __init__(self, default_service: str = DEFAULT_SERVICE) -> None:
        super().__init__()
        self.default_service = default_service

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "service", None) is None:
            record.service = current_service() or self.default_service
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = current_correlation_id()
        if _otel_trace is not None and getattr(record, "trace_id", None) is None:
            context = _otel_trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
                record.span_id = format(context.span_id, "016x")
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON.

    Keys: ``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``service``,
    ``correlation_id``, then ``trace_id``/``span_id`` when tracing, the ``extra=``
    fields, and ``exception`` (the traceback) when there is one. Values JSON cannot
    hold are written with ``str``.
    """

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "ts": ts.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", None) or DEFAULT_SERVICE,
            "correlation_id": getattr(record, "correlation_id", None),
        }
        for key in ("trace_id", "span_id"):
            if (value := getattr(record, key, None)) is not None:
                line[key] = value
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _JsonHandler(logging.StreamHandler[IO[str]]):
    """The handler ``configure_logging`` installs: JSON lines, with context.

    Without a stream of its own it writes to ``sys.stderr`` as it is at the time of
    writing, as ``logging.lastResort`` does, so a harness that swaps standard error
    does not leave it writing to a closed file.
    """

    def __init__(self, stream: IO[str] | None, default_service: str) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.fixed_stream = stream
        self.default_service = default_service
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter(default_service))

    @property
    def stream(self) -> IO[str]:
        return self.fixed_stream if self.fixed_stream is not None else sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        self.fixed_stream = value if value is not sys.stderr else None


def configure_logging(
    level: str | int = "INFO",
    *,
    stream: IO[str] | None = None,
    default_service: str | None = None,
) -> logging.Handler:
    """Send the process's log records to ``stream`` as JSON lines.

    Idempotent: a later call replaces the handler an earlier one installed, keeping
    its stream and default service unless given new ones, rather than adding a
    second. Handlers others installed (pytest's, say) are left alone.

    Parameters
    ----------
    level
        The root logger's level (``"DEBUG"`` … ``"CRITICAL"``).
    stream
        Where lines go; None keeps the current stream (standard error at first).
    default_service
        The ``service`` of lines logged outside a service's request; None keeps the
        current one (``"quantgrid"`` at first).

    Returns
    -------
    logging.Handler
        The installed handler.

    Notes
    -----
    httpx logs every request it sends at INFO, which the callee's access line
    already records: its logger is set to WARNING. Run uvicorn with
    ``log_config=None`` so that its loggers propagate here rather than print text.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _JsonHandler):
            root.removeHandler(handler)
            handler.close()  # flushes; never closes the stream
            if stream is None:
                stream = handler.fixed_stream
            if default_service is None:
                default_service = handler.default_service
    handler = _JsonHandler(stream, default_service or DEFAULT_SERVICE)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
