"""The market-data routes over HTTP: answers, validation problems, 404s, roles, OpenAPI."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.cache import InMemoryCache
from quantgrid.adapters.market_data import InMemorySource
from quantgrid.adapters.storage import Role
from quantgrid.core import NANOS_PER_DAY, ns_to_iso
from quantgrid.gateway import Authenticator
from quantgrid.model import BarSeries
from quantgrid.services import PROBLEM_JSON, assert_stable_operation_ids
from quantgrid.services.market_data import MarketDataSettings, create_app
from tests.conftest import make_bars, random_walk
from tests.unit.services.market_data.support import bearer, client

pytestmark = pytest.mark.anyio

MINUTE = 60_000_000_000
OPERATIONS = {
    "list_symbols": "/market-data/symbols",
    "get_price": "/market-data/price/SYN0",
    "get_ohlcv": "/market-data/ohlcv/SYN0",
    "get_ticker": "/market-data/ticker/SYN0",
    "get_cache_stats": "/market-data/cache",
}


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


async def test_symbols(viewer: httpx.AsyncClient) -> None:
    response = await viewer.get("/market-data/symbols")

    assert response.status_code == 200
    assert response.json() == {"source": "synthetic", "symbols": ["SYN0", "SYN1", "SYN2"]}


async def test_price_is_the_last_close(
    viewer: httpx.AsyncClient, market_bars: dict[str, BarSeries]
) -> None:
    bars = market_bars["SYN1"]

    body = (await viewer.get("/market-data/price/SYN1")).json()

    assert body == {
        "symbol": "SYN1",
        "price": bars.close[-1],
        "ts_event": int(bars.ts[-1]),
        "as_of": ns_to_iso(int(bars.ts[-1])),
        "source": "synthetic",
    }


async def test_ticker(viewer: httpx.AsyncClient, market_bars: dict[str, BarSeries]) -> None:
    bars = market_bars["SYN2"]

    body = (await viewer.get("/market-data/ticker/SYN2")).json()

    assert body["last"] == bars.close[-1]
    assert body["bid"] == pytest.approx(bars.close[-1] - 0.01)
    assert body["ask"] == pytest.approx(bars.close[-1] + 0.01)
    day = bars.ts > bars.ts[-1] - NANOS_PER_DAY
    assert body["volume_24h"] == pytest.approx(bars.volume[day].sum())
    assert set(body) == {
        "symbol", "bid", "ask", "last", "volume_24h", "change_24h", "change_24h_pct",
        "ts_event", "as_of", "source",
    }  # fmt: skip


async def test_ohlcv_defaults_to_the_latest_bars(
    viewer: httpx.AsyncClient, market_bars: dict[str, BarSeries]
) -> None:
    bars = market_bars["SYN0"]

    body = (await viewer.get("/market-data/ohlcv/SYN0", params={"limit": 10})).json()

    assert body["timeframe"] == "1m"
    assert [b["ts_event"] for b in body["bars"]] == bars.ts[-10:].tolist()
    assert [b["close"] for b in body["bars"]] == bars.close[-10:].tolist()
    assert body["end"] == ns_to_iso(int(bars.ts[-1]))
    assert body["next_start"] is None


async def test_ohlcv_in_a_window_and_a_timeframe(
    viewer: httpx.AsyncClient, market_bars: dict[str, BarSeries]
) -> None:
    bars = market_bars["SYN0"]
    params = {"start": "2024-01-01T01:00:00Z", "end": "2024-01-01T03:00:00Z", "timeframe": "1h"}

    body = (await viewer.get("/market-data/ohlcv/SYN0", params=params)).json()

    assert [b["ts_event"] for b in body["bars"]] == [
        bars.ts[0] - MINUTE + 120 * MINUTE,
        bars.ts[0] - MINUTE + 180 * MINUTE,
    ]
    first = body["bars"][0]
    assert first["open"] == bars.open[60]
    assert first["close"] == bars.close[119]
    assert first["high"] == bars.high[60:120].max()
    assert first["volume"] == pytest.approx(bars.volume[60:120].sum())
    assert (body["start"], body["end"]) == ("2024-01-01T01:00:00Z", "2024-01-01T03:00:00Z")


async def test_ohlcv_pages_with_next_start(viewer: httpx.AsyncClient) -> None:
    params = {"start": "2024-01-01T00:00:00", "end": "2024-01-01T01:00:00", "limit": 25}
    pages, start = [], params["start"]
    for _ in range(5):
        body = (
            await viewer.get("/market-data/ohlcv/SYN0", params={**params, "start": start})
        ).json()
        pages.append(body["bars"])
        if body["next_start"] is None:
            break
        start = body["next_start"]

    assert [len(page) for page in pages] == [25, 25, 10]
    stamps = [bar["ts_event"] for page in pages for bar in page]
    assert stamps == sorted(set(stamps))
    assert len(stamps) == 60


async def test_timestamps_may_be_naive_offset_or_unix(viewer: httpx.AsyncClient) -> None:
    forms = ["2024-01-01T02:00:00", "2024-01-01T03:00:00+01:00", "1704074400"]
    answers = [
        (await viewer.get("/market-data/ohlcv/SYN0", params={"end": end, "limit": 3})).json()
        for end in forms
    ]

    assert answers[0]["bars"] == answers[1]["bars"] == answers[2]["bars"]
    assert answers[0]["end"] == "2024-01-01T02:00:00Z"


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"timeframe": "2m"}, "query.timeframe", "enum"),
        ({"limit": "0"}, "query.limit", "greater_than_equal"),
        ({"limit": "1001"}, "query.limit", "less_than_equal"),
        ({"limit": "ten"}, "query.limit", "int_parsing"),
        ({"start": "yesterday"}, "query.start", "datetime_from_date_parsing"),
        ({"end": "1900-01-01"}, "query.end", "value_error"),
        ({"start": "2300-01-01T00:00:00Z"}, "query.start", "value_error"),
        ({"start": "2024-01-02", "end": "2024-01-01"}, "query.start", "before_end"),
        ({"start": "2024-01-01", "end": "2024-01-01"}, "query.start", "before_end"),
    ],
)
async def test_bad_queries_are_422_problems_naming_the_parameter(
    viewer: httpx.AsyncClient, params: dict[str, str], field: str, rule: str
) -> None:
    body = problem(await viewer.get("/market-data/ohlcv/SYN0", params=params), 422)

    assert body["type"] == "urn:quantgrid:problem:validation-error"
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {"field": field, "rule": rule} == {k: errors[0][k] for k in ("field", "rule")}
    assert str(body["detail"]).startswith(f"{field}: ")


@pytest.mark.parametrize("path", ["price", "ticker", "ohlcv"])
async def test_a_malformed_symbol_is_a_422_naming_the_path(
    viewer: httpx.AsyncClient, path: str
) -> None:
    body = problem(await viewer.get(f"/market-data/{path}/bad%20symbol!"), 422)

    assert body["errors"][0]["field"] == "path.symbol"  # type: ignore[index]
    assert body["errors"][0]["rule"] == "string_pattern_mismatch"  # type: ignore[index]


@pytest.mark.parametrize("path", ["price", "ticker", "ohlcv"])
async def test_an_unknown_symbol_is_a_404_problem(viewer: httpx.AsyncClient, path: str) -> None:
    body = problem(await viewer.get(f"/market-data/{path}/NOPE"), 404)

    assert body["type"] == "urn:quantgrid:problem:unknown-symbol"
    assert body["symbol"] == "NOPE"
    assert "GET /market-data/symbols" in str(body["detail"])


async def test_a_timeframe_the_bars_cannot_make_is_a_422(auth: Authenticator) -> None:
    daily = make_bars(random_walk(30, seed=5), "DAILY", step_ns=NANOS_PER_DAY)
    app = create_app(
        InMemorySource({"DAILY": daily}), InMemoryCache(), MarketDataSettings(), authenticator=auth
    )
    async with client(app, bearer(auth)) as http:
        hourly = await http.get("/market-data/ohlcv/DAILY", params={"timeframe": "1h"})
        days = await http.get("/market-data/ohlcv/DAILY", params={"timeframe": "1d", "limit": 5})

    body = problem(hourly, 422)
    assert body["errors"] == [
        {
            "field": "query.timeframe",
            "rule": "supported_timeframe",
            "message": "the stored bars are 86400 s apart, which does not divide 1h",
        }
    ]
    assert len(days.json()["bars"]) == 5


def test_operation_ids_are_stable(app: FastAPI) -> None:
    assert_stable_operation_ids(app)
    paths = app.openapi()["paths"]
    ids = {
        operation["operationId"]: path
        for path, item in paths.items()
        for operation in item.values()
        if path.startswith("/market-data")
    }
    assert set(ids) == set(OPERATIONS)
    assert ids["get_ohlcv"] == "/market-data/ohlcv/{symbol}"


def test_the_openapi_description_has_problem_responses(app: FastAPI) -> None:
    schema = app.openapi()

    operation = schema["paths"]["/market-data/ohlcv/{symbol}"]["get"]
    assert operation["operationId"] == "get_ohlcv"
    assert PROBLEM_JSON in operation["responses"]["422"]["content"]
    assert PROBLEM_JSON in operation["responses"]["default"]["content"]
    timeframe = next(p for p in operation["parameters"] if p["name"] == "timeframe")
    assert timeframe["schema"]["$ref"].endswith("/Timeframe")
    assert schema["components"]["schemas"]["Timeframe"]["enum"] == [
        "1m", "5m", "15m", "1h", "4h", "1d",
    ]  # fmt: skip


def test_the_description_names_the_upstream_and_symbol_problems(app: FastAPI) -> None:
    paths = app.openapi()["paths"]

    for path, item in paths.items():
        if path.startswith("/market-data"):
            described = item["get"]["responses"]
            assert {"502", "503"} <= set(described), path
            assert ("404" in described) == ("{symbol}" in path), path
            assert PROBLEM_JSON in described["404" if "{symbol}" in path else "502"]["content"]


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_every_route_needs_credentials(anonymous: httpx.AsyncClient, operation: str) -> None:
    missing = await anonymous.get(OPERATIONS[operation])
    forged = await anonymous.get(
        OPERATIONS[operation], headers={"Authorization": "Bearer not-a-token"}
    )

    for response in (missing, forged):
        body = problem(response, 401)
        assert body["title"] == "Not authenticated"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="quantgrid"')


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_read(app: FastAPI, auth: Authenticator, role: Role) -> None:
    async with client(app, bearer(auth, role)) as http:
        for path in OPERATIONS.values():
            assert (await http.get(path)).status_code == 200, path


async def test_health_reports_the_upstream(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/health/dependencies")

    assert response.status_code == 200
    upstream = response.json()["dependencies"]["upstream"]
    assert upstream["status"] == "ok"
    assert upstream["detail"] == "synthetic: circuit closed"
