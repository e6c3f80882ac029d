"""Users: argon2id hashes, one answer for every failed login, rehash on login."""

from __future__ import annotations

import msgspec
import pytest
from argon2 import PasswordHasher, Type

from quantgrid.adapters.storage import InMemoryStore, Role, UserRecord
from quantgrid.core import TestClock
from quantgrid.gateway import (
    AuthenticationError,
    InvalidAuthRequestError,
    SupportsPasswordRehash,
    UserExistsError,
    Users,
    default_password_hasher,
)
from tests.unit.gateway.conftest import PASSWORD, START_NS, CountingHasher, fast_hasher


class RehashingStore(InMemoryStore):
    """An in-memory store that can replace a password hash."""

    def __init__(self) -> None:
        super().__init__()
        self.rehashed: dict[str, str] = {}

    def get_user(self, username: str) -> UserRecord | None:
        user = super().get_user(username)
        if user is not None and username in self.rehashed:
            user = msgspec.structs.replace(user, password_hash=self.rehashed[username])
        return user

    def set_password_hash(self, username: str, password_hash: str) -> UserRecord:
        self.rehashed[username] = password_hash
        user = self.get_user(username)
        assert user is not None
        return user


def test_a_user_is_stored_with_an_argon2id_hash_of_the_password() -> None:
    store = InMemoryStore()
    Users(store, hasher=fast_hasher(), clock=TestClock(START_NS)).create_user(
        "alice", PASSWORD, Role.TRADER
    )

    user = store.get_user("alice")
    assert user is not None
    assert user.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert PASSWORD not in user.password_hash
    assert (user.role, user.created_ns) == (Role.TRADER, START_NS)


def test_the_default_hasher_is_rfc_9106s_low_memory_argon2id() -> None:
    hasher = default_password_hasher()
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
    assert (hasher.hash_len, hasher.salt_len) == (32, 16)


def test_a_hasher_other_than_argon2id_is_refused() -> None:
    with pytest.raises(ValueError, match="argon2id"):
        Users(InMemoryStore(), hasher=PasswordHasher(type=Type.I))


@pytest.mark.parametrize(
    ("username", "password", "error", "match"),
    [
        ("bob", "short", InvalidAuthRequestError, "12 to 1024 characters, this one has 5"),
        ("bob", "x" * 1025, InvalidAuthRequestError, "this one has 1025"),
        ("Bob Smith", PASSWORD, InvalidAuthRequestError, "username must be"),
        ("alice", PASSWORD, UserExistsError, "'alice' is taken"),
    ],
)
def test_a_bad_new_user_is_refused_with_the_rule(
    username: str, password: str, error: type[Exception], match: str
) -> None:
    users = Users(InMemoryStore(), hasher=fast_hasher())
    users.create_user("alice", PASSWORD, Role.VIEWER)
    with pytest.raises(error, match=match):
        users.create_user(username, password, Role.VIEWER)
    assert [u.username for u in users.list_users()] == ["alice"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password!"), ("nobody", PASSWORD), ("disabled", PASSWORD)],
)
def test_every_failed_login_gives_one_answer_after_one_argon2_check(
    username: str, password: str
) -> None:
    store = InMemoryStore()
    hasher = CountingHasher()
    users = Users(store, hasher=hasher)
    users.create_user("alice", PASSWORD, Role.VIEWER)
    users.create_user("disabled", PASSWORD, Role.VIEWER)
    store.disable_user("disabled", START_NS)
    users.check_password("alice", PASSWORD)  # makes nothing lazily on the failure path
    hasher.verified.clear()

    with pytest.raises(AuthenticationError) as raised:
        users.check_password(username, password)

    assert raised.value.detail == "invalid username or password"
    assert len(hasher.verified) == 1  # an unknown user costs a dummy check too
    assert hasher.verified[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_a_login_rehashes_a_password_hashed_with_old_parameters() -> None:
    store = RehashingStore()
    assert isinstance(store, SupportsPasswordRehash)
    Users(store, hasher=fast_hasher()).create_user("alice", PASSWORD, Role.VIEWER)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)

    user = Users(store, hasher=stronger).check_password("alice", PASSWORD)

    assert user.password_hash.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    stored = store.get_user("alice")
    assert stored is not None and stored.password_hash == user.password_hash
    assert Users(store, hasher=stronger).check_password("alice", PASSWORD) == stored


def test_without_a_rehashing_store_the_old_hash_stays_and_works() -> None:
    store = InMemoryStore()
    assert not isinstance(store, SupportsPasswordRehash)
    created = Users(store, hasher=fast_hasher()).create_user("alice", PASSWORD, Role.VIEWER)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)

    user = Users(store, hasher=stronger).check_password("alice", PASSWORD)

    assert user.password_hash == created.password_hash
