"""Whatever a client sends, the market-data service never answers 500."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.gateway import Authenticator
from quantgrid.services import PROBLEM_JSON
from tests.unit.services.market_data.support import bearer, client

pytestmark = pytest.mark.anyio

ENDPOINTS = ("price", "ticker", "ohlcv")

times = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["2024-01-01", "2024-01-01T00:30:00Z", "now", "", "2024-13-01"]),
    st.text(max_size=30),
)
queries = st.fixed_dictionaries(
    {},
    optional={
        "start": times,
        "end": times,
        "timeframe": st.one_of(
            st.sampled_from(["1m", "5m", "15m", "1h", "4h", "1d", "1M", "1w", "0m"]),
            st.text(max_size=5),
        ),
        "limit": st.one_of(st.integers(min_value=-5, max_value=5000).map(str), st.text(max_size=6)),
        "other": st.text(max_size=10),
    },
)
symbols = st.one_of(
    st.sampled_from(["SYN0", "SYN1", "NOPE", "syn0", "A" * 33, "-x", "SYN0.", "_"]),
    st.text(min_size=1, max_size=40),
)

# One app for every example: the cache and the breaker carry state across them, as a
# running service's would.
NO_FIXTURE_RESET = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@NO_FIXTURE_RESET
@given(endpoint=st.sampled_from(ENDPOINTS), symbol=symbols, params=queries)
async def test_no_query_gives_a_500(
    app: FastAPI, auth: Authenticator, endpoint: str, symbol: str, params: dict[str, str]
) -> None:
    async with client(app, bearer(auth)) as http:
        response = await http.get(
            f"/market-data/{endpoint}/{quote(symbol, safe='')}", params=params
        )

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["detail"]


@NO_FIXTURE_RESET
@given(
    headers=st.dictionaries(
        st.sampled_from(["Authorization", "X-API-Key"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    )
)
async def test_no_credentials_give_a_500(app: FastAPI, headers: dict[str, str]) -> None:
    async with client(app) as http:
        response: httpx.Response = await http.get("/market-data/price/SYN0", headers=headers)

    assert response.status_code in (401, 200), response.text
