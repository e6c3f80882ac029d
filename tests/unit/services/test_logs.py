"""JSON log lines with the service and the correlation id; configured idempotently."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi import APIRouter

from quantgrid.services import (
    CORRELATION_ID_HEADER,
    ServiceSettings,
    configure_logging,
    correlation_context,
    create_service_app,
)
from tests.unit.services.apps import GOOD_ORDER, client_for, orders_app
from tests.unit.services.conftest import LogLines

log = logging.getLogger("tests.services")


def test_a_line_has_the_standard_keys_and_the_extra_fields(log_lines: LogLines) -> None:
    log.warning("order %s refused", "C-1", extra={"order_id": "C-1", "qty": 5, "odd": object()})

    [line] = log_lines()
    assert line["ts"].endswith("Z")
    assert line["level"] == "WARNING"
    assert line["logger"] == "tests.services"
    assert line["message"] == "order C-1 refused"
    assert line["service"] == "quantgrid"
    assert line["correlation_id"] is None
    assert line["order_id"] == "C-1"
    assert line["qty"] == 5
    assert line["odd"].startswith("<object object")


def test_an_exception_carries_its_traceback(log_lines: LogLines) -> None:
    try:
        raise KeyError("C-9")
    except KeyError:
        log.exception("lookup failed")

    [line] = log_lines()
    assert line["level"] == "ERROR"
    assert "Traceback" in line["exception"]
    assert "KeyError: 'C-9'" in line["exception"]


def test_lines_in_a_correlation_context_carry_it(log_lines: LogLines) -> None:
    with correlation_context("job-1", service="scheduler"):
        log.info("tick")
    log.info("after")

    first, second = log_lines()
    assert (first["correlation_id"], first["service"]) == ("job-1", "scheduler")
    assert (second["correlation_id"], second["service"]) == (None, "quantgrid")


def test_configuring_twice_keeps_one_handler_and_its_stream() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, default_service="up")
    configure_logging("DEBUG")
    configure_logging("debug")

    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_JsonHandler"]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.DEBUG
    log.debug("once")
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["message"], line["service"]) == ("once", "up")


def test_creating_an_app_sets_the_level_but_keeps_the_stream(log_lines: LogLines) -> None:
    create_service_app("risk", settings=ServiceSettings(log_level="warning"))
    log.info("hidden")
    log.warning("shown")

    assert [line["message"] for line in log_lines()] == ["shown"]


@pytest.mark.anyio
async def test_lines_logged_while_answering_carry_the_request_id(log_lines: LogLines) -> None:
    router = APIRouter()

    @router.get("/sync")
    def sync_route() -> str:  # runs in a worker thread
        log.info("in a thread", extra={"where": "thread"})
        return "ok"

    @router.get("/async")
    async def async_route() -> str:
        log.info("in the loop")
        return "ok"

    app = create_service_app("risk", settings=ServiceSettings(log_level="DEBUG"), routers=[router])
    async with client_for(app) as client:
        await client.get("/sync", headers={CORRELATION_ID_HEADER: "req-1"})
        await client.get("/async", headers={CORRELATION_ID_HEADER: "req-2"})

    lines = [
        line
        for line in log_lines()
        if line["logger"].startswith(("tests.", "quantgrid.services.access"))
    ]
    assert [(line["logger"], line["correlation_id"], line["service"]) for line in lines] == [
        ("tests.services", "req-1", "risk"),
        ("quantgrid.services.access", "req-1", "risk"),
        ("tests.services", "req-2", "risk"),
        ("quantgrid.services.access", "req-2", "risk"),
    ]
    assert lines[0]["where"] == "thread"
    access = lines[1]
    assert access["message"].startswith("GET /sync 200 ")
    assert access["logger"] == "quantgrid.services.access"
    assert access["level"] == "INFO"
    assert (access["method"], access["route"], access["path"], access["status"]) == (
        "GET",
        "/sync",
        "/sync",
        200,
    )
    assert access["duration_ms"] >= 0.0


@pytest.mark.anyio
async def test_probes_are_logged_at_debug(log_lines: LogLines) -> None:
    app = orders_app(log_level="DEBUG")
    async with client_for(app) as client:
        await client.get("/health")
        await client.get("/metrics")
        await client.post("/orders/C-1", json=GOOD_ORDER)

    access = [line for line in log_lines() if line["logger"] == "quantgrid.services.access"]
    assert [(line["route"], line["level"]) for line in access] == [
        ("/health", "DEBUG"),
        ("/metrics", "DEBUG"),
        ("/orders/{client_order_id}", "INFO"),
    ]
