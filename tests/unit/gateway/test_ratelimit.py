"""Request budgets: token buckets on the test clock, and 429 with Retry-After."""

from __future__ import annotations

import secrets

import httpx
import pytest

from quantgrid.adapters.storage import Role
from quantgrid.core import TestClock
from quantgrid.gateway import (
    Authenticator,
    AuthSettings,
    InMemoryRateLimiter,
    RateLimit,
    RateLimits,
)
from tests.unit.gateway.conftest import PASSWORD, START_NS

NANOS = 1_000_000_000


@pytest.fixture
def settings() -> AuthSettings:
    tight = RateLimits(
        viewer=RateLimit(per_second=0.5, burst=1),
        trader=RateLimit(per_second=1.0, burst=2),
        login=RateLimit(per_second=0.1, burst=2),
    )
    return AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=tight)


def test_a_bucket_gives_its_burst_then_one_per_interval() -> None:
    clock = TestClock(START_NS)
    limiter = InMemoryRateLimiter(clock)
    limit = RateLimit(per_second=2.0, burst=3)

    assert [limiter.take("a", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", limit) == pytest.approx(0.5)
    assert limiter.take("b", limit) == 0.0  # another caller has their own bucket
    clock.set_time(START_NS + NANOS // 4)
    assert limiter.take("a", limit) == pytest.approx(0.25)  # half a token back
    clock.set_time(START_NS + NANOS // 2)
    assert limiter.take("a", limit) == 0.0
    clock.set_time(START_NS + 60 * NANOS)
    assert [limiter.take("a", limit) for _ in range(4)][-1] > 0  # refilled to burst, no more


def test_full_buckets_are_dropped() -> None:
    clock = TestClock(START_NS)
    limiter = InMemoryRateLimiter(clock)
    limit = RateLimit(per_second=1.0, burst=1)
    limiter.take("idle", limit)
    clock.set_time(START_NS + 61 * NANOS)
    limiter.take("busy", limit)

    assert set(limiter._buckets) == {"busy"}


@pytest.mark.parametrize("bad", [{"per_second": 0.0, "burst": 1}, {"per_second": 1.0, "burst": 0}])
def test_a_limit_must_be_positive(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RateLimit"):
        RateLimit(**bad)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_caller_over_budget_gets_429_with_retry_after(
    auth: Authenticator, client: httpx.AsyncClient, clock: TestClock
) -> None:
    key = auth.keys.create_key("trader", Role.TRADER, "bot")
    headers = {"X-API-Key": key.secret}

    ok = [await client.get("/auth/me", headers=headers) for _ in range(2)]
    limited = await client.get("/auth/me", headers=headers)

    assert [a.status_code for a in ok] == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["title"] == "Too many requests"
    other = auth.keys.create_key("trader", Role.TRADER, "another bot")
    assert (await client.get("/auth/me", headers={"X-API-Key": other.secret})).is_success
    clock.set_time(START_NS + NANOS)
    assert (await client.get("/auth/me", headers=headers)).status_code == 200


@pytest.mark.anyio
async def test_the_budget_follows_the_role(auth: Authenticator, client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {auth.login('viewer', PASSWORD).access}"}

    assert (await client.get("/auth/me", headers=headers)).status_code == 200
    limited = await client.get("/auth/me", headers=headers)

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"  # 0.5 a second


@pytest.mark.anyio
async def test_login_attempts_are_budgeted_per_username(client: httpx.AsyncClient) -> None:
    wrong = {"username": "admin", "password": "guess guess guess"}

    attempts = [await client.post("/auth/login", json=wrong) for _ in range(3)]
    right = await client.post("/auth/login", json={**wrong, "password": PASSWORD})
    other_user = await client.post("/auth/login", json={"username": "viewer", "password": PASSWORD})

    assert [a.status_code for a in attempts] == [401, 401, 429]
    assert attempts[2].headers["retry-after"] == "10"
    assert right.status_code == 429  # the budget, not the password, decides first
    assert other_user.status_code == 200


def test_budgets_come_from_the_environment_and_keep_their_defaults_otherwise() -> None:
    limits = RateLimits.from_env(
        {"QUANTGRID_RATE_LIMIT_TRADER": "500/1000", "QUANTGRID_RATE_LIMIT_LOGIN": " 0.5/3 "}
    )
    assert limits.trader == RateLimit(500.0, 1000)
    assert limits.login == RateLimit(0.5, 3)
    assert limits.viewer == RateLimits().viewer


@pytest.mark.parametrize("raw", ["500", "fast/10", "500/0", "-1/10", "500/1.5", "nan/10"])
def test_a_bad_budget_names_the_variable_and_the_form(raw: str) -> None:
    with pytest.raises(ValueError, match=r"QUANTGRID_RATE_LIMIT_ADMIN=.*<per_second>/<burst>"):
        RateLimits.from_env({"QUANTGRID_RATE_LIMIT_ADMIN": raw})
