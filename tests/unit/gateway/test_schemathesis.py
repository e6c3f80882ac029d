"""Schemathesis over the gateway's description, against the one-process platform.

Each operation gets requests that fit its description (positive) and requests that
break it (negative), as an admin. No answer may be a 5xx, and each must be one the
operation describes explicitly (not only through ``default``), with the media type and
schema described. Deterministic: Hypothesis derandomized, no example database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from quantgrid.adapters.storage import Role
from tests.unit.gateway.platform import PlatformEnv, gateway_schema, running_platform

SCHEMA = schemathesis.openapi.from_dict(gateway_schema())
_OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
#: Operations left out, and why.
SKIPPED = {
    # A stream of server-sent events that lasts `max_s` seconds (up to an hour): the
    # in-process transport answers only once it ends. Its answers are tested in
    # tests/unit/services/portfolio/test_stream.py, its credentials by the auth matrix.
    "GET /api/portfolio/portfolio/stream",
}
# Requests that break the description, of operations that take some input to break.
CASES = [
    pytest.param(operation.label, mode, id=f"{operation.label} ({mode.value})")
    for operation in _OPERATIONS
    if operation.label not in SKIPPED
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode.is_positive
    or operation.definition.raw.get("parameters")
    or operation.definition.raw.get("requestBody")
]
EXAMPLES = 10
#: 5xx answers by design in this build: the strategy service runs without a trading node.
BY_DESIGN_5XX = {
    "POST /api/strategy/strategy-configs/{config_id}/start": "trading-node",
    "POST /api/strategy/strategy-configs/{config_id}/stop": "trading-node",
    "GET /api/strategy/strategy-configs/{config_id}/signals": "trading-node",
}
_CREDENTIAL_HEADERS = {"authorization", "x-api-key"}


def no_server_error(ctx: CheckContext, response: Any, case: Case) -> bool | None:
    """``not_a_server_error``, but for the 503s this build answers by design."""
    dependency = BY_DESIGN_5XX.get(case.operation.label)
    if dependency is not None and response.status_code == 503:
        assert json.loads(response.content)["dependency"] == dependency
        return True
    return not_a_server_error(ctx, response, case)


def described_explicitly(_ctx: CheckContext, response: Any, case: Case) -> bool | None:
    """Fail an answer whose status the operation describes only through ``default``."""
    status = str(response.status_code)
    if status.startswith("5"):
        return None  # no_server_error's call
    described = case.operation.definition.raw["responses"]
    if status not in described and f"{status[0]}XX" not in described:
        declared = ", ".join(sorted(described))
        raise AssertionError(f"{case.operation.label} answered {status}; it describes {declared}")
    return True


CHECKS = [
    no_server_error,
    described_explicitly,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Seeds:
    """Things the platform has, so that generated requests also reach existing ones.

    Two of each: a ``DELETE`` gets one of its own, so the operations after it in a run
    still find the other (a working order to amend, a configuration to start).
    """

    def __init__(self, env: PlatformEnv) -> None:
        self.headers = env.token(Role.ADMIN)
        self.kept = self._make(env, "1")
        self.deleted = self._make(env, "2")

    def _make(self, env: PlatformEnv, n: str) -> dict[str, str]:
        def post(path: str, body: dict[str, Any], field: str) -> str:
            answer = env.request("POST", path, json=body, headers=self.headers)
            assert answer.is_success, answer.text
            made: str = answer.json()[field]
            return made

        order = {
            "client_order_id": f"SEED-{n}",
            "instrument_id": "SYN0",
            "side": "BUY",
            "order_type": "LIMIT",
            "quantity": 1,
            "price": 1.0,
        }
        config = {"strategy": "sma_cross", "instruments": ["SYN0"]}
        backtest = {"strategy": "sma_cross", "data": {"kind": "synthetic", "bars": 1000}}
        return {
            "symbol": "SYN0",
            "name": "sma_cross",
            "client_order_id": post("/api/execution/orders", order, "client_order_id"),
            "config_id": post("/api/strategy/strategy-configs", config, "config_id"),
            "job_id": post("/api/backtest/backtests", backtest, "job_id"),
            "key_id": env.new_key_id("viewer", Role.VIEWER),
            "version": "1",
        }

    def strategy(self, label: str, mode: GenerationMode) -> st.SearchStrategy[Case]:
        """Return the cases of an operation: generated, and on the seeds' paths."""
        operation = SCHEMA.find_operation_by_label(label)
        assert operation is not None
        generated = operation.as_strategy(mode)
        names = [p.name for p in operation.path_parameters]
        if not names or not mode.is_positive:
            return generated
        seeds = self.deleted if operation.method.upper() == "DELETE" else self.kept
        seeded = {name: seeds[name] for name in names}
        return generated | operation.as_strategy(mode, path_parameters=seeded)


@pytest.fixture(scope="module")
def env() -> Iterator[PlatformEnv]:
    # Jobs of at most 2000 bars: a generated backtest finishes (or is refused) quickly.
    with running_platform(QUANTGRID_BACKTEST_MAX_BARS="2000") as env:
        yield env


@pytest.fixture(scope="module")
def seeds(env: PlatformEnv) -> Seeds:
    return Seeds(env)


def send(env: PlatformEnv, case: Case, credentials: dict[str, str]) -> Any:
    """Send ``case`` as its request would go over the network, with ``credentials``."""
    sent = case.as_transport_kwargs(base_url="http://gateway")
    headers = {
        k: v for k, v in (sent.get("headers") or {}).items() if k.lower() not in _CREDENTIAL_HEADERS
    }
    content: bytes | None = None
    if "json" in sent:
        content = json.dumps(sent["json"]).encode()
    elif "data" in sent:
        data = sent["data"]
        content = data if isinstance(data, bytes) else str(data).encode()
    assert not sent.get("cookies") and not sent.get("files"), "the API takes neither"
    return env.request(
        sent["method"],
        sent["url"],
        params=sent.get("params"),
        headers={**headers, **credentials},
        content=content,
    )


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_the_gateway_keeps_to_its_description(
    env: PlatformEnv, seeds: Seeds, label: str, mode: GenerationMode
) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=seeds.strategy(label, mode))
    def keeps_to_it(case: Case) -> None:
        response = send(env, case, seeds.headers)
        case.validate_response(response, checks=CHECKS)

    keeps_to_it()
