"""The ML service: predictions of production models, the model catalogue, approvals."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from prometheus_client import Histogram

from quantgrid.adapters.features import OnlineFeatureStore
from quantgrid.adapters.registry import ModelNotFoundError, ModelRegistry
from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator, Principal, RateLimiter, install_auth, require_role
from quantgrid.ml import ApprovalPolicy, ModelStage, ModelSummary, ModelVersionInfo
from quantgrid.services import (
    ServiceMetrics,
    ServiceSettings,
    create_service_app,
    problem_responses,
)
from quantgrid.services.ml._errors import InvalidFeaturesError
from quantgrid.services.ml._metrics import install_serving_metrics
from quantgrid.services.ml._models import (
    ApproveBody,
    ApprovedOut,
    ModelBatchOut,
    ModelListOut,
    ModelOut,
    ModelPredictionOut,
    ModelVersionOut,
    PredictBatchBody,
    PredictBody,
    ServingOut,
    summary_of,
)
from quantgrid.services.ml._problems import (
    FeaturesNotFoundError,
    InvalidRequestError,
    install_ml_errors,
)
from quantgrid.services.ml._served import MODEL_NAME_PATTERN, ServedModelStatus
from quantgrid.services.ml._server import ModelServer
from quantgrid.services.ml._settings import MAX_BATCH_ROWS, MlSettings

SERVICE = "ml"

_log = logging.getLogger("quantgrid.services.ml")

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
ModelNamePath = Annotated[
    str, Path(pattern=MODEL_NAME_PATTERN, description="The registered model.")
]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The version number.")]

_NOT_SERVED = "No version of the model is served (unknown, none in production, not loaded)."
_REGISTRY_DOWN = "The model registry is unavailable; retry after `Retry-After` seconds."


@dataclass(frozen=True, slots=True)
class _Ml:
    """What the routes use, kept on ``app.state.ml``."""

    server: ModelServer
    registry: ModelRegistry
    policy: ApprovalPolicy
    online_store: OnlineFeatureStore | None
    max_batch_rows: int
    latency: Histogram

    def status_or_none(self, name: str) -> ServedModelStatus | None:
        """Return how ``name`` is served, or None if the server does not track it."""
        statuses = {status.name: status for status in self.server.statuses()}
        return statuses.get(name)


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread.
async def _ml(request: Request) -> _Ml:
    ml: _Ml = request.app.state.ml
    return ml


Ml = Annotated[_Ml, Depends(_ml)]


def _catalogue(registry: ModelRegistry) -> list[tuple[ModelSummary, list[ModelVersionInfo]]]:
    found = []
    for summary in registry.list_models():
        try:
            versions = registry.list_versions(summary.name)
        except ModelNotFoundError:
            continue  # removed between the two calls
        found.append((summary, versions))
    return found


async def _predict_stored(ml: _Ml, body: PredictBody) -> ModelPredictionOut:
    """Predict from the instrument's latest row in the online feature store."""
    assert body.instrument_id is not None  # the body's validator: features or instrument_id
    status = ml.server.serving(body.model)
    trained_on = status.feature_set_name
    if body.feature_set is not None and trained_on and body.feature_set != trained_on:
        message = (
            f"model {body.model!r} version {status.version} was trained on feature set "
            f"{trained_on!r}, not {body.feature_set!r}"
        )
        raise InvalidRequestError("body.feature_set", "model_feature_set", message)
    feature_set = body.feature_set or trained_on
    if not feature_set:
        message = f"model {body.model!r} version {status.version} records no feature set: give one"
        raise InvalidRequestError("body.feature_set", "missing", message)
    where = f"feature set {feature_set!r} of instrument {body.instrument_id!r}"
    if ml.online_store is None:
        raise FeaturesNotFoundError(f"no features of {where}: this service has no feature store")
    row = await asyncio.to_thread(ml.online_store.get, feature_set, body.instrument_id)
    if row is None:
        raise FeaturesNotFoundError(f"no features of {where} are stored yet")
    wanted = set(status.feature_names)
    # The stored set may hold more features than the model uses: it takes its own.
    features = {n: v for n, v in zip(row.names, row.values.tolist(), strict=True) if n in wanted}
    start = time.perf_counter()
    try:
        prediction = ml.server.predict(body.model, features)
    except InvalidFeaturesError as error:
        message = f"the features of {where} stored at ts {row.ts} do not fit: {error.reasons}"
        raise InvalidRequestError(
            "body.instrument_id",
            "stored_features",
            message,
            missing_features=list(error.missing),
            non_finite_features=list(error.non_finite),
        ) from None
    ml.latency.labels(body.model, "single").observe(time.perf_counter() - start)
    return ModelPredictionOut.of(prediction, body.instrument_id, row.ts)


