"""The evaluation service over HTTP: metrics, tables, predictions, runs, drift, errors."""

from __future__ import annotations

import importlib
import math
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from quantgrid.adapters.market_data import Timeframe
from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator
from quantgrid.ml import FeatureSet, LogReturn
from quantgrid.services import PROBLEM_JSON, ServiceSettings, assert_stable_operation_ids
from quantgrid.services.evaluation import DriftCheck, Evaluator, create_app, parse_instant
from tests.unit.services.evaluation.conftest import (
    MINUTE,
    NOW,
    T0,
    FlakySource,
    Headers,
    SwitchableStore,
    minute_bars,
)

pytestmark = pytest.mark.anyio

PUBLIC = (
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
)
READS = (
    "/evaluation/metrics",
    "/evaluation/metrics/symbols",
    "/evaluation/metrics/models",
    "/evaluation/predictions",
    "/evaluation/drift",
)
ALL_IDS = ["p-early", "p-down", "p-bars", "p-duration", "p-ends", "p-later", "p-not-due"]


async def run_once(client: httpx.AsyncClient, headers: Headers) -> dict[str, Any]:
    answer = await client.post("/evaluation/runs", headers=headers(Role.ADMIN))
    assert answer.status_code == 200, answer.text
    run: dict[str, Any] = answer.json()
    return run


