"""OpenTelemetry tracing: on only when asked for and installed, and said either way."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator

import httpx
import pytest

from quantgrid.services import ServiceClient, ServiceSettings, create_service_app
from quantgrid.services._http import telemetry
from tests.unit.services.conftest import LogLines

FASTAPI_OFF = {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}


def messages(log_lines: LogLines) -> list[tuple[str, str]]:
    return [
        (line["level"], line["message"])
        for line in log_lines()
        if "OpenTelemetry" in line["message"]
    ]


def test_off_by_default_and_said_so(log_lines: LogLines) -> None:
    config = telemetry.telemetry_config("risk", enabled=False)
    create_service_app("risk", settings=ServiceSettings())

    assert FASTAPI_OFF.items() <= config.items()  # FastAPI's own tracing too
    assert (
        messages(log_lines)
        == [("INFO", "risk: OpenTelemetry tracing off (QUANTGRID_OTEL is not set)")] * 2
    )


def test_asked_for_but_not_installed_stays_off_with_a_warning(
    log_lines: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "sdk_installed", lambda: False)
    config = telemetry.telemetry_config("risk", enabled=True)

    assert FASTAPI_OFF.items() <= config.items()
    [(level, message)] = messages(log_lines)
    assert level == "WARNING"
    assert "QUANTGRID_OTEL asks for tracing, but the OpenTelemetry SDK is not installed" in message
    assert message.endswith("tracing stays off")


def test_asked_for_and_installed_traces(
    log_lines: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "sdk_installed", lambda: True)
    config = telemetry.telemetry_config("risk", enabled=True)
    create_service_app("risk", settings=ServiceSettings(otel=True))

    assert config["tracing"] and config["auto_configure"]
    assert not config["metrics"]  # Prometheus counts the requests
    assert messages(log_lines) == [("INFO", "risk: OpenTelemetry tracing on")] * 2


def test_the_sdk_check_reflects_the_environment() -> None:
    expected = importlib.util.find_spec("opentelemetry") is not None and (
        importlib.util.find_spec("opentelemetry.sdk") is not None
    )
    assert telemetry.sdk_installed() is expected


@pytest.fixture
def active_span() -> Iterator[tuple[int, int]]:
    """Make a span current, as a tracer would (the API needs no SDK for this)."""
    from opentelemetry import context, trace

    trace_id, span_id = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
    span = trace.NonRecordingSpan(
        trace.SpanContext(trace_id, span_id, is_remote=False, trace_flags=trace.TraceFlags(1))
    )
    token = context.attach(trace.set_span_in_context(span))
    yield trace_id, span_id
    context.detach(token)


def test_log_lines_carry_the_current_trace(
    log_lines: LogLines, active_span: tuple[int, int]
) -> None:
    logging.getLogger("tests.services").info("traced")

    [line] = log_lines()
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["span_id"] == "b7ad6b7169203331"


@pytest.mark.anyio
async def test_service_calls_carry_the_current_trace(active_span: tuple[int, int]) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    async with ServiceClient("http://risk", transport=httpx.MockTransport(answer)) as risk:
        await risk.get("/health")

    assert sent[0].headers["traceparent"] == (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )
