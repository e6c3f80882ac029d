"""No request makes the ML service answer 500, and every refusal is a problem (Hypothesis)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.adapters.features import MemoryOnlineStore
from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.gateway import Authenticator, AuthSettings
from quantgrid.services import PROBLEM_JSON
from quantgrid.services.ml import MlSettings, ModelServer, ml_app
from tests.unit.services.ml.conftest import PASSWORD, ROOMY
from tests.unit.services.ml.support import (
    FEATURES,
    LENIENT,
    memory_registry,
    register,
    to_production,
    train,
)

FUZZ = settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NUMBER = st.one_of(
    st.floats(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["1.5", "abc", "", None, True]),
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBER | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
NAMES = st.sampled_from([*FEATURES, "vol_20", "", "x" * 200])
FEATURE_MAP = st.dictionaries(NAMES, NUMBER, max_size=5) | st.fixed_dictionaries(
    {name: st.floats(allow_nan=False, allow_infinity=False) for name in FEATURES}
)
MODEL = st.sampled_from(["eurusd", "gbpusd", "", "eur usd", "-x"]) | st.text(max_size=6)
PREDICT = st.fixed_dictionaries(
    {},
    optional={
        "model": MODEL,
        "features": FEATURE_MAP | JSON,
        "instrument_id": st.sampled_from(["EURUSD", "AUDUSD", "", "é"]) | JSON,
        "feature_set": st.sampled_from(["returns-v1", "default", ""]) | JSON,
        "stray": JSON,
    },
)
BATCH = st.fixed_dictionaries(
    {},
    optional={"model": MODEL, "rows": st.lists(FEATURE_MAP, max_size=60) | JSON, "stray": JSON},
)


@dataclass
class Env:
    """The service on an event loop in a thread; each example's request goes through it."""

    portal: BlockingPortal
    client: httpx.AsyncClient
    auth: dict[Role, dict[str, str]]

    def request(self, method: str, path: str, body: Any, role: Role) -> httpx.Response:
        # Python's JSON, NaN and Infinity included (httpx's refuses them), as a client may.
        content = json.dumps(body).encode()
        headers = self.auth[role] | {"content-type": "application/json"}

        async def send() -> httpx.Response:
            return await asyncio.wait_for(
                self.client.request(method, path, content=content, headers=headers), 10
            )

        return self.portal.call(send)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    registry = memory_registry()
    to_production(registry, "eurusd", register(registry, "eurusd", train(seed=1)))
    register(registry, "eurusd", train(seed=2))
    store = MemoryOnlineStore()
    store.put("returns-v1", "EURUSD", 1, FEATURES, [0.1, 0.2, 50.0])
    auth = Authenticator(
        InMemoryStore(),
        AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY),
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    headers = {}
    for role in Role:
        auth.users.create_user(role.value, PASSWORD, role)
        headers[role] = {"Authorization": f"Bearer {auth.login(role.value, PASSWORD).access}"}
    with start_blocking_portal(backend="asyncio") as portal:
        server = ModelServer(registry, reload_interval_s=None)
        portal.call(server.start)
        settings = MlSettings(ml_max_batch_rows=50)
        app = ml_app(server, registry, settings, auth=auth, policy=LENIENT, online_store=store)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ml")
        try:
            yield Env(portal, client, headers)
        finally:
            portal.call(client.aclose)
            portal.call(server.stop)


def assert_no_500(env: Env, method: str, path: str, body: Any, role: Role) -> None:
    response = env.request(method, path, body, role)
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON, response.text


@FUZZ
@given(body=PREDICT | JSON)
def test_prediction_bodies(env: Env, body: Any) -> None:
    assert_no_500(env, "POST", "/ml/predict", body, Role.VIEWER)


@FUZZ
@given(body=BATCH | JSON)
def test_batch_bodies(env: Env, body: Any) -> None:
    assert_no_500(env, "POST", "/ml/predict/batch", body, Role.VIEWER)


@FUZZ
@given(
    name=MODEL,
    version=st.integers(min_value=-5, max_value=2**40) | st.text(max_size=4),
    body=st.fixed_dictionaries({"to_stage": st.sampled_from(["staging", "production", "x"])})
    | JSON,
)
def test_approvals_and_model_paths(env: Env, name: str, version: Any, body: Any) -> None:
    quoted = quote(name, safe="") or "x"
    path = f"/ml/models/{quoted}/versions/{quote(str(version), safe='') or '1'}/approve"
    assert_no_500(env, "POST", path, body, Role.ADMIN)
    assert_no_500(env, "GET", f"/ml/models/{quoted}", None, Role.VIEWER)
