"""End to end on MLflow: train, log, approve to staging and production over HTTP, serve."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from quantgrid.adapters.registry import MlflowRegistry
from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator
from quantgrid.ml import TrainingResult
from quantgrid.services.ml import MlSettings, ModelServer, ml_app
from tests.unit.services.ml.conftest import Headers
from tests.unit.services.ml.support import FEATURES, LENIENT, register, row

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _quiet_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow draws a progress bar on stderr for every artefact download."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


async def test_a_model_logged_to_mlflow_and_approved_over_http_is_served(
    tmp_path: Path,
    auth: Authenticator,
    headers: Headers,
    v1_result: TrainingResult,
    v2_result: TrainingResult,
) -> None:
    registry = MlflowRegistry.in_directory(tmp_path / "mlflow")
    first = register(registry, "eurusd", v1_result)
    server = ModelServer(registry, reload_interval_s=None)
    app = ml_app(server, registry, MlSettings(), auth=auth, policy=LENIENT)
    x = np.random.default_rng(5).normal(size=(3, len(FEATURES)))
    admin, viewer = headers(Role.ADMIN), headers(Role.VIEWER)

    async def approve(client: httpx.AsyncClient, version: int, stage: str) -> httpx.Response:
        path = f"/ml/models/eurusd/versions/{version}/approve"
        return await client.post(path, json={"to_stage": stage}, headers=admin)

    async def predict(client: httpx.AsyncClient) -> httpx.Response:
        body = {"model": "eurusd", "rows": [row(v) for v in x]}
        return await client.post("/ml/predict/batch", json=body, headers=viewer)

    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://ml") as client,
    ):
        not_yet = await predict(client)
        assert not_yet.status_code == 404
        assert (await approve(client, first, "staging")).status_code == 200
        promoted = await approve(client, first, "production")
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["serving"]["version"] == 1
        served_v1 = (await predict(client)).json()

        second = register(registry, "eurusd", v2_result)
        await approve(client, second, "staging")
        assert (await approve(client, second, "production")).json()["serving"]["version"] == 2
        served_v2 = (await predict(client)).json()
        catalogue = (await client.get("/ml/models/eurusd", headers=viewer)).json()

    for served, result, version in ((served_v1, v1_result, 1), (served_v2, v2_result, 2)):
        assert served["version"] == version
        ups = [p["probabilities"]["buy"] for p in served["predictions"]]
        np.testing.assert_allclose(ups, result.model.predict_proba(x)[:, 1], atol=1e-12)
    assert [v["stage"] for v in catalogue["versions"]] == ["archived", "production"]
    assert catalogue["serving"]["version"] == 2
    assert catalogue["versions"][1]["approvals"][-1]["approver"] == "admin"
    assert catalogue["versions"][1]["metrics"]["roc_auc"] == pytest.approx(
        v2_result.metrics.roc_auc
    )
