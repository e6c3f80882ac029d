"""API keys for bots: made once, kept only as an argon2id hash, revocable."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Callable
from typing import NamedTuple

from argon2 import PasswordHasher

from quantgrid.adapters.storage import (
    ApiKeyRecord,
    ConflictError,
    NotFoundError,
    Role,
    Store,
    StoreError,
)
from quantgrid.core import Clock, LiveClock
from quantgrid.gateway._errors import (
    AuthenticationError,
    InvalidAuthRequestError,
    UnknownKeyError,
    UnknownUserError,
)
from quantgrid.gateway._passwords import SecretHasher
from quantgrid.gateway._principal import Principal, lower_role, role_rank

_logger = logging.getLogger("quantgrid.gateway")

#: Every key starts with this, so a leaked key is easy to recognise (secret scanners).
KEY_PREFIX = "qgk_"
#: A key's last use is written at most this often (nanoseconds): not once per request.
TOUCH_INTERVAL_NS = 60 * 1_000_000_000
MAX_LABEL_CHARS = 64
KEY_REFUSED = "invalid or revoked API key"

_KEY = re.compile(r"qgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_LABEL = re.compile(r"[^\x00-\x1f\x7f]*")


class NewApiKey(NamedTuple):
    """A key just made: its id, and the whole key to give the bot, shown this once.

    ``secret`` is what the bot sends in ``X-API-Key``: ``qgk_<key_id>_<random>``.
    Only its hash is stored, so it cannot be shown again.
    """

    key_id: str
    secret: str


def format_key(key_id: str, secret: str) -> str:
    """Return the key a bot presents: ``qgk_<key_id>_<secret>``."""
    return f"{KEY_PREFIX}{key_id}_{secret}"


def parse_key(presented: str) -> tuple[str, str] | None:
    """Return the ``(key_id, secret)`` of a presented key, or ``None`` if malformed."""
    match = _KEY.fullmatch(presented)
    return (match[1], match[2]) if match else None


class ApiKeys:
    """Make, check and revoke API keys.

    Parameters
    ----------
    store
        Where keys are kept (only the argon2id hash of each secret).
    hasher
        The argon2 hasher (``default_password_hasher()`` if not given).
    clock
        Stamps creation, revocation and last use; the wall clock by default.

    Notes
    -----
    A key's secret is 32 random bytes (``secrets.token_urlsafe(32)``), so its argon2
    hash guards against a stolen database, not against guessing. Checking argon2 on
    every request of a busy bot would cost ~0.1 s each, so once a key has been checked
    this object remembers the SHA-256 of its secret (in memory, with the stored hash it
    was checked against) and compares later requests to that. The key's record and its
    owner are still read on every request, so a revocation or a disabled owner takes
    effect at the next request, in every process.
    """

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        on_revoke: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._on_revoke = on_revoke
        self._hasher = SecretHasher(hasher)
        self._clock = clock or LiveClock()
        self._checked: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()

    def create_key(self, owner: str, role: Role, label: str = "") -> NewApiKey:
        """Make a key for ``owner`` with ``role``; return its id and the key, shown once.

        ``label`` says what the key is for (a bot's name); it goes to the log.

        Raises
        ------
        UnknownUserError
            If ``owner`` is not a user.
        InvalidAuthRequestError
            If the owner is disabled, ``role`` is above the owner's, or ``label`` is
            longer than 64 characters or has control characters.
        """
        if len(label) > MAX_LABEL_CHARS or not _LABEL.fullmatch(label):
            msg = f"a label has at most {MAX_LABEL_CHARS} characters and no control characters"
            raise InvalidAuthRequestError(msg)
        user = self._store.get_user(owner)
        if user is None:
            raise UnknownUserError(f"no user is named {owner!r}")
        if user.disabled_ns is not None:
            raise InvalidAuthRequestError(f"user {owner!r} is disabled: it cannot own new keys")
        if role_rank(role) > role_rank(user.role):
            msg = (
                f"a key's role cannot exceed its owner's: {owner!r} is {user.role.value}, "
                f"the key asked for {role.value}"
            )
            raise InvalidAuthRequestError(msg)
        secret = secrets.token_urlsafe(32)
        key_hash = self._hasher.hash(secret)
        for _ in range(3):  # 64 random bits: a clash of ids is all but impossible
            key_id = secrets.token_hex(8)
            record = ApiKeyRecord(
                key_id=key_id,
                key_hash=key_hash,
                owner=owner,
                role=role,
                created_ns=self._clock.timestamp_ns(),
            )
            try:
                if self._store.create_api_key(record):
                    break
            except ConflictError:
                continue
        else:  # pragma: no cover - three clashes of 64 random bits
            raise RuntimeError("could not find a free API key id")
        _logger.info("API key %s created for %s (%s), label %r", key_id, owner, role.value, label)
        return NewApiKey(key_id, format_key(key_id, secret))

    def verify_key(self, presented: str) -> Principal:
        """Return the caller a presented key stands for.

        The caller's role is the lower of the key's and its owner's (an owner demoted
        since the key was made takes their keys down with them).

        Raises
        ------
        AuthenticationError
            With one detail for every failure: a malformed key, an unknown id, a wrong
            secret, a revoked key, or an owner disabled or gone.
        """
        parsed = parse_key(presented)
        if parsed is None:
            raise AuthenticationError(f"{KEY_REFUSED} (keys look like qgk_<id>_<secret>)")
        key_id, secret = parsed
        record = self._store.get_api_key(key_id)
        if not self._secret_matches(record, key_id, secret) or record is None:
            raise AuthenticationError(KEY_REFUSED)
        owner = self._store.get_user(record.owner)
        if record.revoked_ns is not None or owner is None or owner.disabled_ns is not None:
            raise AuthenticationError(KEY_REFUSED)
        self._touch(record)
        role = lower_role(record.role, owner.role)
        return Principal(subject=record.owner, role=role, kind="key", key_id=key_id)

    def revoke_key(self, key_id: str) -> ApiKeyRecord:
        """Revoke a key from now on; revoking it again keeps the first time.

        Raises
        ------
        UnknownKeyError
            If no key has that id.
        """
        try:
            record = self._store.revoke_api_key(key_id, self._clock.timestamp_ns())
        except NotFoundError:
            raise UnknownKeyError(f"no API key has the id {key_id!r}") from None
        with self._lock:
            self._checked.pop(key_id, None)
        if self._on_revoke is not None:
            self._on_revoke(key_id)
        _logger.info("API key %s of %s revoked", key_id, record.owner)
        return record

    def list_keys(self, owner: str) -> list[ApiKeyRecord]:
        """Return ``owner``'s keys (revoked ones too), by creation time."""
        return self._store.list_api_keys(owner)

    def _secret_matches(self, record: ApiKeyRecord | None, key_id: str, secret: str) -> bool:
        if record is None:
            return self._hasher.verify(None, secret)  # same work as a wrong secret
        digest = hashlib.sha256(secret.encode()).digest()
        with self._lock:
            checked = self._checked.get(key_id)
        if checked is not None and checked[0] == record.key_hash:
            return hmac.compare_digest(checked[1], digest)
        if not self._hasher.verify(record.key_hash, secret):
            return False
        with self._lock:
            self._checked[key_id] = (record.key_hash, digest)
        return True

    def _touch(self, record: ApiKeyRecord) -> None:
        now = self._clock.timestamp_ns()
        if record.last_used_ns is not None and now - record.last_used_ns < TOUCH_INTERVAL_NS:
            return
        try:
            self._store.touch_api_key(record.key_id, now)
        except StoreError as exc:  # a missed last-use stamp must not refuse the request
            _logger.warning("could not record the use of API key %s: %s", record.key_id, exc)
