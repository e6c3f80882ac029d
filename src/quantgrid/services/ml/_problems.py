"""The model server's and the registry's errors as RFC 9457 problems."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from quantgrid.adapters.features import FeatureStoreError
from quantgrid.adapters.registry import ModelNotFoundError, RegistryError
from quantgrid.ml import ApprovalRejected, StageTransitionError
from quantgrid.services import ServiceError, problem_response, problem_type
from quantgrid.services.ml._errors import InvalidFeaturesError, ModelNotServedError
from quantgrid.services.ml._models import ApprovalCheckOut

VALIDATION_ERROR = problem_type("validation-error")
MODEL_NOT_SERVED = problem_type("model-not-served")
MODEL_NOT_FOUND = problem_type("model-not-found")
FEATURES_NOT_FOUND = problem_type("features-not-found")
APPROVAL_REJECTED = problem_type("approval-rejected")
STAGE_TRANSITION_REFUSED = problem_type("stage-transition-refused")
DEPENDENCY_UNAVAILABLE = problem_type("dependency-unavailable")
RETRY_AFTER_S = 5


class FeaturesNotFoundError(ServiceError):
    """The online feature store holds no features of the instrument (or there is none)."""

    status = 404
    title = "Features not found"
    type_uri = FEATURES_NOT_FOUND


class InvalidRequestError(ServiceError):
    """A request that breaks a rule found past its parsing; names the field, as 422s do."""

    status = 422
    title = "Request validation failed"
    type_uri = VALIDATION_ERROR

    def __init__(self, field: str, rule: str, message: str, **extensions: Any) -> None:
        super().__init__(
            f"{field}: {message}",
            extensions={
                "errors": [{"field": field, "rule": rule, "message": message}],
                **extensions,
            },
        )


def invalid_field(
    request: Request, field: str, rule: str, message: str, **extra: Any
) -> JSONResponse:
    """Return a 422 validation problem naming one field and the rule it broke."""
    return problem_response(
        422,
        f"{field}: {message}",
        title="Request validation failed",
        type_uri=VALIDATION_ERROR,
        instance=request.url.path,
        extensions={"errors": [{"field": field, "rule": rule, "message": message}], **extra},
    )


async def _invalid_features(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidFeaturesError)
    field = "body.features" if exc.row is None else f"body.rows.{exc.row}"
    return invalid_field(
        request,
        field,
        "model_features",
        str(exc),
        model=exc.model,
        version=exc.version,
        missing_features=list(exc.missing),
        unexpected_features=list(exc.unexpected),
        non_finite_features=list(exc.non_finite),
    )


async def _not_served(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModelNotServedError)
    return problem_response(
        404,
        str(exc),
        title="Model not served",
        type_uri=MODEL_NOT_SERVED,
        instance=request.url.path,
        extensions={"model": exc.model},
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        404, str(exc), title="Model not found", type_uri=MODEL_NOT_FOUND, instance=request.url.path
    )


async def _approval_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApprovalRejected)
    return problem_response(
        409,
        str(exc),
        title="Approval rejected by the policy",
        type_uri=APPROVAL_REJECTED,
        instance=request.url.path,
        extensions={
            "failed_checks": [ApprovalCheckOut.of(c).model_dump() for c in exc.failures],
        },
    )


async def _stage_refused(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        409,
        str(exc),
        title="Stage transition refused",
        type_uri=STAGE_TRANSITION_REFUSED,
        instance=request.url.path,
    )


def unavailable(request: Request, dependency: str, detail: str) -> JSONResponse:
    """Return a 503 problem naming the dependency that failed, with ``Retry-After``."""
    return problem_response(
        503,
        f"{dependency}: {detail}",
        title="Dependency unavailable",
        type_uri=DEPENDENCY_UNAVAILABLE,
        instance=request.url.path,
        extensions={"dependency": dependency},
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _registry_failed(request: Request, exc: Exception) -> JSONResponse:
    return unavailable(request, "model-registry", str(exc))


async def _store_failed(request: Request, exc: Exception) -> JSONResponse:
    return unavailable(request, "feature-store", str(exc))


def install_ml_errors(app: FastAPI) -> None:
    """Answer the model server's, the registry's and the feature store's errors as problems.

    Notes
    -----
    Features that do not fit the model: 422 validation problem naming the body field
    (``body.features``, ``body.rows.<i>``) with ``missing_features``,
    ``unexpected_features`` and ``non_finite_features``. No version served: 404
    ``model-not-served``. Unknown model or version: 404 ``model-not-found``. An
    approval the policy refuses: 409 ``approval-rejected`` with ``failed_checks``
    (metric, value, threshold, bound). A stage move the rules forbid: 409
    ``stage-transition-refused``. The registry or the feature store failing: 503
    ``dependency-unavailable`` naming it, with ``Retry-After``.
    """
    app.add_exception_handler(InvalidFeaturesError, _invalid_features)
    app.add_exception_handler(ModelNotServedError, _not_served)
    app.add_exception_handler(ModelNotFoundError, _not_found)
    app.add_exception_handler(ApprovalRejected, _approval_rejected)
    app.add_exception_handler(StageTransitionError, _stage_refused)
    app.add_exception_handler(RegistryError, _registry_failed)
    app.add_exception_handler(FeatureStoreError, _store_failed)
