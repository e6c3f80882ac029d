"""The gateway's settings: the token secret and lifetimes, and the request budgets."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from quantgrid.adapters.storage import Role

#: The environment variable the token-signing secret is read from.
JWT_SECRET_ENV = "QUANTGRID_JWT_SECRET"
#: ``QUANTGRID_RATE_LIMIT_<ROLE>`` sets a budget (see ``RateLimits.from_env``).
RATE_LIMIT_ENV_PREFIX = "QUANTGRID_RATE_LIMIT_"
#: The shortest secret accepted, in bytes: HS256 wants a key as long as its hash.
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``per_second`` requests on average, up to ``burst`` at once.

    A caller starts with ``burst`` tokens, spends one per request and regains
    ``per_second`` of them each second, never holding more than ``burst``.
    """

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_second) and self.per_second > 0):
            msg = f"RateLimit.per_second must be a positive number, got {self.per_second!r}"
            raise ValueError(msg)
        if self.burst < 1:
            msg = f"RateLimit.burst must be at least 1, got {self.burst!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The request budget of each caller, by role, and of login attempts.

    Each user and each API key has its own bucket; ``login`` budgets the attempts at
    one username from one client address.
    """

    viewer: RateLimit = RateLimit(per_second=10.0, burst=20)
    trader: RateLimit = RateLimit(per_second=20.0, burst=40)
    admin: RateLimit = RateLimit(per_second=20.0, burst=40)
    login: RateLimit = RateLimit(per_second=0.2, burst=5)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RateLimits:
        """Return the budgets, each from ``QUANTGRID_RATE_LIMIT_<NAME>`` if set.

        ``<NAME>`` is ``VIEWER``, ``TRADER``, ``ADMIN`` or ``LOGIN``; the value is
        ``<per_second>/<burst>``, e.g. ``QUANTGRID_RATE_LIMIT_TRADER=500/1000`` for a
        bot placing orders. Unset ones keep their defaults.

        Raises
        ------
        ValueError
            A value that is not two positive numbers, naming the variable.
        """
        env = os.environ if environ is None else environ
        chosen: dict[str, RateLimit] = {}
        for name in ("viewer", "trader", "admin", "login"):
            variable = f"{RATE_LIMIT_ENV_PREFIX}{name.upper()}"
            raw = env.get(variable, "").strip()
            if raw:
                chosen[name] = _parse_rate(variable, raw)
        return cls(**chosen)

    def for_role(self, role: Role) -> RateLimit:
        """Return the budget of a caller with ``role``."""
        return {Role.VIEWER: self.viewer, Role.TRADER: self.trader, Role.ADMIN: self.admin}[role]


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How tokens are signed and how long they live, and the request budgets.

    Parameters
    ----------
    jwt_secret
        The HS256 signing secret, at least 32 bytes. There is no default: a deployment
        sets ``QUANTGRID_JWT_SECRET`` (see ``from_env``), a test passes its own.
    access_ttl_s
        Lifetime of an access token, in seconds (15 minutes by default).
    refresh_ttl_s
        Lifetime of a refresh token, in seconds (7 days by default).
    rate_limits
        The request budget per role, and of login attempts.
    credential_ttl_s
        How long credentials that worked are let through without reading the store
        again (``0``: read it on every request). A user disabled or re-roled, or a key
        revoked in another process, takes effect within this time.
    """

    jwt_secret: str = field(repr=False)
    access_ttl_s: int = 15 * 60
    refresh_ttl_s: int = 7 * 24 * 3600
    rate_limits: RateLimits = field(default_factory=RateLimits)
    credential_ttl_s: float = 2.0

    def __post_init__(self) -> None:
        size = len(self.jwt_secret.encode())
        if size < MIN_SECRET_BYTES:
            msg = (
                f"the JWT secret is {size} bytes; it must be at least {MIN_SECRET_BYTES} "
                f"(set {JWT_SECRET_ENV}, e.g. to the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
            raise ValueError(msg)
        if self.access_ttl_s <= 0 or self.refresh_ttl_s <= self.access_ttl_s:
            msg = (
                "token lifetimes must satisfy 0 < access_ttl_s < refresh_ttl_s, got "
                f"access_ttl_s={self.access_ttl_s}, refresh_ttl_s={self.refresh_ttl_s}"
            )
            raise ValueError(msg)
        if not (math.isfinite(self.credential_ttl_s) and 0 <= self.credential_ttl_s <= 60):
            msg = (
                f"credential_ttl_s must be between 0 and 60 seconds, got {self.credential_ttl_s!r}"
            )
            raise ValueError(msg)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, rate_limits: RateLimits | None = None
    ) -> AuthSettings:
        """Return the settings with the secret from ``QUANTGRID_JWT_SECRET``.

        Raises
        ------
        ValueError
            If the variable is missing or shorter than 32 bytes: the gateway refuses to
            start rather than sign tokens with a guessable secret.
        """
        env = os.environ if environ is None else environ
        secret = env.get(JWT_SECRET_ENV, "")
        if not secret:
            msg = f"{JWT_SECRET_ENV} is not set: the gateway needs a secret to sign tokens"
            raise ValueError(msg)
        return cls(jwt_secret=secret, rate_limits=rate_limits or RateLimits())


def _parse_rate(variable: str, raw: str) -> RateLimit:
    rule = "must be <per_second>/<burst> with a positive rate and a whole burst >= 1"
    per_second, sep, burst = raw.partition("/")
    try:
        if not sep:
            raise ValueError
        return RateLimit(float(per_second), int(burst))
    except ValueError:
        raise ValueError(f"{variable}={raw!r}: {rule}, e.g. 500/1000") from None
