"""HTTP services: the foundation every QuantGrid service and the gateway build on.

``create_service_app`` makes a FastAPI app with the platform's conventions: RFC 9457
problems for every error, correlation ids, a request size limit, ``/health``,
``/health/dependencies``, Prometheus ``/metrics``, JSON logs, stable operation ids and
optional OpenTelemetry tracing. ``ServiceClient`` calls another service with timeouts,
bounded retries and a ``CircuitBreaker``. ``ServiceSettings`` reads ``QUANTGRID_*``
variables. See ``docs/services.md``.
"""

from quantgrid.services._http.app import create_service_app
from quantgrid.services._http.breaker import CircuitBreaker, CircuitState
from quantgrid.services._http.client import IDEMPOTENCY_KEY_HEADER, ServiceClient
from quantgrid.services._http.correlation import (
    CORRELATION_ID_HEADER,
    correlation_context,
    current_correlation_id,
)
from quantgrid.services._http.errors import (
    PROBLEM_JSON,
    DependencyUnavailableError,
    RemoteServiceError,
    ServiceError,
    problem_type,
)
from quantgrid.services._http.health import HealthCheck
from quantgrid.services._http.logs import configure_logging
from quantgrid.services._http.metrics import ServiceMetrics
from quantgrid.services._http.middleware import CORRELATION_SCOPE_KEY, observe_request
from quantgrid.services._http.openapi import (
    assert_stable_operation_ids,
    operation_id,
    problem_responses,
)
from quantgrid.services._http.problems import Problem, ValidationProblem, problem_response
from quantgrid.services._http.settings import ServiceSettings, SettingsError
from quantgrid.services._registry import (
    GATEWAY,
    INFRASTRUCTURE_ENV,
    SERVICES,
    ServiceSpec,
)

__all__ = [
    "CORRELATION_ID_HEADER",
    "CORRELATION_SCOPE_KEY",
    "GATEWAY",
    "IDEMPOTENCY_KEY_HEADER",
    "INFRASTRUCTURE_ENV",
    "PROBLEM_JSON",
    "SERVICES",
    "CircuitBreaker",
    "CircuitState",
    "DependencyUnavailableError",
    "HealthCheck",
    "Problem",
    "RemoteServiceError",
    "ServiceClient",
    "ServiceError",
    "ServiceMetrics",
    "ServiceSettings",
    "ServiceSpec",
    "SettingsError",
    "ValidationProblem",
    "assert_stable_operation_ids",
    "configure_logging",
    "correlation_context",
    "create_service_app",
    "current_correlation_id",
    "observe_request",
    "operation_id",
    "problem_response",
    "problem_responses",
    "problem_type",
]