def _predict_rows(ml: _Ml, body: PredictBatchBody) -> ModelBatchOut:
    start = time.perf_counter()
    batch = ml.server.predict_batch(body.model, body.rows)
    ml.latency.labels(body.model, "batch").observe(time.perf_counter() - start)
    return ModelBatchOut.of(batch)


def ml_router() -> APIRouter:
    """Return the routes of ``/ml``."""
    router = APIRouter(prefix="/ml", tags=["ml"])

    @router.post(
        "/predict",
        responses=problem_responses(
            {
                404: f"{_NOT_SERVED} Or the feature store has no features of the instrument.",
                503: "The online feature store is unavailable.",
            }
        ),
    )
    async def predict(body: PredictBody, ml: Ml, _caller: Viewer) -> ModelPredictionOut:
        """Predict the direction with the model's production version.

        Features are given by name (every feature of the model, no other), or read from
        the online feature store: the instrument's latest row of the feature set the
        model was trained on. Features that do not fit the model are a 422 naming the
        missing, unexpected and non-finite ones.
        """
        if body.features is None:
            return await _predict_stored(ml, body)
        start = time.perf_counter()
        prediction = ml.server.predict(body.model, body.features)
        ml.latency.labels(body.model, "single").observe(time.perf_counter() - start)
        return ModelPredictionOut.of(prediction)

    @router.post("/predict/batch", responses=problem_responses({404: _NOT_SERVED}))
    async def predict_batch(body: PredictBatchBody, ml: Ml, _caller: Viewer) -> ModelBatchOut:
        """Predict many rows with one call of the model's production version.

        Answers in the rows' order; every row is predicted by the same version. The
        first row that does not fit the model is named (``body.rows.<i>``) in a 422;
        so are more rows than the service's limit (10,000 unless configured).
        """
        if len(body.rows) > ml.max_batch_rows:
            message = f"at most {ml.max_batch_rows} rows, got {len(body.rows)}"
            raise InvalidRequestError("body.rows", "too_long", message)
        # Thousands of rows take milliseconds: off the event loop.
        return await asyncio.to_thread(_predict_rows, ml, body)

    @router.get("/models", responses=problem_responses({503: _REGISTRY_DOWN}))
    async def list_models(ml: Ml, _caller: Viewer) -> ModelListOut:
        """List every registered model: versions, stages, figures, approvals, serving."""
        catalogue = await asyncio.to_thread(_catalogue, ml.registry)
        statuses = {status.name: status for status in ml.server.statuses()}
        return ModelListOut(
            models=[ModelOut.of(s, v, statuses.get(s.name)) for s, v in catalogue],
        )

    @router.get(
        "/models/{name}",
        responses=problem_responses({404: "No model has this name.", 503: _REGISTRY_DOWN}),
    )
    async def get_model(name: ModelNamePath, ml: Ml, _caller: Viewer) -> ModelOut:
        """Return one model: its versions, stages, figures, approvals and serving."""
        versions = await asyncio.to_thread(ml.registry.list_versions, name)
        return ModelOut.of(summary_of(name, versions), versions, ml.status_or_none(name))

    @router.post(
        "/models/{name}/versions/{version}/approve",
        responses=problem_responses(
            {
                404: "No such model or version.",
                409: "Refused: the version's figures fail the approval policy "
                "(`approval-rejected`, naming each failed check and its threshold), or "
                "its stage cannot move there (`stage-transition-refused`).",
                503: _REGISTRY_DOWN,
            }
        ),
    )
    async def approve_model_version(
        name: ModelNamePath, version: VersionPath, body: ApproveBody, ml: Ml, caller: Admin
    ) -> ApprovedOut:
        """Promote a version one stage, if its out-of-sample figures pass the policy.

        NONE → staging → production, nothing skipped; the caller is recorded as the
        approver with the figures and thresholds. A version promoted to production is
        loaded at once and serves from the moment this answers; if its load fails the
        previous version serves on and ``serving.last_error`` says why.
        """
        approve = partial(
            ml.registry.approve,
            name,
            version,
            to_stage=body.to_stage,
            approver=caller.subject,
            policy=ml.policy,
        )
        info = await asyncio.to_thread(approve)
        _log.info(
            "model %s version %d approved for %s by %s",
            name,
            version,
            info.stage.value,
            caller.subject,
        )
        status = ml.status_or_none(name)
        if info.stage is ModelStage.PRODUCTION and ml.server.watches(name):
            status = await ml.server.reload_now(name)
        served = status.version if status is not None else None
        return ApprovedOut(
            version=ModelVersionOut.of(info, served),
            serving=ServingOut.of(status) if status is not None else None,
        )

    return router


