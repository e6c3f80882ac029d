"""The services of the platform, their default ports and how they find each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service: its name (as in ``quantgrid serve NAME``), default port and role.

    ``env_url`` is the variable other services read its base URL from in the
    distributed mode (``QUANTGRID_EXECUTION_URL=http://execution:8105``).

    ``hosted_by`` names the service whose process serves this one in the distributed
    mode (None: a process of its own). Risk and portfolio work over the trading node,
    which runs in the execution process, so ``quantgrid serve execution`` serves them
    too and their URL variables point at the execution service's URL.
    """

    name: str
    port: int
    summary: str
    hosted_by: str | None = None

    @property
    def env_url(self) -> str:
        """Return the environment variable holding this service's base URL."""
        return f"QUANTGRID_{self.name.upper().replace('-', '_')}_URL"

    @property
    def metrics_path(self) -> str:
        """Return where Prometheus scrapes it."""
        return "/metrics"


GATEWAY = ServiceSpec("gateway", 8000, "entry point: auth, routing, console")
SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        GATEWAY,
        ServiceSpec("market-data", 8101, "prices, OHLCV history, tickers; TTL cache"),
        ServiceSpec("regime", 8102, "current and historical regimes, market overview"),
        ServiceSpec("strategy", 8103, "strategy catalogue, configurations, start and stop"),
        ServiceSpec(
            "risk",
            8104,
            "pre-trade approval, limits, trading state, portfolio risk",
            hosted_by="execution",
        ),
        ServiceSpec("execution", 8105, "orders and fills: submit, amend, cancel, list"),
        ServiceSpec(
            "portfolio", 8106, "positions, cash, P&L, equity history", hosted_by="execution"
        ),
        ServiceSpec("backtest", 8107, "backtest jobs: submit, progress, results, report"),
        ServiceSpec("ml", 8108, "model serving: predictions, model catalogue, approvals"),
        ServiceSpec("evaluation", 8109, "prediction outcomes: metrics, predictions, drift"),
    )
}
"""Every service by name, the gateway first; ports are defaults, overridable."""

# Shared infrastructure of the distributed mode and the variables that point to it.
INFRASTRUCTURE_ENV = {
    "database": "QUANTGRID_DATABASE_URL",
    "nats": "QUANTGRID_NATS_URL",
    "redis": "QUANTGRID_REDIS_URL",
}
