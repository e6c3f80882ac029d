"""No request body makes a service over the node answer 500 (Hypothesis)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.adapters.storage import Role
from quantgrid.services import PROBLEM_JSON
from tests.unit.services.execution.conftest import PortalEnv

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.sampled_from(["10", "99.5", "0", "-1", "1e309", "abc", ""]),
)
VALUE = st.one_of(
    NUMBERS, JSON, st.sampled_from(["AAPL", "BUY", "SELL", "LIMIT", "MARKET", "STOP"])
)
ORDER_FIELDS = (
    "client_order_id",
    "strategy_id",
    "instrument_id",
    "side",
    "order_type",
    "quantity",
    "price",
    "trigger_price",
    "time_in_force",
    "post_only",
    "reduce_only",
    "tag",
)


def fields(*names: str) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies with some of ``names`` (of any value), sometimes a stray key."""
    return st.fixed_dictionaries({}, optional={name: VALUE for name in (*names, "stray")})


def assert_no_500(
    env: PortalEnv, service: str, method: str, path: str, body: Any, role: Role
) -> None:
    response = env.request(service, method, path, body, role)
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=st.one_of(JSON, fields(*ORDER_FIELDS)))
def test_order_bodies(portal_env: PortalEnv, body: Any) -> None:
    assert_no_500(portal_env, "execution", "POST", "/orders", body, Role.TRADER)
    assert_no_500(portal_env, "risk", "POST", "/risk/approve", body, Role.VIEWER)


@FUZZ
@given(body=st.one_of(JSON, fields("quantity", "price", "trigger_price")), oid=st.text(max_size=8))
def test_amend_and_cancel_bodies(portal_env: PortalEnv, body: Any, oid: str) -> None:
    path = f"/orders/{quote(oid, safe='') or 'x'}"
    assert_no_500(portal_env, "execution", "PATCH", path, body, Role.TRADER)
    assert_no_500(portal_env, "execution", "POST", "/orders/cancel-all", body, Role.TRADER)


@FUZZ
@given(
    body=st.one_of(
        JSON,
        fields("method", "confidence", "horizon", "returns", "weights", "n_paths", "seed"),
        st.fixed_dictionaries(
            {"returns": st.lists(NUMBERS, min_size=0, max_size=30)},
            optional={
                "method": st.sampled_from(
                    ["historical", "parametric", "cornish_fisher", "monte_carlo", "x"]
                ),
                "confidence": NUMBERS,
                "horizon": NUMBERS,
                "n_paths": st.integers(100, 300),
            },
        ),
    )
)
def test_var_bodies(portal_env: PortalEnv, body: Any) -> None:
    assert_no_500(portal_env, "risk", "POST", "/risk/var", body, Role.VIEWER)


MATRIX = st.lists(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=4), min_size=0, max_size=25
)


@FUZZ
@given(
    body=st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"returns_matrix": MATRIX},
            optional={
                "method": st.sampled_from(["sample", "rolling", "ewma", "other"]),
                "window": NUMBERS,
                "halflife": NUMBERS,
                "lam": NUMBERS,
                "seed_window": NUMBERS,
                "labels": st.lists(st.text(max_size=4), max_size=5),
            },
        ),
    )
)
def test_correlation_bodies(portal_env: PortalEnv, body: Any) -> None:
    assert_no_500(portal_env, "risk", "POST", "/risk/correlation", body, Role.VIEWER)


@FUZZ
@given(
    body=st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"method": st.sampled_from(["kelly", "kelly_returns", "vol_target", "other"])},
            optional={
                name: st.one_of(NUMBERS, st.lists(NUMBERS, max_size=10), st.just("AAPL"))
                for name in (
                    "win_rate",
                    "win_loss_ratio",
                    "cap",
                    "returns",
                    "target_annual_vol",
                    "instrument_id",
                    "price",
                    "equity",
                    "asset_vol",
                    "asset_returns",
                    "periods_per_year",
                )
            },
        ),
    )
)
def test_position_size_bodies(portal_env: PortalEnv, body: Any) -> None:
    assert_no_500(portal_env, "risk", "POST", "/risk/position-size", body, Role.VIEWER)


@FUZZ
@given(
    body=st.one_of(
        JSON,
        fields(
            "max_order_quantity",
            "max_position",
            "price_band_pct",
            "reduce_at_drawdown",
            "halt_at_drawdown",
            "max_orders",
            "order_window_ns",
            "blocked_regimes",
            "per_instrument",
        ),
    )
)
def test_limit_bodies(portal_env: PortalEnv, body: Any) -> None:
    assert_no_500(portal_env, "risk", "PUT", "/risk/limits", body, Role.ADMIN)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "x"},
        {"since_ns": "-1"},
        {"until_ns": str(2**64)},
        {"after": "9:"},
        {"after": ":x"},
        {"status": "NOPE"},
        {"strategy_id": " "},
    ],
)
def test_list_queries(portal_env: PortalEnv, query: dict[str, str]) -> None:
    path = "/orders?" + "&".join(f"{k}={v}" for k, v in query.items())
    assert_no_500(portal_env, "execution", "GET", path, None, Role.VIEWER)
    fills = "/fills?" + "&".join(f"{k}={v}" for k, v in query.items() if k != "status")
    assert_no_500(portal_env, "execution", "GET", fills, None, Role.VIEWER)
    equity = "/portfolio/equity?" + "&".join(f"{k}={v}" for k, v in query.items())
    assert_no_500(portal_env, "portfolio", "GET", equity, None, Role.VIEWER)
