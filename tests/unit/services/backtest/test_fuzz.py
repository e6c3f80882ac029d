"""Whatever a client sends, the backtest service answers it without a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.adapters.storage import InMemoryStore
from quantgrid.services.backtest import BacktestSettings, create_app
from tests.unit.services.backtest.conftest import SMALL
from tests.unit.services.strategy.callers import Callers

# Lone surrogates and NUL arrive as JSON escapes ("\ud800") and reach the service as is.
TEXT = st.text(max_size=12) | st.sampled_from(["\ud800", "a\udfffb", "\x00", "é" * 40])
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too: Python's JSON parser accepts them
    | TEXT
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=12,
)
PATHS = (
    st.sampled_from(
        ["a.csv", "../a.csv", "/etc/passwd", "a/../../b.csv", "~/a.csv", "a\\b.csv", "x" * 255]
    )
    | st.text(max_size=40)
    | st.sampled_from(["\ud800.csv", "🙂" * 100 + ".csv"])
)


def maybe(valid: Any, other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.just(valid) | other


PARAMS = st.dictionaries(st.sampled_from(["fast", "slow", "size", "period", "x"]), JSON, max_size=3)
DATA = st.fixed_dictionaries(
    {
        "kind": maybe("synthetic", st.sampled_from(["file", "tape"]) | JSON),
        "seed": maybe(3, JSON),
        "bars": maybe(200, st.integers()),
        "instruments": maybe(["SYN0"], st.lists(TEXT, max_size=3) | JSON),
        "files": maybe([{"path": "a.csv"}], st.lists(st.fixed_dictionaries({"path": PATHS}))),
    }
)
BODIES = (
    st.fixed_dictionaries(
        {
            "strategy": maybe(
                "sma_cross", st.sampled_from(["rsi_mean_reversion", "x.py:X"]) | JSON
            ),
            "params": maybe({}, PARAMS | JSON),
            "data": maybe(SMALL["data"], DATA | JSON),
            "commission": maybe(0.0, JSON),
            "spread_bps": maybe(0.0, JSON),
            "risk": maybe(
                None,
                st.dictionaries(
                    st.sampled_from(["reduce_at_drawdown", "halt_at_drawdown", "max_position"]),
                    JSON,
                    max_size=2,
                ),
            ),
        }
    )
    | JSON
)


class RecordingRunner:
    """A runner that only records what it is given: nothing runs."""

    pending = 0

    def __init__(self) -> None:
        self.submitted: list[str] = []

    async def start(self) -> None:
        return None

    def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)

    def cancel(self, job_id: str) -> None:
        return None

    async def check_health(self) -> str:
        return "recording"

    async def aclose(self) -> None:
        return None


def test_no_body_or_query_makes_the_service_answer_500(tmp_path: Path):
    store = InMemoryStore()
    callers = Callers(store)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("timestamp,open,high,low,close\n")
    service_settings = BacktestSettings(
        backtest_results_dir=tmp_path / "results", backtest_data_dir=tmp_path / "data"
    )
    runner = RecordingRunner()
    app = create_app(store, runner, service_settings, authenticator=callers.authenticator)
    headers = {**callers.headers("trader"), "content-type": "application/json"}

    async def send(method: str, url: str, content: str | None, params: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backtest") as client:
            return await client.request(
                method, url, content=content, params=params, headers=headers
            )

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(body=BODIES)
    def post(body: Any) -> None:
        response = anyio.run(send, "POST", "/backtests", json.dumps(body), None)
        assert response.status_code in (202, 400, 422), response.text
        if response.status_code == 202:
            assert response.json()["job_id"] == runner.submitted[-1]

    @settings(max_examples=60)
    @given(
        path=st.sampled_from(["", "/results", "/report", "/equity"]),
        job_id=st.text(min_size=1, max_size=20).filter(lambda s: s not in (".", "..")),
        query=st.dictionaries(
            st.sampled_from(["status", "limit", "after", "format", "offset"]),
            st.text(max_size=12),
            max_size=3,
        ),
    )
    def get(path: str, job_id: str, query: dict[str, str]) -> None:
        url = f"/backtests/{quote(job_id, safe='')}{path}"
        response = anyio.run(send, "GET", url, None, query)
        assert response.status_code < 500, response.text
        listing = anyio.run(send, "GET", "/backtests", None, query)
        assert listing.status_code < 500, listing.text

    post()
    get()
