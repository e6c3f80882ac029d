"""The ML service over HTTP: predictions, the catalogue, approvals, roles, problems."""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from quantgrid.adapters.features import MemoryOnlineStore
from quantgrid.adapters.registry import InMemoryModelRegistry
from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator
from quantgrid.ml import ModelStage, TrainingResult
from quantgrid.services import PROBLEM_JSON, ServiceSettings, assert_stable_operation_ids
from quantgrid.services.ml import MlSettings, ModelServer, ml_app
from tests.unit.services.ml.conftest import Headers
from tests.unit.services.ml.support import (
    FEATURES,
    STRICT,
    FlakyRegistry,
    register,
    row,
    to_production,
)

pytestmark = pytest.mark.anyio

X = np.random.default_rng(11).normal(size=(30, len(FEATURES)))
FEATURES_1 = row(X[0])
APPROVE = "/ml/models/{name}/versions/{version}/approve"


def assert_problem(response: httpx.Response, status: int, type_slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"urn:quantgrid:problem:{type_slug}"
    return problem


def up_proba(result: TrainingResult, x: np.ndarray) -> np.ndarray:
    """The model's own probability of an up move (class 1) for each row."""
    return result.model.predict_proba(x.reshape(-1, len(FEATURES)))[:, 1]


async def test_operation_ids_are_stable_and_errors_described(app: FastAPI) -> None:
    assert_stable_operation_ids(app)
    paths = app.openapi()["paths"]
    described = {
        (method, path): set(operation["responses"])
        for path, item in paths.items()
        for method, operation in item.items()
        if path.startswith("/ml")
    }
    assert described == {
        ("post", "/ml/predict"): {"200", "400", "404", "413", "422", "503", "default"},
        ("post", "/ml/predict/batch"): {"200", "400", "404", "413", "422", "default"},
        ("get", "/ml/models"): {"200", "503", "default"},
        ("get", "/ml/models/{name}"): {"200", "404", "422", "503", "default"},
        ("post", "/ml/models/{name}/versions/{version}/approve"): {
            "200",
            "400",
            "404",
            "409",
            "413",
            "422",
            "503",
            "default",
        },
    }
    operations = {op["operationId"] for item in paths.values() for op in item.values()}
    assert {
        "predict",
        "predict_batch",
        "list_models",
        "get_model",
        "approve_model_version",
    } <= operations


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER, Role.ADMIN])
async def test_every_role_predicts_with_the_production_version(
    client: httpx.AsyncClient, headers: Headers, v1_result: TrainingResult, role: Role
) -> None:
    response = await client.post(
        "/ml/predict", json={"model": "eurusd", "features": FEATURES_1}, headers=headers(role)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    up = float(up_proba(v1_result, X[0])[0])
    assert body["model"] == "eurusd" and body["version"] == 1
    assert body["probabilities"] == pytest.approx({"buy": up, "sell": 1 - up}, abs=1e-12)
    assert body["direction"] == ("buy" if up > 0.5 else "sell")
    assert body["confidence"] == pytest.approx(max(up, 1 - up), abs=1e-12)
    assert body["feature_names"] == list(FEATURES)
    assert body["instrument_id"] is None and body["features_ts"] is None


async def test_predicting_needs_credentials(client: httpx.AsyncClient, headers: Headers) -> None:
    response = await client.post(
        "/ml/predict", json={"model": "eurusd", "features": FEATURES_1}, headers=headers(None)
    )
    assert response.status_code == 401


async def test_features_that_do_not_fit_are_named(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    viewer = headers(Role.VIEWER)
    missing = {k: v for k, v in FEATURES_1.items() if k != "rsi_14"} | {"vol_20": 1.0}
    response = await client.post(
        "/ml/predict", json={"model": "eurusd", "features": missing}, headers=viewer
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["missing_features"] == ["rsi_14"]
    assert problem["unexpected_features"] == ["vol_20"]
    assert problem["errors"][0]["field"] == "body.features"
    assert "missing: rsi_14" in problem["detail"] and "unexpected: vol_20" in problem["detail"]

    # JSON has no NaN, but Python's parser takes one: refused, naming the feature.
    nan = '{"model": "eurusd", "features": {"ret_1": NaN, "ret_5": 0.1, "rsi_14": 50}}'
    response = await client.post(
        "/ml/predict", content=nan, headers=viewer | {"content-type": "application/json"}
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.features.ret_1"
    assert problem["errors"][0]["rule"] == "finite_number"


@pytest.mark.parametrize(
    "body",
    [
        {"model": "eurusd"},
        {"model": "eurusd", "features": FEATURES_1, "instrument_id": "EURUSD"},
        {"model": "eurusd", "features": FEATURES_1, "feature_set": "returns-v1"},
        {"model": "eur usd", "features": FEATURES_1},
        {"model": "eurusd", "features": {**FEATURES_1, "ret_1": "high"}},
        {"model": "eurusd", "features": FEATURES_1, "horizon": 5},
    ],
)
async def test_malformed_prediction_requests_are_refused(
    client: httpx.AsyncClient, headers: Headers, body: dict[str, Any]
) -> None:
    response = await client.post("/ml/predict", json=body, headers=headers(Role.VIEWER))
    assert_problem(response, 422, "validation-error")


async def test_an_unknown_model_is_a_404(client: httpx.AsyncClient, headers: Headers) -> None:
    response = await client.post(
        "/ml/predict",
        json={"model": "gbpusd", "features": FEATURES_1},
        headers=headers(Role.VIEWER),
    )
    problem = assert_problem(response, 404, "model-not-served")
    assert problem["model"] == "gbpusd"
    assert "model 'gbpusd' is not served" in problem["detail"]


async def test_features_are_read_from_the_online_store(
    client: httpx.AsyncClient,
    headers: Headers,
    online_store: MemoryOnlineStore,
    v1_result: TrainingResult,
) -> None:
    viewer = headers(Role.VIEWER)
    body = {"model": "eurusd", "instrument_id": "EURUSD"}
    response = await client.post("/ml/predict", json=body, headers=viewer)
    problem = assert_problem(response, 404, "features-not-found")
    assert "feature set 'returns-v1' of instrument 'EURUSD' are stored yet" in problem["detail"]

    # The stored set has a feature the model does not use, in another order.
    names = ("vol_20", *reversed(FEATURES))
    values = [9.0, *reversed(X[1].tolist())]
    online_store.put("returns-v1", "EURUSD", 1_000, names, values)
    response = await client.post("/ml/predict", json=body, headers=viewer)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["probabilities"]["buy"] == pytest.approx(up_proba(v1_result, X[1])[0], abs=1e-12)
    assert (answer["instrument_id"], answer["features_ts"]) == ("EURUSD", 1_000)
    named = body | {"feature_set": "returns-v1"}
    assert (await client.post("/ml/predict", json=named, headers=viewer)).status_code == 200

    other = body | {"feature_set": "default"}
    problem = assert_problem(
        await client.post("/ml/predict", json=other, headers=viewer), 422, "validation-error"
    )
    assert problem["errors"][0]["field"] == "body.feature_set"
    assert "trained on feature set 'returns-v1', not 'default'" in problem["detail"]

    # A feature still warming up is NaN in the store.
    online_store.put("returns-v1", "EURUSD", 2_000, FEATURES, [0.1, math.nan, 50.0])
    problem = assert_problem(
        await client.post("/ml/predict", json=body, headers=viewer), 422, "validation-error"
    )
    assert problem["non_finite_features"] == ["ret_5"]
    assert problem["errors"][0]["field"] == "body.instrument_id"


async def test_without_a_feature_store_stored_features_are_not_found(
    server: ModelServer, served_registry: InMemoryModelRegistry, auth: Authenticator
) -> None:
    app = ml_app(server, served_registry, ServiceSettings(), auth=auth)
    transport = httpx.ASGITransport(app=app)
    token = auth.login("viewer", "correct horse battery staple").access
    async with httpx.AsyncClient(transport=transport, base_url="http://ml") as client:
        response = await client.post(
            "/ml/predict",
            json={"model": "eurusd", "instrument_id": "EURUSD"},
            headers={"Authorization": f"Bearer {token}"},
        )
    problem = assert_problem(response, 404, "features-not-found")
    assert "this service has no feature store" in problem["detail"]


async def test_a_batch_is_answered_in_order_by_one_version(
    client: httpx.AsyncClient, headers: Headers, v1_result: TrainingResult
) -> None:
    rows = [row(x) for x in X]
    response = await client.post(
        "/ml/predict/batch", json={"model": "eurusd", "rows": rows}, headers=headers(Role.VIEWER)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model"], body["version"], body["feature_names"]) == ("eurusd", 1, list(FEATURES))
    ups = [p["probabilities"]["buy"] for p in body["predictions"]]
    np.testing.assert_allclose(ups, up_proba(v1_result, X), atol=1e-12)
    assert [p["direction"] for p in body["predictions"]] == [
        "buy" if up > 0.5 else "sell" for up in ups
    ]


async def test_bad_batches_are_refused_naming_the_row(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    viewer = headers(Role.VIEWER)
    rows = [row(x) for x in X[:5]]
    rows[3] = {k: v for k, v in rows[3].items() if k != "ret_1"}
    response = await client.post(
        "/ml/predict/batch", json={"model": "eurusd", "rows": rows}, headers=viewer
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.rows.3"
    assert problem["missing_features"] == ["ret_1"]

    too_many = {"model": "eurusd", "rows": [row(X[0])] * 51}  # the settings allow 50
    problem = assert_problem(
        await client.post("/ml/predict/batch", json=too_many, headers=viewer),
        422,
        "validation-error",
    )
    assert problem["errors"][0] == {
        "field": "body.rows",
        "rule": "too_long",
        "message": "at most 50 rows, got 51",
    }
    empty = await client.post(
        "/ml/predict/batch", json={"model": "eurusd", "rows": []}, headers=viewer
    )
    assert_problem(empty, 422, "validation-error")
    unknown = await client.post(
        "/ml/predict/batch", json={"model": "nosuch", "rows": [row(X[0])]}, headers=viewer
    )
    assert_problem(unknown, 404, "model-not-served")


async def test_the_catalogue_lists_versions_stages_figures_approvals_and_serving(
    client: httpx.AsyncClient,
    headers: Headers,
    served_registry: InMemoryModelRegistry,
    v1_result: TrainingResult,
    v2_result: TrainingResult,
) -> None:
    register(served_registry, "eurusd", v2_result)
    register(served_registry, "gbpusd", v2_result)
    response = await client.get("/ml/models", headers=headers(Role.VIEWER))
    assert response.status_code == 200, response.text
    eurusd, gbpusd = response.json()["models"]

    assert (eurusd["name"], eurusd["latest_version"], eurusd["production_version"]) == (
        "eurusd",
        2,
        1,
    )
    assert eurusd["serving"]["version"] == 1 and eurusd["serving"]["last_error"] is None
    v1, v2 = eurusd["versions"]
    assert (v1["stage"], v1["served"], v2["stage"], v2["served"]) == (
        "production",
        True,
        "none",
        False,
    )
    assert v1["metrics"]["roc_auc"] == pytest.approx(v1_result.metrics.roc_auc)
    assert [a["stage"] for a in v1["approvals"]] == ["staging", "production"]
    assert {a["approver"] for a in v1["approvals"]} == {"risk.officer"}
    assert v1["feature_set_name"] == "returns-v1" and v2["approvals"] == []
    assert gbpusd["serving"] is None and gbpusd["production_version"] is None

    one = await client.get("/ml/models/eurusd", headers=headers(Role.VIEWER))
    assert one.status_code == 200 and one.json() == eurusd


async def test_an_unknown_model_in_the_catalogue_is_a_404(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    viewer = headers(Role.VIEWER)
    problem = assert_problem(
        await client.get("/ml/models/nosuch", headers=viewer), 404, "model-not-found"
    )
    assert problem["detail"] == "no registered model is named 'nosuch'"
    bad_name = await client.get("/ml/models/-x", headers=viewer)
    assert_problem(bad_name, 422, "validation-error")
    assert (await client.get("/ml/models", headers=headers(None))).status_code == 401


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER])
async def test_only_an_admin_approves(
    client: httpx.AsyncClient,
    headers: Headers,
    served_registry: InMemoryModelRegistry,
    v2_result: TrainingResult,
    role: Role,
) -> None:
    version = register(served_registry, "eurusd", v2_result)
    response = await client.post(
        APPROVE.format(name="eurusd", version=version),
        json={"to_stage": "staging"},
        headers=headers(role),
    )
    assert response.status_code == 403
    assert served_registry.get_version("eurusd", version).stage is ModelStage.NONE


async def test_promotion_to_production_serves_the_version_at_once(
    client: httpx.AsyncClient,
    headers: Headers,
    served_registry: InMemoryModelRegistry,
    v2_result: TrainingResult,
) -> None:
    admin = headers(Role.ADMIN)
    version = register(served_registry, "eurusd", v2_result)
    path = APPROVE.format(name="eurusd", version=version)

    staged = await client.post(path, json={"to_stage": "staging"}, headers=admin)
    assert staged.status_code == 200, staged.text
    assert staged.json()["version"]["stage"] == "staging"
    assert staged.json()["serving"]["version"] == 1

    promoted = await client.post(path, json={"to_stage": "production"}, headers=admin)
    assert promoted.status_code == 200, promoted.text
    answer = promoted.json()
    assert answer["version"]["stage"] == "production" and answer["version"]["served"]
    assert answer["serving"]["version"] == 2 and answer["serving"]["reloads"] == 2
    assert [a["approver"] for a in answer["version"]["approvals"]] == ["admin", "admin"]
    predicted = await client.post(
        "/ml/predict", json={"model": "eurusd", "features": FEATURES_1}, headers=admin
    )
    assert predicted.json()["version"] == 2
    assert served_registry.get_version("eurusd", 1).stage is ModelStage.ARCHIVED


async def test_refused_approvals_are_409s_that_say_why(
    client: httpx.AsyncClient,
    headers: Headers,
    served_registry: InMemoryModelRegistry,
    v2_result: TrainingResult,
) -> None:
    admin = headers(Role.ADMIN)
    version = register(served_registry, "eurusd", v2_result)
    path = APPROVE.format(name="eurusd", version=version)

    skipped = await client.post(path, json={"to_stage": "production"}, headers=admin)
    problem = assert_problem(skipped, 409, "stage-transition-refused")
    assert "cannot move to 'production': it can only go to 'staging'" in problem["detail"]

    bad_stage = await client.post(path, json={"to_stage": "archived"}, headers=admin)
    assert_problem(bad_stage, 422, "validation-error")
    missing = await client.post(
        APPROVE.format(name="eurusd", version=9), json={"to_stage": "staging"}, headers=admin
    )
    problem = assert_problem(missing, 404, "model-not-found")
    assert problem["detail"] == "model 'eurusd' has no version 9 (it has 2)"
    zero = await client.post(
        APPROVE.format(name="eurusd", version=0), json={"to_stage": "staging"}, headers=admin
    )
    assert_problem(zero, 422, "validation-error")
    assert served_registry.get_version("eurusd", version).stage is ModelStage.NONE


async def test_a_policy_refusal_names_each_failed_check(
    server: ModelServer,
    served_registry: InMemoryModelRegistry,
    auth: Authenticator,
    headers: Headers,
    v2_result: TrainingResult,
) -> None:
    app = ml_app(server, served_registry, MlSettings(), auth=auth, policy=STRICT)
    version = register(served_registry, "eurusd", v2_result)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ml") as client:
        response = await client.post(
            APPROVE.format(name="eurusd", version=version),
            json={"to_stage": "staging"},
            headers=headers(Role.ADMIN),
        )
    problem = assert_problem(response, 409, "approval-rejected")
    auc = v2_result.metrics.roc_auc
    assert problem["failed_checks"] == [
        {"metric": "roc_auc", "value": auc, "threshold": 0.99, "bound": "min", "passed": False}
    ]
    assert f"roc_auc = {auc:.4g}, must be >= 0.99" in problem["detail"]
    assert served_registry.get_version("eurusd", version).stage is ModelStage.NONE


async def test_health_shows_the_registry_and_the_served_models(
    v1_result: TrainingResult, v2_result: TrainingResult, auth: Authenticator
) -> None:
    registry = FlakyRegistry()
    to_production(registry, "eurusd", register(registry, "eurusd", v1_result))
    server = ModelServer(registry, reload_interval_s=None)
    app = ml_app(server, registry, MlSettings(), auth=auth)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ml") as client:
        before = await client.get("/health/dependencies")
        assert before.status_code == 503
        assert "not started" in before.json()["dependencies"]["models"]["detail"]

        await server.start()
        healthy = (await client.get("/health/dependencies")).json()
        assert healthy["status"] == "ok"
        assert healthy["dependencies"]["models"]["detail"] == "serving eurusd v1"
        assert healthy["dependencies"]["registry"]["detail"] == "1 registered models"

        registry.broken.add(2)
        to_production(registry, "eurusd", register(registry, "eurusd", v2_result))
        await server.reload_now("eurusd")
        failing = await client.get("/health/dependencies")
        assert failing.status_code == 503
        detail = failing.json()["dependencies"]["models"]["detail"]
        assert "eurusd: loading version 2 failed: OSError" in detail
        assert "(serving eurusd v1)" in detail
        await server.stop()


async def test_a_registry_that_fails_is_a_503_to_retry(
    v1_result: TrainingResult, auth: Authenticator, headers: Headers
) -> None:
    registry = FlakyRegistry()
    to_production(registry, "eurusd", register(registry, "eurusd", v1_result))
    server = ModelServer(registry, reload_interval_s=None)
    await server.start()
    registry.down = True
    app = ml_app(server, registry, MlSettings(), auth=auth)
    transport = httpx.ASGITransport(app=app)
    viewer = headers(Role.VIEWER)
    async with httpx.AsyncClient(transport=transport, base_url="http://ml") as client:
        response = await client.get("/ml/models", headers=viewer)
        health = await client.get("/health/dependencies")
        # Serving does not need the registry: the loaded version answers.
        predicted = await client.post(
            "/ml/predict", json={"model": "eurusd", "features": FEATURES_1}, headers=viewer
        )
    await server.stop()
    problem = assert_problem(response, 503, "dependency-unavailable")
    assert problem["dependency"] == "model-registry"
    assert response.headers["retry-after"] == "5"
    assert health.json()["dependencies"]["registry"]["status"] == "down"
    assert predicted.status_code == 200


async def test_the_lifespan_starts_and_stops_the_server(
    served_registry: InMemoryModelRegistry, auth: Authenticator
) -> None:
    server = ModelServer(served_registry, reload_interval_s=None)
    app = ml_app(server, served_registry, MlSettings(), auth=auth)
    async with app.router.lifespan_context(app):
        assert server.running and server.status("eurusd").version == 1
    assert not server.running


async def test_metrics_count_predictions_reloads_and_latency(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    viewer = headers(Role.VIEWER)
    for _ in range(3):
        await client.post(
            "/ml/predict", json={"model": "eurusd", "features": FEATURES_1}, headers=viewer
        )
    await client.post(
        "/ml/predict/batch", json={"model": "eurusd", "rows": [FEATURES_1] * 4}, headers=viewer
    )
    text = (await client.get("/metrics")).text
    assert 'quantgrid_ml_predictions_total{model="eurusd",version="1"} 7.0' in text
    assert 'quantgrid_ml_model_reloads_total{model="eurusd"} 1.0' in text
    assert 'quantgrid_ml_model_reload_failures_total{model="eurusd"} 0.0' in text
    assert 'quantgrid_ml_served_version{model="eurusd"} 1.0' in text
    single = 'quantgrid_ml_prediction_duration_seconds_count{kind="single",model="eurusd"} 3.0'
    batch = 'quantgrid_ml_prediction_duration_seconds_count{kind="batch",model="eurusd"} 1.0'
    assert single in text and batch in text
