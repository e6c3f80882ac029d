"""The regime routes over HTTP: current, history, batch, overview; problems and roles."""

from __future__ import annotations

import itertools

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from quantgrid.adapters.cache import InMemoryCache
from quantgrid.adapters.market_data import InMemorySource
from quantgrid.core import NANOS_PER_SECOND, TestClock, ns_to_iso
from quantgrid.gateway import Authenticator
from quantgrid.model import BarSeries
from quantgrid.regime import RegimeDetector
from quantgrid.services import PROBLEM_JSON, assert_stable_operation_ids
from quantgrid.services.regime import (
    MAX_BATCH_SYMBOLS,
    RegimeSettings,
    create_app,
    market_regime,
    regime_name,
)
from tests.unit.services.market_data.support import FaultySource, bearer, client
from tests.unit.services.regime.conftest import LOOKBACK, CountingDetector

pytestmark = pytest.mark.anyio

MINUTE = 60 * NANOS_PER_SECOND
OPERATIONS = {
    "get_regime": ("GET", "/regime/SYN0"),
    "get_regime_history": ("GET", "/regime/SYN0/history"),
    "get_regimes_batch": ("POST", "/regime/batch"),
    "get_regime_overview": ("GET", "/regime/overview"),
}


def expected(bars: dict[str, BarSeries], end: int, count: int) -> dict[str, object]:
    """Detect directly on the last ``count`` bars up to ``end``: what the service should say."""
    window = {}
    for symbol, series in bars.items():
        stop = int(np.searchsorted(series.ts, end, side="right"))
        window[symbol] = series.slice(stop - count, stop)
    return RegimeDetector().detect(window)  # type: ignore[return-value]


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    return body


async def test_the_current_regime_is_the_detectors_on_the_latest_bars(
    viewer: httpx.AsyncClient, market_bars: dict[str, BarSeries]
) -> None:
    last = int(market_bars["SYN1"].ts[-1])
    frame = expected(market_bars, last, LOOKBACK)["SYN1"]

    body = (await viewer.get("/regime/SYN1")).json()

    assert body["symbol"] == "SYN1"
    assert body["regime"] == regime_name(int(frame.regime[-1]))  # type: ignore[attr-defined]
    assert body["confidence"] == frame.confidence[-1]  # type: ignore[attr-defined]
    assert (body["ts_event"], body["as_of"]) == (last, ns_to_iso(last))
    assert body["timeframe"] == "1m"
    assert body["indicators"]["adx"] == frame.adx[-1]  # type: ignore[attr-defined]
    assert body["indicators"]["correlation"] is not None
    assert body["regime"] in {"TRENDING", "RANGING", "CHOPPY", "CRISIS"}


async def test_the_current_regimes_are_computed_once_per_ttl(
    viewer: httpx.AsyncClient, detector: CountingDetector, clock: TestClock
) -> None:
    for path in ("/regime/SYN0", "/regime/SYN1", "/regime/overview", "/regime/SYN2"):
        assert (await viewer.get(path)).status_code == 200
    assert detector.detections == 1

    clock.set_time(clock.timestamp_ns() + 31 * NANOS_PER_SECOND)  # the TTL is 30 s
    await viewer.get("/regime/SYN0")
    assert detector.detections == 2


async def test_history_is_each_bars_regime_within_the_window(
    viewer: httpx.AsyncClient, market_bars: dict[str, BarSeries]
) -> None:
    start, end = "2024-01-02T10:00:00Z", "2024-01-02T12:00:00Z"

    body = (await viewer.get("/regime/SYN2/history", params={"start": start, "end": end})).json()

    points = body["points"]
    assert len(points) == 120
    end_ns = int(market_bars["SYN2"].ts[0]) - MINUTE + (24 + 12) * 60 * MINUTE
    assert points[-1]["ts_event"] == end_ns
    assert points[0]["ts_event"] == end_ns - 119 * MINUTE
    frame = expected(market_bars, end_ns, LOOKBACK + 120)["SYN2"]  # the look-back, then the window
    assert [p["regime"] for p in points] == [
        regime_name(int(r))
        for r in frame.regime[-120:]  # type: ignore[attr-defined]
    ]
    assert [p["confidence"] for p in points] == frame.confidence[-120:].tolist()  # type: ignore[attr-defined]
    segments = body["segments"]
    assert sum(s["bars"] for s in segments) == 120
    assert segments[0]["start_ts"] == points[0]["ts_event"]
    assert segments[-1]["end_ts"] == points[-1]["ts_event"]
    assert all(a["regime"] != b["regime"] for a, b in itertools.pairwise(segments))
    assert (body["start"], body["end"]) == ("2024-01-02T10:00:00Z", "2024-01-02T12:00:00Z")


