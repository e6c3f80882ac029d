"""The ML service's public API is deliberate: this test changes with it."""

from __future__ import annotations

import importlib

PUBLIC = (
    "APPROVAL_FLOOR_SETTINGS",
    "MAX_BATCH_ROWS",
    "MODEL_NAME_PATTERN",
    "PREDICTION_BUCKETS",
    "ApprovalCheckOut",
    "ApproveBody",
    "ApprovedOut",
    "BatchRowOut",
    "InvalidFeaturesError",
    "MlSettings",
    "ModelApprovalOut",
    "ModelBatchOut",
    "ModelListOut",
    "ModelNotServedError",
    "ModelOut",
    "ModelPredictionOut",
    "ModelServer",
    "ModelVersionOut",
    "PredictBatchBody",
    "PredictBody",
    "ServedBatch",
    "ServedModelStatus",
    "ServedPrediction",
    "ServingCollector",
    "ServingOut",
    "install_ml_errors",
    "ml_app",
    "ml_router",
)


def test_the_public_api_is_stable() -> None:
    module = importlib.import_module("quantgrid.services.ml")
    assert tuple(module.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(module, name) is not None
