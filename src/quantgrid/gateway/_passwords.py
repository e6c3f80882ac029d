"""argon2id hashing of passwords and API-key secrets, with a constant-time failure path."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2id parameters: RFC 9106's second recommended option (for memory-constrained
#: servers). Each hash or check takes 64 MiB for three passes: about 0.1 s on a 2-core VM.
TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4
HASH_LEN = 32
SALT_LEN = 16


def default_password_hasher() -> PasswordHasher:
    """Return the argon2id hasher the gateway uses unless it is given another.

    Notes
    -----
    Tests pass a cheap hasher (``PasswordHasher(time_cost=1, memory_cost=8,
    parallelism=1)``) to the gateway's constructors instead of patching this one.
    """
    return PasswordHasher(
        time_cost=TIME_COST,
        memory_cost=MEMORY_COST_KIB,
        parallelism=PARALLELISM,
        hash_len=HASH_LEN,
        salt_len=SALT_LEN,
        type=Type.ID,
    )


class SecretHasher:
    """Hash secrets to argon2id PHC strings and check secrets against them.

    Parameters
    ----------
    hasher
        The argon2-cffi hasher; ``default_password_hasher()`` if not given. It must
        make argon2id hashes.

    Notes
    -----
    ``verify(None, secret)`` checks ``secret`` against a dummy hash made with the same
    parameters and returns ``False``, so a failure costs the same time whether or not
    the user or key exists.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or default_password_hasher()
        if self._hasher.type is not Type.ID:
            msg = f"the password hasher must make argon2id hashes, not {self._hasher.type.name}"
            raise ValueError(msg)
        self._dummy: str | None = None

    def hash(self, secret: str) -> str:
        """Return the argon2id PHC string (``$argon2id$v=19$m=...``) of ``secret``."""
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """Return whether ``secret`` matches ``stored_hash`` (``None``: a dummy, so no).

        A malformed stored hash does not match anything.
        """
        if stored_hash is None:
            if self._dummy is None:
                self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
            self._check(self._dummy, secret)
            return False
        return self._check(stored_hash, secret)

    def needs_rehash(self, stored_hash: str) -> bool:
        """Return whether ``stored_hash`` was made with other parameters than the current."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def _check(self, stored_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