async def test_history_defaults_to_the_last_24_hours(
    viewer: httpx.AsyncClient, market_bars: dict[str, BarSeries]
) -> None:
    body = (await viewer.get("/regime/SYN0/history")).json()

    assert len(body["points"]) == 1440
    assert body["points"][-1]["ts_event"] == int(market_bars["SYN0"].ts[-1])


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"start": "2024-01-02", "end": "2024-01-01"}, "query.start", "before_end"),
        ({"start": "2024-01-01", "end": "2024-02-01"}, "query.start", "max_window"),
        ({"start": "soon"}, "query.start", "datetime_from_date_parsing"),
        ({"end": "1969-12-31T23:59:59Z"}, "query.end", "value_error"),
    ],
)
async def test_bad_history_queries_are_422_problems(
    viewer: httpx.AsyncClient, params: dict[str, str], field: str, rule: str
) -> None:
    body = problem(await viewer.get("/regime/SYN0/history", params=params), 422)

    first = body["errors"][0]  # type: ignore[index]
    assert (first["field"], first["rule"]) == (field, rule)


@pytest.mark.parametrize("path", ["/regime/NOPE", "/regime/NOPE/history"])
async def test_an_unknown_symbol_is_a_404(viewer: httpx.AsyncClient, path: str) -> None:
    body = problem(await viewer.get(path), 404)

    assert body["type"] == "urn:quantgrid:problem:unknown-symbol"
    assert body["symbol"] == "NOPE"


async def test_batch_answers_the_covered_symbols_and_lists_the_rest(
    viewer: httpx.AsyncClient,
) -> None:
    single = (await viewer.get("/regime/SYN2")).json()

    response = await viewer.post("/regime/batch", json={"symbols": ["SYN2", "ZZZ", "SYN0", "SYN2"]})

    assert response.status_code == 200
    body = response.json()
    assert [r["symbol"] for r in body["regimes"]] == ["SYN2", "SYN0"]
    assert body["regimes"][0] == single
    assert body["unknown"] == ["ZZZ"]
    assert body["as_of"] == single["as_of"]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"symbols": []}, "body.symbols", "too_short"),
        ({"symbols": ["X"] * (MAX_BATCH_SYMBOLS + 1)}, "body.symbols", "too_long"),
        ({"symbols": ["SYN0", "no way"]}, "body.symbols.1", "string_pattern_mismatch"),
        ({"symbols": "SYN0"}, "body.symbols", "list_type"),
        ({}, "body.symbols", "missing"),
    ],
)
async def test_bad_batches_are_422_problems(
    viewer: httpx.AsyncClient, body: object, field: str, rule: str
) -> None:
    answer = problem(await viewer.post("/regime/batch", json=body), 422)

    first = answer["errors"][0]  # type: ignore[index]
    assert (first["field"], first["rule"]) == (field, rule)


async def test_a_batch_that_is_not_json_is_a_400(viewer: httpx.AsyncClient) -> None:
    response = await viewer.post(
        "/regime/batch", content=b'{"symbols": [', headers={"Content-Type": "application/json"}
    )

    assert problem(response, 400)["type"] == "urn:quantgrid:problem:malformed-json"


