"""The authenticator: logins, refreshes, and who a request's credentials stand for."""

from __future__ import annotations

import logging
import threading

from argon2 import PasswordHasher

from quantgrid.adapters.storage import Store
from quantgrid.core import Clock, LiveClock
from quantgrid.gateway._errors import AuthenticationError
from quantgrid.gateway._keys import ApiKeys
from quantgrid.gateway._principal import Principal
from quantgrid.gateway._settings import AuthSettings
from quantgrid.gateway._tokens import TokenPair, Tokens
from quantgrid.gateway._users import Users

_logger = logging.getLogger("quantgrid.gateway")
_MAX_KNOWN = 10_000


class Authenticator:
    """Log users in, rotate their tokens, and tell who a request comes from.

    Parameters
    ----------
    store
        Where users and API keys are kept.
    settings
        The token secret and lifetimes, and the request budgets.
    hasher
        The argon2 hasher for passwords and key secrets (``default_password_hasher()``
        if not given); tests pass a cheap one.
    clock
        The time tokens are stamped with and checked against; the wall clock by default.

    Notes
    -----
    A credential that worked is remembered for ``AuthSettings.credential_ttl_s`` (2 s
    by default; never past its token's expiry): the requests in that window are let
    through without reading the store again or leaving the event loop (a store read in
    a worker thread per request was a large share of a request's cost). A user
    disabled or given another role, or a key revoked from another process, is refused
    or gets the new role within that time; a key revoked through this authenticator is
    refused at once.
    """

    def __init__(
        self,
        store: Store,
        settings: AuthSettings,
        *,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock or LiveClock()
        self.users = Users(store, hasher=hasher, clock=self._clock)
        self.keys = ApiKeys(store, hasher=hasher, clock=self._clock, on_revoke=self._forget_key)
        self.tokens = Tokens(settings, clock=self._clock)
        # (bearer, api key) -> (the caller, until when in ns): credentials that worked.
        self._known: dict[tuple[str | None, str | None], tuple[Principal, int]] = {}
        self._known_lock = threading.Lock()
        # Bumped by every revoke here: a key checked before one is not remembered after.
        self._revocations = 0

    @property
    def settings(self) -> AuthSettings:
        """Return the settings the authenticator was made with."""
        return self._settings

    @property
    def clock(self) -> Clock:
        """Return the clock tokens are stamped with."""
        return self._clock

    def login(self, username: str, password: str) -> TokenPair:
        """Return a new token pair if ``password`` is ``username``'s.

        Raises
        ------
        AuthenticationError
            With one detail whether the user is unknown, the password wrong or the
            user disabled.
        """
        user = self.users.check_password(username, password)
        _logger.info("user %s logged in", username)
        return self.tokens.issue(user)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Return the next token pair for a refresh token, which is spent by it.

        Raises
        ------
        AuthenticationError
            If the token is invalid, expired, an access token, already used (which
            also revokes the tokens refreshed from it), or its user is disabled or gone.
        """
        claims = self.tokens.decode(refresh_token, "refresh")
        self.tokens.spend(claims)
        user = self._store.get_user(claims.subject)
        if user is None or user.disabled_ns is not None:
            _logger.info("refresh refused for %r: user disabled or gone", claims.subject)
            raise AuthenticationError("refresh refused: the user is disabled or gone")
        return self.tokens.issue(user, family=claims.family)

    def authenticate_token(self, access_token: str) -> Principal:
        """Return the user an access token stands for, with their current role.

        Raises
        ------
        AuthenticationError
            If the token is invalid, expired or a refresh token, or its user is
            disabled or gone.
        """
        claims = self.tokens.decode(access_token, "access")
        return self._user_principal(claims.subject)

    def authenticate(self, bearer: str | None, api_key: str | None) -> Principal:
        """Return the caller of a request from its bearer token or its API key.

        Raises
        ------
        AuthenticationError
            If neither or both are given, or the one given does not work.
        """
        if bearer is None and api_key is None:
            msg = "no credentials: send Authorization: Bearer <token> or X-API-Key: <key>"
            raise AuthenticationError(msg, invalid_token=False)
        if bearer is not None and api_key is not None:
            raise AuthenticationError("send a bearer token or an API key, not both")
        known = self.known_caller(bearer, api_key)
        if known is not None:
            return known
        revocations = self._revocations
        now = self._clock.timestamp_ns()
        until = now + round(self._settings.credential_ttl_s * 1e9)
        if bearer is not None:
            claims = self.tokens.decode(bearer, "access")
            principal = self._user_principal(claims.subject)
            until = min(until, claims.expires_at * 1_000_000_000)
        else:
            assert api_key is not None
            principal = self.keys.verify_key(api_key)
        with self._known_lock:
            if api_key is not None and revocations != self._revocations:
                return principal  # a key was revoked meanwhile: perhaps this one
            if len(self._known) >= _MAX_KNOWN:
                self._known.clear()  # bounded; the next requests read the store again
            self._known[(bearer, api_key)] = (principal, until)
        return principal

    def known_caller(self, bearer: str | None, api_key: str | None) -> Principal | None:
        """Return the caller of credentials that worked within the last few seconds.

        ``None`` if they were not seen, or too long ago: then call ``authenticate``
        (which may read the store and run argon2, so off the event loop).
        """
        entry = self._known.get((bearer, api_key))
        if entry is None:
            return None
        principal, until = entry
        if self._clock.timestamp_ns() >= until:
            with self._known_lock:
                self._known.pop((bearer, api_key), None)
            return None
        return principal

    def _forget_key(self, key_id: str) -> None:
        with self._known_lock:
            self._revocations += 1
            for credentials in [c for c, (p, _) in self._known.items() if p.key_id == key_id]:
                del self._known[credentials]

    def _user_principal(self, username: str) -> Principal:
        user = self._store.get_user(username)
        if user is None or user.disabled_ns is not None:
            raise AuthenticationError("invalid access token: the user is disabled or gone")
        return Principal(subject=user.username, role=user.role, kind="user")
