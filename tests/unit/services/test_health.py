"""``/health`` answers while the process runs; ``/health/dependencies`` checks each."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from quantgrid.services import HealthCheck, ServiceSettings, create_service_app
from tests.unit.services.apps import client_for

pytestmark = pytest.mark.anyio


def app_with(checks: dict[str, HealthCheck], timeout_s: float = 1.0) -> FastAPI:
    return create_service_app(
        "risk",
        settings=ServiceSettings(health_timeout_s=timeout_s),
        dependencies=checks,
        version="9.9.9",
    )


async def ok() -> None:
    return None


async def test_liveness_is_200_with_name_version_and_uptime() -> None:
    async def down() -> None:
        raise ConnectionError("no database")

    async with client_for(app_with({"database": down})) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == "risk"
    assert body["version"] == "9.9.9"
    assert body["uptime_s"] >= 0.0


async def test_all_dependencies_up_is_200() -> None:
    async def with_detail() -> str:
        return "3 pending"

    async def truthy() -> bool:
        return True

    checks = {"database": ok, "bus": with_detail, "cache": truthy}
    async with client_for(app_with(checks)) as client:
        response = await client.get("/health/dependencies")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == "risk"
    assert {name: dep["status"] for name, dep in body["dependencies"].items()} == {
        "bus": "ok",
        "cache": "ok",
        "database": "ok",
    }
    assert body["dependencies"]["bus"]["detail"] == "3 pending"
    assert body["dependencies"]["database"]["detail"] is None


async def test_a_dependency_down_is_503_naming_each() -> None:
    async def raises() -> None:
        raise ConnectionError("connection refused")

    async def says_no() -> bool:
        return False

    async def hangs() -> None:
        await asyncio.Event().wait()

    checks = {"database": ok, "bus": raises, "cache": says_no, "market-data": hangs}
    async with client_for(app_with(checks, timeout_s=0.05)) as client:
        response = await client.get("/health/dependencies")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "degraded"
    deps = body["dependencies"]
    assert deps["database"]["status"] == "ok"
    assert deps["bus"] == {
        "status": "down",
        "latency_ms": deps["bus"]["latency_ms"],
        "detail": "ConnectionError: connection refused",
    }
    assert deps["cache"]["status"] == "down"
    assert deps["cache"]["detail"] == "check failed"
    assert deps["market-data"]["status"] == "down"
    assert deps["market-data"]["detail"] == "no answer within 0.05 s"


async def test_checks_run_concurrently() -> None:
    # Each check waits for the other to start: run one after the other, both time out.
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    def meets(me: str, other: str) -> HealthCheck:
        async def check() -> None:
            started[me].set()
            await started[other].wait()

        return check

    checks = {"a": meets("a", "b"), "b": meets("b", "a")}
    async with client_for(app_with(checks, timeout_s=2.0)) as client:
        response = await client.get("/health/dependencies")

    assert response.status_code == 200


async def test_no_dependencies_is_healthy() -> None:
    async with client_for(app_with({})) as client:
        response = await client.get("/health/dependencies")

    assert response.status_code == 200
    assert response.json()["dependencies"] == {}
