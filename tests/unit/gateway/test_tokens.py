"""JWTs: claims, expiry on the test clock, types, rotation, reuse, and the secret."""

from __future__ import annotations

import secrets

import jwt
import pytest

from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import AuthenticationError, Authenticator, AuthSettings, TokenPair, Tokens
from tests.unit.gateway.conftest import PASSWORD, START_NS

NANOS = 1_000_000_000
NO_EXP = {"verify_exp": False}  # tokens are stamped by the test clock, in 2024


def test_a_login_issues_an_access_and_a_refresh_token_with_the_claims(
    auth: Authenticator, settings: AuthSettings
) -> None:
    pair = auth.login("trader", PASSWORD)

    assert pair.expires_in == 15 * 60
    access = jwt.decode(pair.access, settings.jwt_secret, algorithms=["HS256"], options=NO_EXP)
    refresh = jwt.decode(pair.refresh, settings.jwt_secret, algorithms=["HS256"], options=NO_EXP)
    now_s = START_NS // NANOS
    assert access["sub"] == refresh["sub"] == "trader"
    assert access["role"] == refresh["role"] == "trader"
    assert (access["typ"], refresh["typ"]) == ("access", "refresh")
    assert access["iat"] == refresh["iat"] == now_s
    assert access["exp"] == now_s + 15 * 60
    assert refresh["exp"] == now_s + 7 * 24 * 3600
    assert access["jti"] != refresh["jti"]
    assert jwt.get_unverified_header(pair.access)["alg"] == "HS256"


def test_an_access_token_works_until_it_expires(auth: Authenticator, clock: TestClock) -> None:
    pair = auth.login("viewer", PASSWORD)
    clock.set_time(START_NS + (15 * 60 - 1) * NANOS)
    assert auth.authenticate_token(pair.access).subject == "viewer"

    clock.set_time(START_NS + 15 * 60 * NANOS)
    with pytest.raises(AuthenticationError, match="access token expired"):
        auth.authenticate_token(pair.access)


def test_a_refresh_token_expires_after_seven_days(auth: Authenticator, clock: TestClock) -> None:
    pair = auth.login("viewer", PASSWORD)
    clock.set_time(START_NS + 7 * 24 * 3600 * NANOS)
    with pytest.raises(AuthenticationError, match="refresh token expired"):
        auth.refresh(pair.refresh)


def test_a_token_of_one_type_is_refused_as_the_other(auth: Authenticator) -> None:
    pair = auth.login("viewer", PASSWORD)
    with pytest.raises(AuthenticationError, match="its typ is 'refresh'"):
        auth.authenticate_token(pair.refresh)
    with pytest.raises(AuthenticationError, match="its typ is 'access'"):
        auth.refresh(pair.access)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c, _s: jwt.encode(c, secrets.token_urlsafe(48)), id="other secret"),
        pytest.param(lambda c, s: jwt.encode(c, s, algorithm="HS512"), id="other algorithm"),
        pytest.param(lambda c, _s: jwt.encode(c, None, algorithm="none"), id="alg none"),
        pytest.param(
            lambda c, s: jwt.encode({k: v for k, v in c.items() if k != "jti"}, s),
            id="no jti",
        ),
        pytest.param(lambda c, s: jwt.encode({**c, "role": "root"}, s), id="unknown role"),
        pytest.param(lambda _c, _s: "not.a.jwt", id="garbage"),
        pytest.param(lambda _c, _s: "", id="empty"),
    ],
)
def test_a_forged_or_malformed_token_is_refused(
    auth: Authenticator, settings: AuthSettings, forge: object
) -> None:
    pair = auth.login("admin", PASSWORD)
    claims = jwt.decode(pair.access, settings.jwt_secret, algorithms=["HS256"], options=NO_EXP)
    token = forge(claims, settings.jwt_secret)  # type: ignore[operator]

    with pytest.raises(AuthenticationError, match="invalid access token"):
        auth.authenticate_token(token)