def assert_invalid(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    fields = [error["field"] for error in answer.json()["errors"]]
    assert f"query.{field}" in fields, fields


def test_the_public_api_is_stable() -> None:
    assert tuple(importlib.import_module("quantgrid.services.evaluation").__all__) == PUBLIC


def test_operation_ids_and_problems_are_described(app: FastAPI) -> None:
    assert_stable_operation_ids(app)
    schema = app.openapi()
    operations = {
        op["operationId"]: op
        for path, item in schema["paths"].items()
        if path.startswith("/evaluation")
        for op in item.values()
    }
    assert set(operations) == {
        "get_evaluation_metrics",
        "get_metrics_by_symbol",
        "get_metrics_by_model",
        "list_predictions",
        "run_evaluation",
        "list_drift_reports",
    }
    for name, operation in operations.items():
        assert "503" in operation["responses"], name
        if operation.get("parameters"):
            assert "422" in operation["responses"], name


async def test_metrics_of_the_whole_log_match_the_hand_count(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    await run_once(client, headers)

    answer = await client.get("/evaluation/metrics", headers=headers(Role.VIEWER))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["window"] == {
        "since_ns": None,
        "until_ns": None,
        "model": None,
        "version": None,
        "instrument": None,
    }
    assert (body["total"], body["resolved"], body["unresolvable"], body["pending"]) == (7, 2, 1, 4)
    assert body["unresolvable_by_reason"] == {"no_entry_bar": 1}
    # p-bars: a BUY at 0.8 that was right; p-duration: a SELL at 0.6 that was wrong.
    assert body["calls"] == {"count": 2, "hits": 1, "hit_rate": 0.5}
    assert body["holds"] == {"count": 0, "hits": 0, "hit_rate": None}
    assert body["brier_score"] == pytest.approx(((0.8 - 1) ** 2 + 0.6**2) / 2)
    assert [(b["lower"], b["count"], b["hits"]) for b in body["calibration"]] == [
        (0.6, 1, 0),
        (0.8, 1, 1),
    ]
    assert [(b["lower"], b["upper"]) for b in body["by_confidence"]] == [(0.6, 0.7), (0.8, 0.9)]
    # Both rose, and both prior returns were rises.
    assert body["baselines"] == {
        "always_up": {"count": 2, "hits": 2, "hit_rate": 1.0},
        "last_direction": {"count": 2, "hits": 2, "hit_rate": 1.0},
    }
    directional = (math.log(115 / 110) - math.log(115 / 112)) / 2
    assert body["mean_directional_return"] == pytest.approx(directional, abs=1e-15)
    (aaa,) = body["by_instrument"]
    assert (aaa["instrument_id"], aaa["count"], aaa["hits"]) == ("AAA", 2, 1)
    assert aaa["mean_confidence"] == pytest.approx(0.7)
    assert [(m["model_name"], m["model_version"], m["hits"]) for m in body["by_model"]] == [
        ("m", 1, 1),
        ("m", 2, 0),
    ]


async def test_the_window_filters_by_time_model_version_and_instrument(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    await run_once(client, headers)
    viewer = headers(Role.VIEWER)

    async def total(**params: Any) -> int:
        answer = await client.get("/evaluation/metrics", params=params, headers=viewer)
        assert answer.status_code == 200, answer.text
        count: int = answer.json()["total"]
        return count

    # [since, until): p-duration at T0 + 12m; until is exclusive, in either form.
    assert await total(since=T0 + 11 * MINUTE, until="2024-01-01T00:13:00Z") == 1
    assert await total(since="2024-01-01T00:12:00", until=T0 + 12 * MINUTE) == 0
    assert await total(since=T0 + 12 * MINUTE, until=T0 + 12 * MINUTE) == 0
    assert await total(model="m", version=2) == 1
    assert await total(version=1) == 6
    assert await total(model="other") == 0
    assert await total(instrument="BBB") == 1
    window = (
        await client.get(
            "/evaluation/metrics", params={"since": "2024-01-01T01:00:00+01:00"}, headers=viewer
        )
    ).json()["window"]
    assert window["since_ns"] == T0  # 01:00 at +01:00 is midnight UTC


async def test_per_symbol_and_per_model_tables(client: httpx.AsyncClient, headers: Headers) -> None:
    await run_once(client, headers)
    viewer = headers(Role.VIEWER)

    symbols = (await client.get("/evaluation/metrics/symbols", headers=viewer)).json()
    models = (
        await client.get("/evaluation/metrics/models", params={"model": "m"}, headers=viewer)
    ).json()

    assert [(s["instrument_id"], s["count"], s["hits"]) for s in symbols["items"]] == [
        ("AAA", 2, 1)
    ]
    assert [(m["model_version"], m["count"], m["hit_rate"]) for m in models["items"]] == [
        (1, 1, 1.0),
        (2, 1, 0.0),
    ]
    assert models["window"]["model"] == "m"


async def test_predictions_page_by_time_with_their_outcomes(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    await run_once(client, headers)
    viewer = headers(Role.VIEWER)
    seen: list[str] = []
    after: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3} | ({} if after is None else {"after": after})
        page = (await client.get("/evaluation/predictions", params=params, headers=viewer)).json()
        seen += [p["prediction_id"] for p in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break

    resolved = (
        await client.get("/evaluation/predictions", params={"resolved": True}, headers=viewer)
    ).json()["items"]

    assert seen == ALL_IDS
    by_id = {p["prediction_id"]: p for p in resolved}
    assert set(by_id) == {"p-bars", "p-duration", "p-early"}
    bars = by_id["p-bars"]
    assert bars["horizon"] == {"kind": "bars", "value": 5}
    assert bars["feature_snapshot"] == {"rsi_14": 55.0}
    assert bars["outcome"]["status"] == "resolved"
    assert (bars["outcome"]["entry_price"], bars["outcome"]["exit_price"]) == (110.0, 115.0)
    assert by_id["p-duration"]["probabilities"] == {"sell": 0.6, "buy": 0.3, "hold": 0.1}
    assert by_id["p-early"]["outcome"]["reason"] == "no_entry_bar"


async def test_a_run_answers_its_summary(client: httpx.AsyncClient, headers: Headers) -> None:
    run = await run_once(client, headers)
    again = await run_once(client, headers)

    assert (run["due"], run["resolved"], run["unresolvable"], run["pending"]) == (6, 2, 1, 2)
    assert run["failed_instruments"] == ["BBB"]
    assert run["summary"].startswith("6 due over 3 instrument(s): 2 resolved")
    assert (again["due"], again["saved"]) == (3, 0)


@pytest.mark.parametrize("role", [None, Role.VIEWER, Role.TRADER])
async def test_only_an_admin_runs_an_evaluation(
    client: httpx.AsyncClient, headers: Headers, store: SwitchableStore, role: Role | None
) -> None:
    answer = await client.post("/evaluation/runs", headers=headers(role))

    assert answer.status_code == (401 if role is None else 403)
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert all(store.get_prediction(pid).outcome is None for pid in ALL_IDS)  # type: ignore[union-attr]


@pytest.mark.parametrize("path", READS)
async def test_a_viewer_reads_and_a_stranger_does_not(
    client: httpx.AsyncClient, headers: Headers, path: str
) -> None:
    assert (await client.get(path, headers=headers(Role.VIEWER))).status_code == 200
    assert (await client.get(path, headers=headers(None))).status_code == 401


async def test_drift_is_an_empty_list_without_a_check(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    answer = await client.get("/evaluation/drift", headers=headers(Role.VIEWER))
    assert (answer.status_code, answer.json()) == (200, [])


class TestDrift:
    """``GET /evaluation/drift`` shows the latest check of each feature set."""

    @pytest.fixture
    def drift(self) -> DriftCheck:
        walk = 100.0 * np.exp(np.cumsum(np.random.default_rng(9).normal(0, 1e-3, 600)))
        bars = minute_bars("AAA", lambda k: walk[k - 1], 600)
        returns = FeatureSet("returns", (LogReturn(1),))
        reference = returns.compute(bars).values[:300]
        source = FlakySource({"AAA": bars})
        return DriftCheck(
            {"returns": reference},
            returns,
            source,
            ["AAA"],
            timeframe=Timeframe.M1,
            window_bars=200,
        )

    async def test_before_and_after_a_check(
        self, client: httpx.AsyncClient, headers: Headers, drift: DriftCheck
    ) -> None:
        viewer = headers(Role.VIEWER)
        assert (await client.get("/evaluation/drift", headers=viewer)).json() == []

        await drift.run(T0 + 600 * MINUTE)
        (shown,) = (await client.get("/evaluation/drift", headers=viewer)).json()

        (result,) = drift.latest()
        assert shown["feature_set"] == "returns"
        assert (shown["ts_checked"], shown["rows"]) == (T0 + 600 * MINUTE, 200)
        assert shown["status"] == result.report.status.value
        assert shown["features"][0]["psi"] == pytest.approx(result.report.features[0].psi)
        assert shown["features"][0]["current_count"] == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": T0 + 2, "until": T0 + 1}, "since"),
        ({"since": "2024-01-02", "until": "2024-01-01T23:59:59Z"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"until": "-5"}, "until"),
        ({"since": str(2**63)}, "since"),
        ({"since": "1969-12-31T23:59:59Z"}, "since"),
        ({"version": 0}, "version"),
        ({"version": -1}, "version"),
        ({"version": 2**31}, "version"),
        ({"model": "has space"}, "model"),
        ({"instrument": ""}, "instrument"),
    ],
)
@pytest.mark.parametrize("path", READS[:4])
async def test_bad_windows_answer_422_naming_the_parameter(
    client: httpx.AsyncClient, headers: Headers, path: str, params: dict[str, Any], field: str
) -> None:
    assert_invalid(await client.get(path, params=params, headers=headers(Role.VIEWER)), field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": -1}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": "garbage"}, "after"),
        ({"after": "12:"}, "after"),
        ({"after": "12:has space"}, "after"),
        ({"after": f"{2**63}:p-1"}, "after"),
        ({"resolved": "perhaps"}, "resolved"),
    ],
)
async def test_bad_listing_parameters_answer_422(
    client: httpx.AsyncClient, headers: Headers, params: dict[str, Any], field: str
) -> None:
    answer = await client.get(
        "/evaluation/predictions", params=params, headers=headers(Role.VIEWER)
    )
    assert_invalid(answer, field)


