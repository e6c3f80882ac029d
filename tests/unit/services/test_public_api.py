"""The services foundation's public API is deliberate: this test changes with it."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API = {
    "quantgrid.services": (
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
    ),
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_public_api_is_exactly_what_is_listed(module_name: str) -> None:
    module = importlib.import_module(module_name)

    assert tuple(module.__all__) == PUBLIC_API[module_name]
    for name in module.__all__:
        assert hasattr(module, name), name