async def test_the_overview_counts_regimes_and_labels_the_market(
    viewer: httpx.AsyncClient,
) -> None:
    regimes = [(await viewer.get(f"/regime/SYN{i}")).json() for i in range(3)]

    body = (await viewer.get("/regime/overview")).json()

    names = [r["regime"] for r in regimes]
    assert body["symbols"] == 3
    assert sum(body["counts"].values()) == 3
    assert body["counts"] == {
        name: names.count(name) for name in ("TRENDING", "RANGING", "CHOPPY", "CRISIS", "UNKNOWN")
    }
    assert body["market_regime"] == market_regime(names)
    assert body["mean_confidence"] == pytest.approx(sum(r["confidence"] for r in regimes) / 3)


@pytest.mark.parametrize(
    ("regimes", "label"),
    [
        ([], "UNKNOWN"),
        (["UNKNOWN", "UNKNOWN"], "UNKNOWN"),
        (["TRENDING", "TRENDING", "RANGING"], "TRENDING"),
        (["TRENDING", "RANGING"], "RANGING"),  # a tie goes to the more defensive
        (["TRENDING", "CHOPPY", "RANGING"], "CHOPPY"),
        (["CRISIS", "TRENDING", "TRENDING"], "CRISIS"),  # a third in crisis
        (["CRISIS", "TRENDING", "TRENDING", "TRENDING"], "TRENDING"),
        (["CRISIS", "UNKNOWN", "UNKNOWN", "RANGING"], "CRISIS"),
    ],
)
def test_the_market_label(regimes: list[str], label: str) -> None:
    assert market_regime(regimes) == label


async def test_a_single_symbol_has_no_correlation_and_no_crisis(auth: Authenticator) -> None:
    from quantgrid.data import SyntheticConfig, generate_market

    bars = generate_market(SyntheticConfig(instruments=("ONLY",), bars=800), seed=2).bars
    app = create_app(
        InMemorySource(bars),
        None,
        InMemoryCache(),
        RegimeSettings(regime_lookback_bars=LOOKBACK),
        authenticator=auth,
    )
    async with client(app, bearer(auth)) as http:
        body = (await http.get("/regime/ONLY")).json()

    assert body["indicators"]["correlation"] is None
    assert body["regime"] in {"TRENDING", "RANGING", "CHOPPY"}


async def test_too_few_bars_is_unknown(auth: Authenticator) -> None:
    from tests.conftest import make_bars, random_walk

    bars = {"A": make_bars(random_walk(50, seed=1), "A"), "B": make_bars(random_walk(50, 2), "B")}
    app = create_app(
        InMemorySource(bars), None, InMemoryCache(), RegimeSettings(), authenticator=auth
    )
    async with client(app, bearer(auth)) as http:
        body = (await http.get("/regime/A")).json()
        overview = (await http.get("/regime/overview")).json()

    assert (body["regime"], body["confidence"]) == ("UNKNOWN", 0.0)
    assert body["ts_event"] is not None
    assert (overview["market_regime"], overview["mean_confidence"]) == ("UNKNOWN", None)


async def test_a_symbol_with_bars_too_coarse_is_unknown_and_the_rest_classified(
    auth: Authenticator, market_bars: dict[str, BarSeries]
) -> None:
    from quantgrid.core import NANOS_PER_DAY
    from tests.conftest import make_bars, random_walk

    daily = make_bars(random_walk(30, seed=3), "DAILY", step_ns=NANOS_PER_DAY)
    source = InMemorySource({**market_bars, "DAILY": daily})
    app = create_app(
        source,
        None,
        InMemoryCache(),
        RegimeSettings(regime_lookback_bars=LOOKBACK),
        authenticator=auth,
    )
    async with client(app, bearer(auth)) as http:
        overview = (await http.get("/regime/overview")).json()
        coarse = (await http.get("/regime/DAILY")).json()

    assert coarse["regime"] == "UNKNOWN"
    assert coarse["indicators"] is None
    assert overview["symbols"] == 4
    assert overview["counts"]["UNKNOWN"] == 1


