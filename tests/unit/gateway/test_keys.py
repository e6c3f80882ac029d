"""API keys: shown once, kept hashed, checked, touched sparingly, revoked."""

from __future__ import annotations

import logging

import msgspec
import pytest

from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import (
    ApiKeys,
    AuthenticationError,
    Authenticator,
    InvalidAuthRequestError,
    NewApiKey,
    Principal,
    UnknownKeyError,
    UnknownUserError,
    Users,
)
from tests.unit.gateway.conftest import PASSWORD, START_NS, CountingHasher, fast_hasher

NANOS = 1_000_000_000


@pytest.fixture
def keys(auth: Authenticator) -> ApiKeys:
    return auth.keys


def test_a_new_key_is_qgk_id_secret_and_only_its_hash_is_stored(
    keys: ApiKeys, store: InMemoryStore
) -> None:
    new = keys.create_key("trader", Role.TRADER, "momentum bot")

    assert isinstance(new, NewApiKey)
    key_id, secret = new
    prefix, _, rest = secret.partition("_")
    assert (prefix, rest[:16], rest[16]) == ("qgk", key_id, "_")
    assert len(rest[17:]) == 43  # secrets.token_urlsafe(32)
    record = store.get_api_key(key_id)
    assert record is not None
    assert record.key_hash.startswith("$argon2id$")
    assert rest[17:] not in msgspec.json.encode(record).decode()
    assert (record.owner, record.role, record.created_ns) == ("trader", Role.TRADER, START_NS)


def test_a_key_stands_for_its_owner_with_its_role(keys: ApiKeys) -> None:
    new = keys.create_key("admin", Role.VIEWER, "reporting")

    assert keys.verify_key(new.secret) == Principal(
        subject="admin", role=Role.VIEWER, kind="key", key_id=new.key_id
    )


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"), id="wrong secret"),
        pytest.param(lambda k: "qgk_0123456789abcdef" + k[20:], id="unknown id"),
        pytest.param(lambda k: k[4:], id="no prefix"),
        pytest.param(lambda k: k + "x", id="too long"),
        pytest.param(lambda k: k.replace("_", "-", 1), id="bad separator"),
        pytest.param(lambda _k: "", id="empty"),
        pytest.param(lambda k: k.upper(), id="upper case"),
    ],
)
def test_a_wrong_or_malformed_key_is_refused(keys: ApiKeys, mangle: object) -> None:
    new = keys.create_key("trader", Role.TRADER)
    keys.verify_key(new.secret)  # checked once: later checks may use the remembered digest

    with pytest.raises(AuthenticationError, match="invalid or revoked API key"):
        keys.verify_key(mangle(new.secret))  # type: ignore[operator]


def test_a_revoked_key_is_refused_at_once(keys: ApiKeys, clock: TestClock) -> None:
    new = keys.create_key("trader", Role.TRADER)
    keys.verify_key(new.secret)
    clock.set_time(START_NS + NANOS)

    revoked = keys.revoke_key(new.key_id)

    assert revoked.revoked_ns == START_NS + NANOS
    with pytest.raises(AuthenticationError, match="invalid or revoked API key"):
        keys.verify_key(new.secret)


def test_a_key_revoked_by_another_process_is_refused(keys: ApiKeys, store: InMemoryStore) -> None:
    new = keys.create_key("trader", Role.TRADER)
    keys.verify_key(new.secret)
    store.revoke_api_key(new.key_id, START_NS)  # as the CLI would, elsewhere

    with pytest.raises(AuthenticationError):
        keys.verify_key(new.secret)


def test_a_disabled_owners_keys_are_refused(keys: ApiKeys, store: InMemoryStore) -> None:
    new = keys.create_key("trader", Role.TRADER)
    store.disable_user("trader", START_NS)

    with pytest.raises(AuthenticationError, match="invalid or revoked API key"):
        keys.verify_key(new.secret)
    with pytest.raises(InvalidAuthRequestError, match="disabled"):
        keys.create_key("trader", Role.VIEWER)


@pytest.mark.parametrize(
    ("owner", "role"),
    [("viewer", Role.TRADER), ("viewer", Role.ADMIN), ("trader", Role.ADMIN)],
)
def test_a_key_role_above_its_owners_is_refused(keys: ApiKeys, owner: str, role: Role) -> None:
    with pytest.raises(InvalidAuthRequestError, match="cannot exceed its owner's"):
        keys.create_key(owner, role)
    assert keys.list_keys(owner) == []


def test_bad_owner_or_label_is_refused(keys: ApiKeys) -> None:
    with pytest.raises(UnknownUserError, match="'nobody'"):
        keys.create_key("nobody", Role.VIEWER)
    with pytest.raises(InvalidAuthRequestError, match="at most 64"):
        keys.create_key("admin", Role.VIEWER, "x" * 65)
    with pytest.raises(InvalidAuthRequestError, match="control characters"):
        keys.create_key("admin", Role.VIEWER, "bot\nforged log line")


def test_revoking_an_unknown_key_says_so(keys: ApiKeys) -> None:
    with pytest.raises(UnknownKeyError, match="'nope'"):
        keys.revoke_key("nope")


def test_last_use_is_written_at_most_once_a_minute(
    keys: ApiKeys, store: InMemoryStore, clock: TestClock
) -> None:
    new = keys.create_key("trader", Role.TRADER)

    def last_used() -> int | None:
        record = store.get_api_key(new.key_id)
        assert record is not None
        return record.last_used_ns

    assert last_used() is None
    keys.verify_key(new.secret)
    assert last_used() == START_NS
    clock.set_time(START_NS + 59 * NANOS)
    keys.verify_key(new.secret)
    assert last_used() == START_NS
    clock.set_time(START_NS + 60 * NANOS)
    keys.verify_key(new.secret)
    assert last_used() == START_NS + 60 * NANOS


def test_an_unknown_key_costs_an_argon2_check_like_a_wrong_one() -> None:
    store = InMemoryStore()
    hasher = CountingHasher()
    Users(store, hasher=fast_hasher()).create_user("bot", PASSWORD, Role.TRADER)
    keys = ApiKeys(store, hasher=hasher)
    new = keys.create_key("bot", Role.TRADER)
    with pytest.raises(AuthenticationError):
        keys.verify_key("qgk_0123456789abcdef_" + new.secret[-43:])
    with pytest.raises(AuthenticationError):
        keys.verify_key(new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B"))

    assert len(hasher.verified) == 2


def test_no_secret_reaches_the_log(auth: Authenticator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="quantgrid")
    new = auth.keys.create_key("admin", Role.TRADER, "bot-1")
    auth.keys.verify_key(new.secret)
    auth.keys.revoke_key(new.key_id)
    pair = auth.login("admin", PASSWORD)
    auth.refresh(pair.refresh)
    with pytest.raises(AuthenticationError):
        auth.login("admin", "a wrong password")

    logged = caplog.text
    assert new.key_id in logged and "bot-1" in logged  # the log does say what happened
    for secret in (new.secret, new.secret[-43:], PASSWORD, "a wrong password", pair.access):
        assert secret not in logged
    assert pair.refresh not in logged
