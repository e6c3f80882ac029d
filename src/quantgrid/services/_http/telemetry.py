"""OpenTelemetry tracing, only when asked for and installed."""

from __future__ import annotations

import importlib.util
import logging

from fastapi.telemetry import TelemetryConfig

_log = logging.getLogger("quantgrid.services")

# FastAPI's own telemetry, all off: without this it traces whenever something in the
# process has set a global tracer provider.
_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}

# Spans only: metrics are Prometheus's and logs are the JSON lines. Exporters come
# from the standard OTEL_EXPORTER_OTLP_* variables, or from a provider already set.
_TRACING: TelemetryConfig = {
    "tracing": True,
    "operation_spans": True,
    "metrics": False,
    "logs": False,
    "auto_configure": True,
}


def sdk_installed() -> bool:
    """Tell whether the OpenTelemetry SDK can be imported."""
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:
        return False


def telemetry_config(service: str, *, enabled: bool) -> TelemetryConfig:
    """Return FastAPI's telemetry settings for ``service``, and log the choice.

    Tracing is on only if ``enabled`` (``QUANTGRID_OTEL``) and the SDK is installed
    (``pip install "fastapi[opentelemetry]"``); nothing here needs it otherwise.
    """
    if not enabled:
        _log.info("%s: OpenTelemetry tracing off (QUANTGRID_OTEL is not set)", service)
        return _OFF.copy()
    if not sdk_installed():
        _log.warning(
            "%s: QUANTGRID_OTEL asks for tracing, but the OpenTelemetry SDK is not "
            'installed (pip install "fastapi[opentelemetry]"); tracing stays off',
            service,
        )
        return _OFF.copy()
    _log.info("%s: OpenTelemetry tracing on", service)
    return _TRACING.copy()
