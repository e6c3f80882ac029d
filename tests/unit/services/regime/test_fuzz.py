"""Whatever a client sends, the regime service never answers 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.gateway import Authenticator
from quantgrid.services import PROBLEM_JSON
from tests.unit.services.market_data.support import bearer, client

pytestmark = pytest.mark.anyio

times = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["2024-01-02T10:00:00Z", "2024-01-03", "2023-12-31", ""]),
    st.text(max_size=25),
)
symbols = st.one_of(
    st.sampled_from(["SYN0", "SYN1", "NOPE", "overview", "batch", "x" * 40]),
    st.text(min_size=1, max_size=30),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
bodies = st.one_of(
    st.fixed_dictionaries({"symbols": st.lists(symbols, max_size=6)}),
    st.fixed_dictionaries({"symbols": json_values}),
    json_values,
)
ONE_APP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@ONE_APP
@given(symbol=symbols, start=st.none() | times, end=st.none() | times)
async def test_no_history_query_gives_a_500(
    app: FastAPI, auth: Authenticator, symbol: str, start: str | None, end: str | None
) -> None:
    params = {k: v for k, v in {"start": start, "end": end}.items() if v is not None}
    async with client(app, bearer(auth)) as http:
        current = await http.get(f"/regime/{quote(symbol, safe='')}")
        history = await http.get(f"/regime/{quote(symbol, safe='')}/history", params=params)

    for response in (current, history):
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"] == PROBLEM_JSON


@ONE_APP
@given(body=bodies)
async def test_no_batch_body_gives_a_500(app: FastAPI, auth: Authenticator, body: Any) -> None:
    async with client(app, bearer(auth)) as http:
        response = await http.post("/regime/batch", json=body)

    assert response.status_code in (200, 422), response.text
