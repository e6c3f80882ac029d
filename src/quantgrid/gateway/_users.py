"""Users: create them with a hashed password, and check a username and password."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from argon2 import PasswordHasher

from quantgrid.adapters.storage import ConflictError, InvalidRecordError, Role, Store, UserRecord
from quantgrid.core import Clock, LiveClock
from quantgrid.gateway._errors import (
    AuthenticationError,
    InvalidAuthRequestError,
    UserExistsError,
)
from quantgrid.gateway._passwords import SecretHasher

_logger = logging.getLogger("quantgrid.gateway")

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
#: The one answer to a failed login, whatever failed: the user, the password, or that
#: the user is disabled.
LOGIN_FAILED = "invalid username or password"


@runtime_checkable
class SupportsPasswordRehash(Protocol):
    """A store that can replace a user's password hash (for rehash-on-login)."""

    def set_password_hash(self, username: str, password_hash: str) -> UserRecord:
        """Replace the stored hash of ``username``'s password; return the user."""
        ...


class Users:
    """Create users and check their passwords.

    Parameters
    ----------
    store
        Where users are kept; only argon2id hashes of passwords are given to it.
    hasher
        The argon2 hasher (``default_password_hasher()`` if not given); tests pass a
        cheap one.
    clock
        Stamps ``created_ns``; the wall clock by default.

    Notes
    -----
    A successful login whose stored hash was made with other argon2 parameters than
    the hasher's is hashed again, when the store can replace a hash
    (``SupportsPasswordRehash``): raising the parameters upgrades each user at their
    next login. The ``Store`` port has no such method yet, so with a store that lacks
    it the old hash stays and still works.
    """

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._hasher = SecretHasher(hasher)
        self._clock = clock or LiveClock()

    def create_user(self, username: str, password: str, role: Role) -> UserRecord:
        """Store a new user with the argon2id hash of ``password``.

        Raises
        ------
        InvalidAuthRequestError
            If the username breaks the store's rule (1 to 64 of a-z 0-9 . _ @ -), or the
            password is shorter than 12 characters or longer than 1024.
        UserExistsError
            If the username is taken.
        """
        check_password_rule(password)
        user = UserRecord(
            username=username,
            password_hash=self._hasher.hash(password),
            role=role,
            created_ns=self._clock.timestamp_ns(),
        )
        try:
            self._store.create_user(user)
        except ConflictError:
            raise UserExistsError(f"username {username!r} is taken") from None
        except InvalidRecordError as exc:
            raise InvalidAuthRequestError(str(exc)) from None
        _logger.info("user created: %s (%s)", username, role.value)
        return user

    def list_users(self) -> list[UserRecord]:
        """Return every user, by username."""
        return self._store.list_users()

    def get_user(self, username: str) -> UserRecord | None:
        """Return the user named ``username``, or ``None``."""
        return self._store.get_user(username)

    def check_password(self, username: str, password: str) -> UserRecord:
        """Return the user if ``password`` is theirs and they are not disabled.

        Raises
        ------
        AuthenticationError
            With the same detail, after the same argon2 work, whether the user is
            unknown, the password wrong or the user disabled.
        """
        user = self._store.get_user(username)
        matches = self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not matches:
            _logger.info("login refused for %r: unknown user or wrong password", username)
            raise AuthenticationError(LOGIN_FAILED)
        if user.disabled_ns is not None:
            _logger.info("login refused for %r: user disabled", username)
            raise AuthenticationError(LOGIN_FAILED)
        if self._hasher.needs_rehash(user.password_hash):
            user = self._rehash(user, password)
        return user

    def _rehash(self, user: UserRecord, password: str) -> UserRecord:
        if not isinstance(self._store, SupportsPasswordRehash):
            _logger.debug("password hash of %r is due a rehash; the store cannot", user.username)
            return user
        updated = self._store.set_password_hash(user.username, self._hasher.hash(password))
        _logger.info("password of %r hashed again with the current parameters", user.username)
        return updated


def check_password_rule(password: str) -> None:
    """Raise ``InvalidAuthRequestError`` unless ``password`` has 12 to 1024 characters."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        msg = (
            f"a password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, "
            f"this one has {len(password)}"
        )
        raise InvalidAuthRequestError(msg)
