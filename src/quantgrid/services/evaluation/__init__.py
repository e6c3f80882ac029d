"""The evaluation service: how the models' predictions did, and whether features drift.

``Evaluator.resolve_due`` resolves the logged predictions whose horizon has passed
against market data and stores their outcomes (the scheduler's "evaluate" job, through
``evaluation_job``); ``DriftCheck.run`` compares recent features with their training
sample by PSI (the "drift" job) and calls a hook on a significant drift.
``create_app(store, evaluator, settings, auth=...)`` serves ``GET /evaluation/metrics``
(hit rate, Brier score, calibration, per symbol, confidence bucket and model version,
against always-up and last-direction baselines), ``/evaluation/metrics/symbols``,
``/evaluation/metrics/models``, ``/evaluation/predictions`` and ``/evaluation/drift``
to viewers, and ``POST /evaluation/runs`` to admins.
"""

from quantgrid.services.evaluation._app import (
    DEFAULT_MAX_EVALUATED,
    create_app,
    evaluation_router,
    parse_instant,
)
from quantgrid.services.evaluation._bars import fetch_bars
from quantgrid.services.evaluation._drift import (
    DriftCheck,
    DriftCheckError,
    DriftHook,
    DriftResult,
    DriftResults,
    Reference,
)
from quantgrid.services.evaluation._evaluator import (
    EvaluationFailedError,
    EvaluationRun,
    Evaluator,
    evaluation_job,
)
from quantgrid.services.evaluation._models import (
    BaselinesOut,
    ConfidenceBinOut,
    DriftOut,
    EvaluationRunOut,
    FeatureDriftOut,
    HitRateOut,
    HorizonOut,
    InstrumentScoreOut,
    InstrumentTableOut,
    MetricsOut,
    ModelScoreOut,
    ModelTableOut,
    OutcomeOut,
    PredictionOut,
    PredictionPage,
    WindowOut,
)

__all__ = [
    "DEFAULT_MAX_EVALUATED",
    "BaselinesOut",
    "ConfidenceBinOut",
    "DriftCheck",
    "DriftCheckError",
    "DriftHook",
    "DriftOut",
    "DriftResult",
    "DriftResults",
    "EvaluationFailedError",
    "EvaluationRun",
    "EvaluationRunOut",
    "Evaluator",
    "FeatureDriftOut",
    "HitRateOut",
    "HorizonOut",
    "InstrumentScoreOut",
    "InstrumentTableOut",
    "MetricsOut",
    "ModelScoreOut",
    "ModelTableOut",
    "OutcomeOut",
    "PredictionOut",
    "PredictionPage",
    "Reference",
    "WindowOut",
    "create_app",
    "evaluation_job",
    "evaluation_router",
    "fetch_bars",
    "parse_instant",
]
