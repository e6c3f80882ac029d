"""The ``/auth`` routes: log in, refresh, who am I, and (admins) users and API keys."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from quantgrid.adapters.storage import ApiKeyRecord, Role, UserRecord
from quantgrid.gateway._deps import auth_state, authenticated, require_role
from quantgrid.gateway._errors import AuthenticationError, RateLimitedError
from quantgrid.gateway._principal import Principal
from quantgrid.gateway._tokens import TokenPair
from quantgrid.gateway._users import MAX_PASSWORD_CHARS
from quantgrid.services import problem_responses

Caller = Annotated[Principal, Depends(authenticated())]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
#: Answers carrying credentials must not be kept by caches (RFC 6749, section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginRequest(_Request):
    """A username and password."""

    username: str = Field(min_length=1, max_length=64)
    # No length rule here: a refused field is echoed in the 422 body, a password never.
    password: SecretStr


class RefreshRequest(_Request):
    """A refresh token, spent by the refresh."""

    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenResponse(BaseModel):
    """An access token for requests and the refresh token for the next pair."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token lives.")

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        """Return the answer carrying ``pair``."""
        return cls(access_token=pair.access, refresh_token=pair.refresh, expires_in=pair.expires_in)


class PrincipalResponse(BaseModel):
    """Who the caller is and what they may do."""

    subject: str
    role: Role
    kind: Literal["user", "key"]
    key_id: str | None


class CreateUserRequest(_Request):
    """A new user: username, password (12 to 1024 characters) and role."""

    username: str = Field(min_length=1, max_length=64)
    password: SecretStr
    role: Role = Role.VIEWER


class UserResponse(BaseModel):
    """A user, without their password hash."""

    username: str
    role: Role
    created_ns: int
    disabled_ns: int | None

    @classmethod
    def of(cls, user: UserRecord) -> UserResponse:
        """Return the public fields of ``user``."""
        return cls(
            username=user.username,
            role=user.role,
            created_ns=user.created_ns,
            disabled_ns=user.disabled_ns,
        )


class CreateKeyRequest(_Request):
    """A new API key: its owner, its role (at most the owner's) and what it is for."""

    owner: str = Field(min_length=1, max_length=64)
    role: Role
    label: str = Field(default="", max_length=64)


class NewKeyResponse(BaseModel):
    """A key just made. ``key`` is shown this once: only its hash is stored."""

    key_id: str
    key: str = Field(description="Send as the X-API-Key header. It is not shown again.")
    owner: str
    role: Role
    label: str


class KeyResponse(BaseModel):
    """An API key, without its hash."""

    key_id: str
    owner: str
    role: Role
    created_ns: int
    revoked_ns: int | None
    last_used_ns: int | None

    @classmethod
    def of(cls, key: ApiKeyRecord) -> KeyResponse:
        """Return the public fields of ``key``."""
        return cls(
            key_id=key.key_id,
            owner=key.owner,
            role=key.role,
            created_ns=key.created_ns,
            revoked_ns=key.revoked_ns,
            last_used_ns=key.last_used_ns,
        )


auth_router = APIRouter(prefix="/auth", tags=["auth"])


@auth_router.post(
    "/login",
    operation_id="auth_login",
    responses=problem_responses(
        {
            401: "The username or password is wrong, or the user is disabled.",
            429: "Too many attempts for this username from this address.",
        }
    ),
)
async def login(body: LoginRequest, request: Request, response: Response) -> TokenResponse:
    """Log in with a username and password; get an access and a refresh token."""
    response.headers.update(NO_STORE)
    state = auth_state(request)
    password = body.password.get_secret_value()
    if len(password) > MAX_PASSWORD_CHARS:  # no argon2 work on an oversized password
        raise AuthenticationError("invalid username or password")
    # Attempts are budgeted per username and client address: guessing one user's
    # password is slowed, and nobody can lock a user out from elsewhere.
    host = request.client.host if request.client else "unknown"
    limit = state.authenticator.settings.rate_limits.login
    wait_s = await state.limiter.acquire(f"login:{host}:{body.username}", limit)
    if wait_s > 0:
        msg = f"too many login attempts; retry in {wait_s:.0f} s"
        raise RateLimitedError(msg, retry_after_s=wait_s)
    pair = await anyio.to_thread.run_sync(state.authenticator.login, body.username, password)
    return TokenResponse.of(pair)


@auth_router.post(
    "/refresh",
    operation_id="auth_refresh",
    responses=problem_responses(
        {401: "The refresh token is invalid, expired or spent, or its user is disabled."}
    ),
)
async def refresh(body: RefreshRequest, request: Request, response: Response) -> TokenResponse:
    """Trade a refresh token, once, for a new access and refresh token."""
    response.headers.update(NO_STORE)
    authenticator = auth_state(request).authenticator
    pair = await anyio.to_thread.run_sync(authenticator.refresh, body.refresh_token)
    return TokenResponse.of(pair)


@auth_router.get("/me", operation_id="auth_me")
async def me(caller: Caller) -> PrincipalResponse:
    """Return who the credentials stand for and their role."""
    return PrincipalResponse(
        subject=caller.subject, role=caller.role, kind=caller.kind, key_id=caller.key_id
    )


@auth_router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    operation_id="auth_create_user",
    responses=problem_responses({409: "The username is taken."}),
)
async def create_user(body: CreateUserRequest, _: Admin, request: Request) -> UserResponse:
    """Create a user (admins only)."""
    users = auth_state(request).authenticator.users
    password = body.password.get_secret_value()
    user = await anyio.to_thread.run_sync(users.create_user, body.username, password, body.role)
    return UserResponse.of(user)


@auth_router.get("/users", operation_id="auth_list_users")
async def list_users(_: Admin, request: Request) -> list[UserResponse]:
    """List every user (admins only)."""
    users = auth_state(request).authenticator.users
    return [UserResponse.of(user) for user in await anyio.to_thread.run_sync(users.list_users)]


@auth_router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    operation_id="auth_create_key",
    responses=problem_responses({404: "No user has the owner's name."}),
)
async def create_key(
    body: CreateKeyRequest, _: Admin, request: Request, response: Response
) -> NewKeyResponse:
    """Create an API key for a user (admins only); the key is in this answer only."""
    response.headers.update(NO_STORE)
    keys = auth_state(request).authenticator.keys
    new = await anyio.to_thread.run_sync(keys.create_key, body.owner, body.role, body.label)
    return NewKeyResponse(
        key_id=new.key_id, key=new.secret, owner=body.owner, role=body.role, label=body.label
    )


@auth_router.delete(
    "/keys/{key_id}",
    operation_id="auth_revoke_key",
    responses=problem_responses({404: "No API key has this id."}),
)
async def revoke_key(key_id: str, _: Admin, request: Request) -> KeyResponse:
    """Revoke an API key (admins only); it is refused from the next request on."""
    keys = auth_state(request).authenticator.keys
    return KeyResponse.of(await anyio.to_thread.run_sync(keys.revoke_key, key_id))