def test_a_tampered_token_is_refused(auth: Authenticator) -> None:
    header, payload, signature = auth.login("viewer", PASSWORD).access.split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"viewer"', b'"admin"')
    ).decode()
    with pytest.raises(AuthenticationError, match="invalid access token"):
        auth.authenticate_token(f"{header}.{forged}.{signature}")


def test_refresh_rotates_and_the_used_refresh_token_is_refused(
    auth: Authenticator, clock: TestClock
) -> None:
    first = auth.login("trader", PASSWORD)
    clock.set_time(START_NS + 60 * NANOS)
    second = auth.refresh(first.refresh)

    assert isinstance(second, TokenPair)
    assert second.refresh != first.refresh and second.access != first.access
    assert auth.authenticate_token(second.access).role is Role.TRADER
    with pytest.raises(AuthenticationError, match="already used"):
        auth.refresh(first.refresh)


def test_reusing_a_refresh_token_revokes_the_tokens_refreshed_from_it(
    auth: Authenticator,
) -> None:
    first = auth.login("trader", PASSWORD)
    second = auth.refresh(first.refresh)
    with pytest.raises(AuthenticationError):
        auth.refresh(first.refresh)  # the thief, or the victim: either way the chain ends

    with pytest.raises(AuthenticationError, match="revoked"):
        auth.refresh(second.refresh)
    # A new login starts a new chain.
    auth.refresh(auth.login("trader", PASSWORD).refresh)


def test_a_disabled_user_cannot_log_in_refresh_or_use_their_access_token(
    auth: Authenticator, store: InMemoryStore
) -> None:
    pair = auth.login("trader", PASSWORD)
    store.disable_user("trader", START_NS)

    with pytest.raises(AuthenticationError, match="invalid username or password"):
        auth.login("trader", PASSWORD)
    with pytest.raises(AuthenticationError, match="disabled"):
        auth.refresh(pair.refresh)
    with pytest.raises(AuthenticationError, match="disabled"):
        auth.authenticate_token(pair.access)


def test_spent_refresh_tokens_are_forgotten_once_they_would_have_expired(
    settings: AuthSettings, clock: TestClock
) -> None:
    from quantgrid.adapters.storage import UserRecord

    tokens = Tokens(settings, clock=clock)
    user = UserRecord(username="u", password_hash="$argon2id$x", role=Role.VIEWER, created_ns=0)
    claims = tokens.decode(tokens.issue(user).refresh, "refresh")
    tokens.spend(claims)
    clock.set_time(START_NS + (settings.refresh_ttl_s + 61) * NANOS)
    tokens.spend(tokens.decode(tokens.issue(user).refresh, "refresh"))  # prunes

    assert claims.jti not in tokens._spent


def test_the_secret_must_be_long_and_has_no_default() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        AuthSettings(jwt_secret="short")
    with pytest.raises(ValueError, match="QUANTGRID_JWT_SECRET is not set"):
        AuthSettings.from_env({})
    with pytest.raises(ValueError, match="at least 32"):
        AuthSettings.from_env({"QUANTGRID_JWT_SECRET": "x" * 31})
    secret = secrets.token_urlsafe(48)
    settings = AuthSettings.from_env({"QUANTGRID_JWT_SECRET": secret})
    assert settings.jwt_secret == secret
    assert secret not in repr(settings)


def test_lifetimes_must_be_ordered() -> None:
    secret = secrets.token_urlsafe(48)
    with pytest.raises(ValueError, match="access_ttl_s < refresh_ttl_s"):
        AuthSettings(jwt_secret=secret, access_ttl_s=600, refresh_ttl_s=600)
    with pytest.raises(ValueError, match="0 < access_ttl_s"):
        AuthSettings(jwt_secret=secret, access_ttl_s=0)


def test_a_token_pair_does_not_show_its_tokens(auth: Authenticator) -> None:
    pair = auth.login("viewer", PASSWORD)
    assert pair.access not in repr(pair) and pair.refresh not in repr(pair)
