"""``/health`` (liveness) and ``/health/dependencies`` (what the service needs)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

HealthCheck = Callable[[], Awaitable[object]]
"""An async check of one dependency.

It passes when it returns, and fails when it raises, returns ``False`` or outlives
the timeout. A returned string is shown as the check's ``detail``.
"""

_log = logging.getLogger("quantgrid.services.health")
_DETAIL_CHARS = 200


class Liveness(BaseModel):
    """The process is up and answering."""

    status: Literal["ok"] = "ok"
    service: str
    version: str
    uptime_s: float = Field(description="Seconds since the service's app was made.")


class DependencyStatus(BaseModel):
    """The outcome of one dependency's check."""

    status: Literal["ok", "down"]
    latency_ms: float
    detail: str | None = None


class DependenciesHealth(BaseModel):
    """The outcome of every dependency's check: ``ok`` only if all are."""

    status: Literal["ok", "degraded"]
    service: str
    dependencies: dict[str, DependencyStatus]


async def _run_check(name: str, check: HealthCheck, timeout_s: float) -> DependencyStatus:
    start = time.perf_counter()
    status: Literal["ok", "down"] = "ok"
    detail: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            outcome = await check()
    except TimeoutError:
        status, detail = "down", f"no answer within {timeout_s:g} s"
    except Exception as error:
        status, detail = "down", f"{type(error).__name__}: {error}"[:_DETAIL_CHARS]
    else:
        if outcome is False:
            status, detail = "down", "check failed"
        elif isinstance(outcome, str):
            detail = outcome[:_DETAIL_CHARS]
    latency_ms = round((time.perf_counter() - start) * 1000.0, 3)
    if status == "down":
        _log.warning("dependency %s is down: %s", name, detail, extra={"dependency": name})
    return DependencyStatus(status=status, latency_ms=latency_ms, detail=detail)


async def check_dependencies(
    service: str, checks: Mapping[str, HealthCheck], timeout_s: float
) -> DependenciesHealth:
    """Run every check at once, each bounded by ``timeout_s``."""
    names = sorted(checks)
    results = await asyncio.gather(*(_run_check(n, checks[n], timeout_s) for n in names))
    dependencies = dict(zip(names, results, strict=True))
    healthy = all(result.status == "ok" for result in results)
    return DependenciesHealth(
        status="ok" if healthy else "degraded", service=service, dependencies=dependencies
    )


def health_router(
    service: str,
    version: str,
    checks: Mapping[str, HealthCheck],
    *,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> APIRouter:
    """Return the router of ``/health`` and ``/health/dependencies``."""
    checks = dict(checks)
    started = clock()
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=Liveness)
    async def health() -> Liveness:
        """Answer 200 while the process runs; checks nothing else."""
        return Liveness(service=service, version=version, uptime_s=round(clock() - started, 3))

    @router.get(
        "/health/dependencies",
        response_model=DependenciesHealth,
        responses={503: {"model": DependenciesHealth, "description": "A dependency is down."}},
    )
    async def health_dependencies() -> JSONResponse:
        """Check every dependency at once: 200 if all are up, else 503 naming each."""
        report = await check_dependencies(service, checks, timeout_s)
        status_code = 200 if report.status == "ok" else 503
        return JSONResponse(report.model_dump(mode="json"), status_code=status_code)

    return router
