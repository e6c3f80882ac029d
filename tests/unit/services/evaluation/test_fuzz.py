"""No query makes the evaluation service answer 500 (Hypothesis)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.adapters.storage import Role
from quantgrid.services import PROBLEM_JSON
from tests.unit.services.evaluation.conftest import NOW, T0, Headers

pytestmark = pytest.mark.anyio

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
VALUE = st.one_of(
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        ["", "0", "1", "true", "m", "AAA", str(T0), str(NOW), "2024-01-01T00:20:00Z", "5:p-1"]
    ),
)
PARAMETERS = ("since", "until", "model", "version", "instrument", "resolved", "limit", "after")
QUERIES = st.fixed_dictionaries({}, optional={name: VALUE for name in PARAMETERS})
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(params=QUERIES)
async def test_no_query_answers_500(
    client: httpx.AsyncClient, headers: Headers, params: dict[str, Any]
) -> None:
    viewer = headers(Role.VIEWER)
    for path in (
        "/evaluation/metrics",
        "/evaluation/metrics/symbols",
        "/evaluation/metrics/models",
        "/evaluation/predictions",
    ):
        answer = await client.get(path, params=params, headers=viewer)
        assert answer.status_code in (200, 422), (path, params, answer.text)
        if answer.status_code == 422:
            assert answer.headers["content-type"] == PROBLEM_JSON
            assert answer.json()["errors"], answer.text
