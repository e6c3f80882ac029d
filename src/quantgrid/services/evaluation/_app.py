"""The evaluation service: prediction metrics, predictions, evaluation runs and drift."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.exceptions import RequestValidationError

from quantgrid.adapters.storage import (
    InvalidRecordError,
    PredictionStore,
    Role,
    StoreUnavailableError,
)
from quantgrid.core import dt_to_ns
from quantgrid.gateway import Authenticator, Principal, RateLimiter, install_auth, require_role
from quantgrid.ml import EvaluationReport, Prediction, PredictionOutcome, evaluate_predictions
from quantgrid.services import (
    DependencyUnavailableError,
    ServiceMetrics,
    ServiceSettings,
    create_service_app,
    problem_responses,
)
from quantgrid.services.evaluation._drift import DriftResults
from quantgrid.services.evaluation._evaluator import Evaluator
from quantgrid.services.evaluation._models import (
    DriftOut,
    EvaluationRunOut,
    InstrumentScoreOut,
    InstrumentTableOut,
    MetricsOut,
    ModelScoreOut,
    ModelTableOut,
    PredictionOut,
    PredictionPage,
    WindowOut,
)

SERVICE = "evaluation"
#: The most predictions one metrics answer evaluates; a wider window is refused (422).
DEFAULT_MAX_EVALUATED = 200_000
#: The store's largest page.
MAX_PAGE = 1000
_TS_MAX = 2**63 - 1
_VERSION_MAX = 2**31 - 1  # the stores keep versions as 32-bit integers
# Ids as the stores keep them: no whitespace or control characters.
ID_PATTERN = r"^[^\s\x00-\x1f\x7f]{1,128}$"
_ID = re.compile(ID_PATTERN)
_DIGITS = re.compile(r"[0-9]{1,25}")
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2262, 4, 11, tzinfo=UTC)  # within int64 nanoseconds

T = TypeVar("T")
# The store's names of the query's parameters, as its errors give them.
_STORE_FIELDS = (
    ("model_name", "model"),
    ("model_version", "version"),
    ("instrument_id", "instrument"),
    ("since_ns", "since"),
    ("until_ns", "until"),
    ("limit", "limit"),
    ("after", "after"),
)

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]

_INSTANT = "ISO 8601 (`2024-05-01T13:30:00Z`; naive is UTC) or integer nanoseconds since the epoch."
Since = Annotated[
    str | None,
    Query(max_length=64, description=f"Predictions made at or after this time: {_INSTANT}"),
]
Until = Annotated[
    str | None,
    Query(max_length=64, description=f"Predictions made before this time: {_INSTANT}"),
]
ModelName = Annotated[
    str | None, Query(pattern=ID_PATTERN, description="Only this model's predictions.")
]
Version = Annotated[
    int | None,
    Query(ge=1, le=_VERSION_MAX, description="Only predictions of this registered version."),
]
InstrumentId = Annotated[
    str | None, Query(pattern=ID_PATTERN, description="Only predictions on this instrument.")
]


@dataclass(frozen=True, slots=True)
class Window:
    """The predictions a query covers: ``ts_event`` in ``[since_ns, until_ns)``, filtered."""

    since_ns: int | None
    until_ns: int | None
    model: str | None
    version: int | None
    instrument: str | None

    def out(self) -> WindowOut:
        """Return the window as answered."""
        return WindowOut(
            since_ns=self.since_ns,
            until_ns=self.until_ns,
            model=self.model,
            version=self.version,
            instrument=self.instrument,
        )

    def filters(self) -> dict[str, Any]:
        """Return the window as ``PredictionStore.list_predictions`` filters."""
        return {
            "model_name": self.model,
            "model_version": self.version,
            "instrument_id": self.instrument,
            "since_ns": self.since_ns,
            "until_ns": self.until_ns,
        }


def _error(field: str, rule: str, message: str) -> dict[str, Any]:
    return {"loc": ("query", field), "type": rule, "msg": message}


def parse_instant(text: str) -> int:
    """Return ``text`` (ISO 8601, naive UTC, or integer nanoseconds) as UTC nanoseconds.

    Raises
    ------
    ValueError
        Naming the rule: a number out of int64 nanoseconds, a date before 1970 or
        after 2262-04-10, or text that is neither.
    """
    text = text.strip()
    if _DIGITS.fullmatch(text):
        value = int(text)
        if value > _TS_MAX:
            raise ValueError("integer nanoseconds must be at most 2**63 - 1")
        return value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        msg = "must be ISO 8601 (2024-05-01T13:30:00Z) or integer nanoseconds since the epoch"
        raise ValueError(msg) from None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not _EARLIEST <= aware < _LATEST:
        raise ValueError("must be between 1970-01-01 and 2262-04-10 (int64 nanoseconds)")
    return dt_to_ns(aware)


async def _window(
    since: Since = None,
    until: Until = None,
    model: ModelName = None,
    version: Version = None,
    instrument: InstrumentId = None,
) -> Window:
    errors = []
    bounds: dict[str, int | None] = {"since": None, "until": None}
    for name, text in (("since", since), ("until", until)):
        if text is not None:
            try:
                bounds[name] = parse_instant(text)
            except ValueError as error:
                errors.append(_error(name, "instant", str(error)))
    start, end = bounds["since"], bounds["until"]
    if start is not None and end is not None and start > end:
        errors.append(_error("since", "not_after_until", "must not be after until"))
    if errors:
        raise RequestValidationError(errors)
    return Window(start, end, model, version, instrument)


WindowQuery = Annotated[Window, Depends(_window)]


def _check_cursor(after: str | None) -> None:
    if after is None:
        return
    ts, sep, key = after.partition(":")
    if not (sep and _DIGITS.fullmatch(ts) and int(ts) <= _TS_MAX and _ID.fullmatch(key)):
        message = "must be a next_cursor a listing answered ('<ts_event>:<prediction_id>')"
        raise RequestValidationError([_error("after", "cursor", message)])


async def _call(fn: Callable[[], T]) -> T:
    """Run a store call in a worker thread: down is a 503, a refused query value a 422."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except StoreUnavailableError as error:
        raise DependencyUnavailableError("store", str(error)) from error
    except InvalidRecordError as error:
        # A value the store refuses that the query's own rules let through.
        message = str(error)
        field = next((q for name, q in _STORE_FIELDS if f"{name} must" in message), "query")
        raise RequestValidationError([_error(field, "store_rule", message)]) from None