async def test_a_stale_symbol_is_unknown_and_holds_no_one_back(
    auth: Authenticator, market_bars: dict[str, BarSeries]
) -> None:
    stale = market_bars["SYN0"].slice(0, 2000).with_instrument("OLD")
    source = InMemorySource({**market_bars, "OLD": stale})
    app = create_app(
        source,
        None,
        InMemoryCache(),
        RegimeSettings(regime_lookback_bars=LOOKBACK),
        authenticator=auth,
    )
    async with client(app, bearer(auth)) as http:
        old = (await http.get("/regime/OLD")).json()
        fresh = (await http.get("/regime/SYN1")).json()

    assert old["regime"] == "UNKNOWN"
    assert fresh["ts_event"] == int(market_bars["SYN1"].ts[-1])
    assert fresh["regime"] != "UNKNOWN"


async def test_the_covered_symbols_can_be_chosen_and_capped(
    auth: Authenticator, source: FaultySource
) -> None:
    chosen = RegimeSettings.from_env(
        {"QUANTGRID_REGIME_SYMBOLS": "SYN2, SYN0", "QUANTGRID_REGIME_LOOKBACK_BARS": "300"}
    )
    capped = RegimeSettings(regime_max_symbols=1, regime_lookback_bars=300)
    assert chosen.regime_symbols == ("SYN2", "SYN0")

    for settings, covered, outside in ((chosen, "SYN2", "SYN1"), (capped, "SYN0", "SYN1")):
        app = create_app(source, None, InMemoryCache(), settings, authenticator=auth)
        async with client(app, bearer(auth)) as http:
            assert (await http.get(f"/regime/{covered}")).status_code == 200
            body = problem(await http.get(f"/regime/{outside}"), 404)
            overview = (await http.get("/regime/overview")).json()
        assert overview["symbols"] == (2 if settings is chosen else 1)
    assert "QUANTGRID_REGIME_MAX_SYMBOLS" in str(body["detail"])


def test_bad_settings_are_refused(auth: Authenticator, source: FaultySource) -> None:
    from quantgrid.services import SettingsError

    with pytest.raises(SettingsError, match="QUANTGRID_REGIME_SYMBOLS"):
        RegimeSettings.from_env({"QUANTGRID_REGIME_SYMBOLS": "SYN0,no way"})
    with pytest.raises(ValueError, match="must exceed the detector's warm-up"):
        create_app(
            source,
            None,
            InMemoryCache(),
            RegimeSettings(regime_lookback_bars=100),
            authenticator=auth,
        )


async def test_an_upstream_that_fails_is_a_503(
    viewer: httpx.AsyncClient, source: FaultySource
) -> None:
    source.mode = "fail"

    body = problem(await viewer.get("/regime/SYN0"), 503)

    assert body["dependency"] == "synthetic"


def test_operation_ids_are_stable(app: FastAPI) -> None:
    assert_stable_operation_ids(app)
    paths = app.openapi()["paths"]
    ids = {
        operation["operationId"]
        for path, item in paths.items()
        for operation in item.values()
        if path.startswith("/regime")
    }
    assert ids == set(OPERATIONS)


def test_the_description_names_the_upstream_and_symbol_problems(app: FastAPI) -> None:
    paths = app.openapi()["paths"]

    for name, (method, path) in OPERATIONS.items():
        template = path.replace("SYN0", "{symbol}")
        described = paths[template][method.lower()]["responses"]
        assert {"502", "503"} <= set(described), name
        assert ("404" in described) == ("{symbol}" in template), name


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_every_route_needs_credentials(app: FastAPI, operation: str) -> None:
    method, path = OPERATIONS[operation]
    async with client(app) as http:
        response = await http.request(method, path, json={"symbols": ["SYN0"]})

    assert problem(response, 401)["title"] == "Not authenticated"


async def test_detection_runs_in_a_worker_thread(
    viewer: httpx.AsyncClient, detector: CountingDetector
) -> None:
    import threading

    seen: list[str] = []
    detect = detector.detect

    def spy(bars: object) -> object:
        seen.append(threading.current_thread().name)
        return detect(bars)  # type: ignore[arg-type]

    detector.detect = spy  # type: ignore[method-assign]
    await viewer.get("/regime/SYN0")

    assert seen and seen[0] != threading.main_thread().name
