"""The ML service: production models served in process and over HTTP, hot reloaded.

`ModelServer` loads the production version of registered models from a
`quantgrid.adapters.registry.ModelRegistry` and predicts in process (tens of
microseconds a row); it polls the registry and swaps in a newly promoted version
without failing a prediction. ``ml_app(server, registry, settings, auth=...)`` serves
``POST /ml/predict`` and ``/ml/predict/batch``, ``GET /ml/models`` and
``/ml/models/{name}``, and ``POST /ml/models/{name}/versions/{version}/approve``, which
promotes through the approval policy and reloads at once. Viewers predict and list;
admins approve. `MlSettings` reads ``QUANTGRID_ML_*``.
"""

from quantgrid.services.ml._app import ml_app, ml_router
from quantgrid.services.ml._errors import InvalidFeaturesError, ModelNotServedError
from quantgrid.services.ml._metrics import PREDICTION_BUCKETS, ServingCollector
from quantgrid.services.ml._models import (
    ApprovalCheckOut,
    ApproveBody,
    ApprovedOut,
    BatchRowOut,
    ModelApprovalOut,
    ModelBatchOut,
    ModelListOut,
    ModelOut,
    ModelPredictionOut,
    ModelVersionOut,
    PredictBatchBody,
    PredictBody,
    ServingOut,
)
from quantgrid.services.ml._problems import install_ml_errors
from quantgrid.services.ml._served import (
    MODEL_NAME_PATTERN,
    ServedBatch,
    ServedModelStatus,
    ServedPrediction,
)
from quantgrid.services.ml._server import ModelServer
from quantgrid.services.ml._settings import APPROVAL_FLOOR_SETTINGS, MAX_BATCH_ROWS, MlSettings

__all__ = [
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
]
