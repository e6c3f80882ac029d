"""The authenticator: logins, refreshes, and who a request's credentials stand for."""

from __future__ import annotations

import logging

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
    A bearer token's user is read from the store on every request: a user disabled,
    or given another role, is refused or gets the new role at their next request,
    without waiting for their access token to expire.
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
        self.keys = ApiKeys(store, hasher=hasher, clock=self._clock)
        self.tokens = Tokens(settings, clock=self._clock)

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
        user = self._store.get_user(claims.subject)
        if user is None or user.disabled_ns is not None:
            raise AuthenticationError("invalid access token: the user is disabled or gone")
        return Principal(subject=user.username, role=user.role, kind="user")

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
        if bearer is not None:
            return self.authenticate_token(bearer)
        assert api_key is not None
        return self.keys.verify_key(api_key)
