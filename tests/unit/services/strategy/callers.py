"""Users of every role and their credentials, for the services' role checks."""

from __future__ import annotations

import secrets
from typing import ClassVar

from argon2 import PasswordHasher

from quantgrid.adapters.storage import Role, Store
from quantgrid.gateway import Authenticator, AuthSettings, RateLimit, RateLimits

PASSWORD = "correct horse battery staple"
#: Budgets no test reaches.
ROOMY = RateLimits(
    viewer=RateLimit(10_000.0, 10_000),
    trader=RateLimit(10_000.0, 10_000),
    admin=RateLimit(10_000.0, 10_000),
    login=RateLimit(10_000.0, 10_000),
)


class Callers:
    """An authenticator over ``store`` with one user per role, and a second trader.

    ``headers("trader")`` gives the ``Authorization`` header of that user.
    """

    USERS: ClassVar[dict[str, Role]] = {
        "viewer": Role.VIEWER,
        "trader": Role.TRADER,
        "admin": Role.ADMIN,
        "other": Role.TRADER,
    }

    def __init__(self, store: Store) -> None:
        self.store = store
        self.authenticator = self.existing(store)
        self._tokens: dict[str, str] = {}
        for name, role in self.USERS.items():
            user = self.authenticator.users.create_user(name, PASSWORD, role)
            self._tokens[name] = self.authenticator.tokens.issue(user).access

    @staticmethod
    def existing(store: Store) -> Authenticator:
        """Return an authenticator over a store whose users were made before."""
        settings = AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=ROOMY)
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        return Authenticator(store, settings, hasher=hasher)

    def headers(self, name: str) -> dict[str, str]:
        """Return the credentials of user ``name``."""
        return {"Authorization": f"Bearer {self._tokens[name]}"}