async def test_a_window_too_large_to_evaluate_is_refused(
    store: SwitchableStore, evaluator: Evaluator, auth: Authenticator, headers: Headers
) -> None:
    small = create_app(store, evaluator, ServiceSettings(), auth=auth, max_evaluated=3)
    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        answer = await client.get("/evaluation/metrics", headers=headers(Role.VIEWER))
        narrow = await client.get(
            "/evaluation/metrics", params={"instrument": "BBB"}, headers=headers(Role.VIEWER)
        )

    assert_invalid(answer, "since")
    assert "more than 3 predictions" in answer.json()["detail"]
    assert narrow.status_code == 200


async def test_a_store_down_answers_503_and_fails_its_health_check(
    client: httpx.AsyncClient, headers: Headers, store: SwitchableStore
) -> None:
    healthy = await client.get("/health/dependencies")
    store.down = True

    answers = [
        await client.get("/evaluation/metrics", headers=headers(Role.VIEWER)),
        await client.get("/evaluation/predictions", headers=headers(Role.VIEWER)),
        await client.post("/evaluation/runs", headers=headers(Role.ADMIN)),
    ]
    sick = await client.get("/health/dependencies")

    assert healthy.status_code == 200
    assert healthy.json()["dependencies"]["store"]["status"] == "ok"
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert answer.json()["dependency"] == "store"
    assert sick.status_code == 503
    assert sick.json()["dependencies"]["store"]["status"] == "down"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        (str(NOW), NOW),
        ("2024-01-01T00:30:00Z", NOW),
        ("2024-01-01T00:30:00", NOW),
        ("2024-01-01", T0),
        (" 2024-01-01T01:30:00+01:00 ", NOW),
        (str(2**63 - 1), 2**63 - 1),
    ],
)
def test_instants_are_iso_8601_or_nanoseconds(text: str, expected: int) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (str(2**63), "at most 2\\*\\*63 - 1"),
        ("1.5", "must be ISO 8601"),
        ("2262-04-11T00:00:00Z", "between 1970-01-01 and 2262-04-10"),
    ],
)
def test_bad_instants_name_the_rule(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_instant(text)
