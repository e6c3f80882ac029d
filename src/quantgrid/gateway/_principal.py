"""Who is calling: a user with a token, or a bot with an API key, and its role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from quantgrid.adapters.storage import Role

_RANK = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}


def role_rank(role: Role) -> int:
    """Return ``role``'s place in viewer < trader < admin (0, 1, 2)."""
    return _RANK[role]


def lower_role(a: Role, b: Role) -> Role:
    """Return the lower of two roles."""
    return a if _RANK[a] <= _RANK[b] else b


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request.

    Attributes
    ----------
    subject
        The username: the user's own, or the owner's for an API key.
    role
        What the caller may do now: a user's stored role, or for a key the lower of
        the key's role and its owner's.
    kind
        ``"user"`` for a bearer token, ``"key"`` for an API key.
    key_id
        The API key's id, or ``None`` for a user.
    """

    subject: str
    role: Role
    kind: Literal["user", "key"]
    key_id: str | None = None

    def has_role(self, minimum: Role) -> bool:
        """Return whether the caller's role is ``minimum`` or above it."""
        return _RANK[self.role] >= _RANK[minimum]

    @property
    def bucket(self) -> str:
        """Return the name of the caller's rate-limit bucket: one per user, one per key."""
        return f"key:{self.key_id}" if self.kind == "key" else f"user:{self.subject}"