def ml_app(
    server: ModelServer,
    registry: ModelRegistry,
    settings: ServiceSettings,
    *,
    auth: Authenticator,
    limiter: RateLimiter | None = None,
    policy: ApprovalPolicy | None = None,
    online_store: OnlineFeatureStore | None = None,
    metrics: ServiceMetrics | None = None,
) -> FastAPI:
    """Return the ML service: predictions, the model catalogue and approvals.

    Parameters
    ----------
    server
        Serves the production versions; the app's lifespan starts and stops it.
    registry
        The registry listed and approved in (the one ``server`` loads from).
    settings
        The service's settings; an `MlSettings` also sets the batch row limit.
    auth, limiter
        Who checks callers' credentials and budgets: viewers predict and list, admins
        approve.
    policy
        The thresholds an approval checks; `ApprovalPolicy()`'s by default.
    online_store
        Where ``POST /ml/predict`` reads an instrument's latest features; None: callers
        must send them.
    metrics
        The service's metrics, if made already.

    Notes
    -----
    In one process ``ASGITransport`` does not run the lifespan: whoever hosts the app
    starts the server (the runtime runs every app's lifespan).
    """
    metrics = metrics or ServiceMetrics(SERVICE)
    latency = install_serving_metrics(metrics, server)
    max_rows = settings.ml_max_batch_rows if isinstance(settings, MlSettings) else MAX_BATCH_ROWS

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    async def check_registry() -> str:
        summaries = await asyncio.to_thread(registry.list_models)
        return f"{len(summaries)} registered models"

    async def check_models() -> str:
        return _serving_health(server)

    app = create_service_app(
        SERVICE,
        settings=settings,
        routers=[ml_router()],
        dependencies={"registry": check_registry, "models": check_models},
        metrics=metrics,
        description="Predictions of production models, the model catalogue, approvals.",
        lifespan=lifespan,
    )
    app.state.ml = _Ml(
        server, registry, policy or ApprovalPolicy(), online_store, max_rows, latency
    )
    install_auth(app, auth, limiter=limiter)
    install_ml_errors(app)
    return app


def _serving_health(server: ModelServer) -> str:
    """Return what is served; raise naming what is not as it should be."""
    if not server.running:
        msg = "the model server is not started"
        raise RuntimeError(msg)
    statuses = server.statuses()
    served = ", ".join(f"{s.name} v{s.version}" for s in statuses if s.version is not None)
    faults = [
        f"{s.name}: {s.last_error or 'no version in production'}"
        for s in statuses
        if s.last_error is not None or s.version is None
    ]
    if server.registry_error is not None:
        faults.insert(0, server.registry_error)
    if faults:
        raise RuntimeError("; ".join(faults) + (f" (serving {served})" if served else ""))
    return f"serving {served}" if served else "no model in production"