class _Metrics:
    """Evaluate the predictions of a window, reading the store a page at a time."""

    def __init__(self, store: PredictionStore, max_evaluated: int) -> None:
        self.store = store
        self.max_evaluated = max_evaluated

    async def report(self, window: Window) -> EvaluationReport:
        return await _call(lambda: self._report(window))

    def _report(self, window: Window) -> EvaluationReport:
        pairs: list[tuple[Prediction, PredictionOutcome | None]] = []
        after: str | None = None
        while True:
            page = self.store.list_predictions(**window.filters(), limit=MAX_PAGE, after=after)
            pairs.extend((s.prediction, s.outcome) for s in page.items)
            if len(pairs) > self.max_evaluated:
                message = (
                    f"the window holds more than {self.max_evaluated:,} predictions; "
                    "narrow it with since, until, model, version or instrument"
                )
                raise RequestValidationError([_error("since", "window_too_large", message)])
            if page.next_cursor is None:
                return evaluate_predictions(pairs)
            after = page.next_cursor


def evaluation_router(
    store: PredictionStore,
    evaluator: Evaluator,
    drift: DriftResults | None = None,
    *,
    max_evaluated: int = DEFAULT_MAX_EVALUATED,
) -> APIRouter:
    """Return the routes of ``/evaluation``."""
    metrics = _Metrics(store, max_evaluated)
    router = APIRouter(
        prefix="/evaluation",
        tags=["evaluation"],
        responses=problem_responses({503: "The prediction store is unavailable."}),
    )

    @router.get("/metrics")
    async def get_evaluation_metrics(_caller: Viewer, window: WindowQuery) -> MetricsOut:
        """How the predictions of a window did: hit rate, Brier score, calibration.

        Per instrument, per confidence bucket and per model version, beside the
        always-up and last-direction baselines on the same calls, with the counts of
        pending and unresolvable predictions (by reason).
        """
        return MetricsOut.of(window.out(), await metrics.report(window))

    @router.get("/metrics/symbols")
    async def get_metrics_by_symbol(_caller: Viewer, window: WindowQuery) -> InstrumentTableOut:
        """The calls of a window per instrument: count, hit rate, confidence, return."""
        report = await metrics.report(window)
        items = [InstrumentScoreOut.of(s) for s in report.by_instrument]
        return InstrumentTableOut(window=window.out(), items=items)

    @router.get("/metrics/models")
    async def get_metrics_by_model(_caller: Viewer, window: WindowQuery) -> ModelTableOut:
        """The calls of a window per model name and version."""
        report = await metrics.report(window)
        items = [ModelScoreOut.of(s) for s in report.by_model]
        return ModelTableOut(window=window.out(), items=items)

    @router.get("/predictions")
    async def list_predictions(
        _caller: Viewer,
        window: WindowQuery,
        resolved: Annotated[
            bool | None, Query(description="Only those with (true) or without (false) an outcome.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        after: Annotated[
            str | None, Query(max_length=160, description="The previous page's `next_cursor`.")
        ] = None,
    ) -> PredictionPage:
        """List predictions with their outcomes, by time then id, a page at a time."""
        _check_cursor(after)
        page = await _call(
            lambda: store.list_predictions(
                **window.filters(), resolved=resolved, limit=limit, after=after
            )
        )
        return PredictionPage(
            items=[PredictionOut.of(s) for s in page.items], next_cursor=page.next_cursor
        )

    @router.post("/runs")
    async def run_evaluation(_caller: Admin) -> EvaluationRunOut:
        """Resolve the due predictions now, as the scheduled job does; answer what it did.

        Instruments whose bars the market data could not give are named; their
        predictions stay due. A run waits for one in progress to end.
        """
        try:
            run = await evaluator.resolve_due()
        except StoreUnavailableError as error:
            raise DependencyUnavailableError("store", str(error)) from error
        return EvaluationRunOut.of(run)

    @router.get("/drift")
    async def list_drift_reports(_caller: Viewer) -> list[DriftOut]:
        """The latest drift check of each feature set (PSI per feature against training).

        An empty list until a check has run, or when the service checks no drift.
        """
        return [] if drift is None else [DriftOut.of(r) for r in drift.latest()]

    return router


def create_app(
    store: PredictionStore,
    evaluator: Evaluator,
    settings: ServiceSettings,
    *,
    auth: Authenticator,
    limiter: RateLimiter | None = None,
    drift: DriftResults | None = None,
    metrics: ServiceMetrics | None = None,
    max_evaluated: int = DEFAULT_MAX_EVALUATED,
) -> FastAPI:
    """Return the evaluation service.

    Parameters
    ----------
    store
        Where predictions and outcomes are kept.
    evaluator
        What ``POST /evaluation/runs`` runs (the scheduler's "evaluate" job runs the
        same one).
    settings
        The service's settings (``ServiceSettings.from_env()``).
    auth, limiter
        Who checks callers' credentials and budgets: viewers read, admins run.
    drift
        The drift check whose latest results ``GET /evaluation/drift`` shows; None if
        this process checks none.
    metrics
        The service's metrics, if made already.
    max_evaluated
        The most predictions one metrics answer evaluates.

    Notes
    -----
    The app starts nothing: the scheduler runs the jobs, and the composition root
    opens and closes the store and the source.
    """

    async def store_check() -> str:
        await _call(lambda: store.list_predictions(limit=1))
        return "predictions readable"

    app = create_service_app(
        SERVICE,
        settings=settings,
        routers=[evaluation_router(store, evaluator, drift, max_evaluated=max_evaluated)],
        dependencies={"store": store_check},
        metrics=metrics or ServiceMetrics(SERVICE),
        description="Prediction outcomes: metrics over a window, per symbol and model "
        "version, against naive baselines; evaluation runs; feature drift.",
    )
    install_auth(app, auth, limiter=limiter)
    return app
