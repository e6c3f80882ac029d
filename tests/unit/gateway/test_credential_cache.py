"""Credentials that worked are let through for a few seconds without reading the store."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import AuthenticationError, Authenticator, AuthSettings
from tests.unit.gateway.conftest import PASSWORD, ROOMY, START_NS, fast_hasher

SECOND = 1_000_000_000


class CountingStore(InMemoryStore):
    """An in-memory store that counts its user and key reads."""

    reads = 0

    def get_user(self, username: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().get_user(username)

    def get_api_key(self, key_id: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().get_api_key(key_id)


def _auth(ttl_s: float = 2.0) -> tuple[Authenticator, CountingStore, TestClock]:
    store, clock = CountingStore(), TestClock(START_NS)
    settings = AuthSettings(
        jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY, credential_ttl_s=ttl_s
    )
    auth = Authenticator(store, settings, hasher=fast_hasher(), clock=clock)
    auth.users.create_user("trader", PASSWORD, Role.TRADER)
    return auth, store, clock


def test_a_token_is_checked_against_the_store_once_per_window() -> None:
    auth, store, clock = _auth()
    token = auth.login("trader", PASSWORD).access
    store.reads = 0
    for _ in range(50):
        assert auth.authenticate(token, None).subject == "trader"
    assert store.reads == 1
    clock.set_time(clock.timestamp_ns() + 2 * SECOND)
    auth.authenticate(token, None)
    assert store.reads == 2


def test_a_disabled_user_is_refused_once_the_window_has_passed() -> None:
    auth, store, clock = _auth()
    token = auth.login("trader", PASSWORD).access
    auth.authenticate(token, None)
    store.disable_user("trader", START_NS)  # as `quantgrid users disable` in another process
    assert auth.authenticate(token, None).subject == "trader"  # within the window
    clock.set_time(clock.timestamp_ns() + 2 * SECOND)
    with pytest.raises(AuthenticationError, match="disabled"):
        auth.authenticate(token, None)


def test_a_window_of_zero_reads_the_store_every_time() -> None:
    auth, store, _ = _auth(ttl_s=0.0)
    token = auth.login("trader", PASSWORD).access
    auth.authenticate(token, None)
    store.disable_user("trader", START_NS)
    with pytest.raises(AuthenticationError, match="disabled"):
        auth.authenticate(token, None)


def test_a_remembered_token_is_still_refused_once_it_expires() -> None:
    auth, _, clock = _auth(ttl_s=60.0)
    token = auth.login("trader", PASSWORD).access
    auth.authenticate(token, None)
    clock.set_time(clock.timestamp_ns() + auth.settings.access_ttl_s * SECOND)
    with pytest.raises(AuthenticationError):
        auth.authenticate(token, None)


def test_a_key_revoked_here_is_refused_at_once() -> None:
    auth, store, _ = _auth(ttl_s=60.0)
    made = auth.keys.create_key("trader", Role.TRADER)
    assert auth.authenticate(None, made.secret).key_id == made.key_id
    store.reads = 0
    auth.authenticate(None, made.secret)
    assert store.reads == 0
    auth.keys.revoke_key(made.key_id)
    with pytest.raises(AuthenticationError):
        auth.authenticate(None, made.secret)


def test_the_window_must_be_between_0_and_60_seconds() -> None:
    for bad in (-1.0, 61.0, float("nan")):
        with pytest.raises(ValueError, match="credential_ttl_s must be between 0 and 60"):
            AuthSettings(jwt_secret="s" * 48, credential_ttl_s=bad)


def test_a_key_revoked_while_it_is_being_verified_is_not_remembered() -> None:
    """A revoke that lands between a key's check and its caching must not be undone."""
    auth, _, _ = _auth(ttl_s=60.0)
    made = auth.keys.create_key("trader", Role.TRADER)
    verify = auth.keys.verify_key

    def verify_then_revoked(presented: str):  # type: ignore[no-untyped-def]
        principal = verify(presented)
        auth.keys.revoke_key(made.key_id)  # as an admin request on another thread
        return principal

    auth.keys.verify_key = verify_then_revoked  # type: ignore[method-assign]
    auth.authenticate(None, made.secret)  # verified before the revoke: let through once
    assert auth.known_caller(None, made.secret) is None
    auth.keys.verify_key = verify  # type: ignore[method-assign]
    with pytest.raises(AuthenticationError):
        auth.authenticate(None, made.secret)


@pytest.mark.anyio
async def test_requests_arriving_while_a_key_is_checked_share_that_one_check(
    auth: Authenticator,
) -> None:
    """When a remembered key expires under load, argon2 runs once, not once a request."""
    import threading
    import time

    import httpx
    from fastapi import Depends, FastAPI

    from quantgrid.gateway import Principal, authenticated, install_auth

    app = FastAPI()
    install_auth(app, auth)

    @app.get("/me")
    async def me(caller: Principal = Depends(authenticated())) -> str:  # noqa: B008
        return caller.subject

    good = auth.keys.create_key("trader", Role.TRADER).secret
    bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    checks: list[str | None] = []
    lock = threading.Lock()
    authenticate = auth.authenticate

    def slow_authenticate(bearer: str | None, api_key: str | None) -> Principal:
        with lock:
            checks.append(api_key)
        time.sleep(0.1)  # long enough for every request below to arrive meanwhile
        return authenticate(bearer, api_key)

    auth.authenticate = slow_authenticate  # type: ignore[method-assign]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        answers = await asyncio.gather(
            *(client.get("/me", headers={"X-API-Key": good}) for _ in range(12)),
            *(client.get("/me", headers={"X-API-Key": bad}) for _ in range(12)),
        )
    assert [a.status_code for a in answers] == [200] * 12 + [401] * 12
    assert all(a.json() == "trader" for a in answers[:12])
    assert sorted(checks, key=str) == sorted([good, bad], key=str)  # one check each
