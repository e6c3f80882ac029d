"""JWT access and refresh tokens: HS256, short-lived access, rotating refresh."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import jwt

from quantgrid.adapters.storage import Role, UserRecord
from quantgrid.core import Clock, LiveClock
from quantgrid.gateway._errors import AuthenticationError
from quantgrid.gateway._settings import AuthSettings

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
_NANOS = 1_000_000_000
_REQUIRED = ["sub", "role", "typ", "iat", "exp", "jti"]
_PRUNE_EVERY_S = 60


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or a refresh returns.

    Attributes
    ----------
    access
        The bearer token for requests (``Authorization: Bearer <access>``).
    refresh
        The token that buys the next pair, once (``POST /auth/refresh``).
    expires_in
        Seconds the access token lives.
    """

    access: str
    refresh: str
    expires_in: int

    def __repr__(self) -> str:  # tokens are credentials: keep them out of logs
        return f"TokenPair(access=..., refresh=..., expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The checked claims of a token.

    ``family`` is the id shared by a chain of rotated refresh tokens (``""`` for an
    access token).
    """

    subject: str
    role: Role
    typ: TokenType
    issued_at: int
    expires_at: int
    jti: str
    family: str = ""


class Tokens:
    """Issue and check JWTs, and remember which refresh tokens were used.

    Parameters
    ----------
    settings
        The signing secret and the token lifetimes.
    clock
        What ``iat`` and ``exp`` are stamped from and checked against; the wall clock
        by default, a ``TestClock`` in tests.

    Notes
    -----
    A refresh token is good for one refresh: its ``jti`` is recorded as spent, and
    presenting it again fails and revokes its whole chain (``fam``), since a reused
    refresh token means two parties hold it. The spent ids and revoked chains are kept
    in this object's memory until the tokens would have expired anyway: a restart
    forgets them, and several gateway processes do not share them. A store-backed
    record is needed before running more than one gateway process.
    """

    def __init__(self, settings: AuthSettings, *, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock or LiveClock()
        self._lock = threading.Lock()
        self._spent: dict[str, int] = {}  # jti -> exp (s), until then
        self._revoked_families: dict[str, int] = {}  # fam -> when its last token expires
        self._next_prune_s = 0

    def issue(self, user: UserRecord, *, family: str | None = None) -> TokenPair:
        """Return a new access and refresh token for ``user``.

        ``family`` continues a chain of refresh tokens; a login starts a new one.
        """
        now_s = self._now_s()
        settings = self._settings
        base = {"sub": user.username, "role": user.role.value, "iat": now_s}
        access = {**base, "typ": "access", "exp": now_s + settings.access_ttl_s}
        refresh = {
            **base,
            "typ": "refresh",
            "exp": now_s + settings.refresh_ttl_s,
            "fam": family or secrets.token_urlsafe(12),
        }
        return TokenPair(
            access=self._encode(access),
            refresh=self._encode(refresh),
            expires_in=settings.access_ttl_s,
        )

    def decode(self, token: str, typ: TokenType) -> TokenClaims:
        """Return the claims of ``token`` if it is a valid, unexpired ``typ`` token.

        Raises
        ------
        AuthenticationError
            If the token is malformed, signed with another secret or algorithm, lacks
            a claim, is of the other type, or has expired.
        """
        try:
            payload = jwt.decode(
                token,
                self._settings.jwt_secret,
                algorithms=[ALGORITHM],
                options={
                    "require": _REQUIRED,
                    # Expiry is checked against the injected clock, below.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError:
            raise AuthenticationError(f"invalid {typ} token") from None
        try:
            claims = TokenClaims(
                subject=str(payload["sub"]),
                role=Role(payload["role"]),
                typ=payload["typ"],
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
                jti=str(payload["jti"]),
                family=str(payload.get("fam", "")),
            )
        except (ValueError, TypeError):
            raise AuthenticationError(f"invalid {typ} token") from None
        if claims.typ != typ:
            raise AuthenticationError(f"invalid {typ} token (its typ is {claims.typ!r})")
        if typ == "refresh" and not claims.family:
            raise AuthenticationError("invalid refresh token")
        if self._now_s() >= claims.expires_at:
            raise AuthenticationError(f"{typ} token expired")
        return claims

    def spend(self, claims: TokenClaims) -> None:
        """Record a refresh token as used; refuse one used before, and revoke its chain.

        Raises
        ------
        AuthenticationError
            If the token was already spent or its chain was revoked.
        """
        now_s = self._now_s()
        with self._lock:
            self._prune(now_s)
            if claims.family in self._revoked_families:
                raise AuthenticationError("refresh token revoked: log in again")
            if claims.jti in self._spent:
                # Whoever holds the newer token of this chain may be a thief: end it.
                self._revoked_families[claims.family] = now_s + self._settings.refresh_ttl_s
                raise AuthenticationError("refresh token already used: log in again")
            self._spent[claims.jti] = claims.expires_at

    def _encode(self, claims: Mapping[str, object]) -> str:
        return jwt.encode(
            {**claims, "jti": secrets.token_urlsafe(16)},
            self._settings.jwt_secret,
            algorithm=ALGORITHM,
        )

    def _now_s(self) -> int:
        return self._clock.timestamp_ns() // _NANOS

    def _prune(self, now_s: int) -> None:
        if now_s < self._next_prune_s:
            return
        self._next_prune_s = now_s + _PRUNE_EVERY_S
        self._spent = {jti: exp for jti, exp in self._spent.items() if exp > now_s}
        self._revoked_families = {
            fam: until for fam, until in self._revoked_families.items() if until > now_s
        }
