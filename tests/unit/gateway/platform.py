"""The one-process platform on an event loop in a thread, and the gateway's description.

The auth matrix and the schemathesis run are synchronous (parametrized per operation,
and driven by Hypothesis); each request goes to the platform's loop through a portal,
so one running platform serves a whole test module.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from argon2 import PasswordHasher
from fastapi import FastAPI

from quantgrid.adapters.storage import Role
from quantgrid.core import TestClock
from quantgrid.gateway import (
    ApiKeys,
    Authenticator,
    AuthSettings,
    RateLimit,
    Tokens,
    Users,
    install_auth,
)
from quantgrid.runtime import Mode, Runtime, RuntimeConfig, build_platform, build_service
from quantgrid.services import GATEWAY, SERVICES
from tests.unit.runtime.conftest import make_config as runtime_config
from tests.unit.services.conftest import logging_restored

PASSWORD = "correct horse battery staple"
METHODS = ("get", "put", "post", "delete", "patch")


class Unlimited:
    """A rate limiter that never makes a caller wait: the runs send thousands of requests."""

    async def acquire(self, bucket: str, limit: RateLimit) -> float:
        """Return 0: no wait."""
        return 0.0


def make_config(folder: Path, mode: Mode = "one-process", **env: str) -> RuntimeConfig:
    """Return the runtime tests' config, logging only warnings.

    A log line a request would be most of the work of the runs' thousands of requests.
    """
    return runtime_config(folder, mode, **{"QUANTGRID_LOG_LEVEL": "WARNING", **env})


@functools.cache
def gateway_schema() -> dict[str, Any]:
    """Return the distributed gateway's OpenAPI description: built, never run.

    The distributed gateway describes the services from their code on stand-ins, so
    this is what ``quantgrid serve gateway`` publishes; a test checks that the
    one-process gateway serves the same.
    """
    urls = {
        spec.env_url: f"http://{name}:{spec.port}"
        for name, spec in SERVICES.items()
        if name != GATEWAY.name
    }
    with logging_restored(), tempfile.TemporaryDirectory() as folder:
        runtime = build_service(GATEWAY.name, make_config(Path(folder), "distributed", **urls))
        try:
            assert isinstance(runtime.app, FastAPI)
            return runtime.app.openapi()
        finally:
            runtime.store.close()


def operations(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield each operation of ``schema``: its method, path and description."""
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


class PlatformEnv:
    """The one-process platform with a user of each role, running in a portal's loop.

    Attributes
    ----------
    runtime
        The running platform.
    users
        Creates users with a cheap hasher (their logins are cheap too).
    authenticator
        The platform's: it checks credentials, and revokes keys.
    """

    def __init__(self, portal: BlockingPortal, folder: Path, **env: str) -> None:
        self.portal = portal
        self.config = make_config(folder, **env)
        self.runtime: Runtime = build_platform(self.config)
        # Argon2 with the platform's parameters takes a tenth of a second or more a hash:
        # users and keys are made with cheap parameters, which their hashes carry, so
        # the platform checks them as cheaply.
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        self.users = Users(self.runtime.store, hasher=hasher)
        self._key_maker = ApiKeys(self.runtime.store, hasher=hasher)
        for role in Role:
            self.users.create_user(role.value, PASSWORD, role)
        # Budgets would refuse a run that sends thousands of requests a second.
        for app in (self.runtime.main_app, *self.runtime.apps.values()):
            install_auth(app, self.runtime.authenticator, limiter=Unlimited())
        self._client: httpx.AsyncClient | None = None
        self._keys: dict[tuple[Role, str], tuple[str, str]] = {}

    @property
    def authenticator(self) -> Authenticator:
        """Return the platform's authenticator."""
        return self.runtime.authenticator

    def token(self, role: Role | str) -> dict[str, str]:
        """Return the bearer header of a fresh access token of user ``role``."""
        name = role.value if isinstance(role, Role) else role
        return {"Authorization": f"Bearer {self.authenticator.login(name, PASSWORD).access}"}

    def key(self, role: Role, owner: str = "admin") -> dict[str, str]:
        """Return the header of an API key of ``owner`` with ``role``, made once."""
        if (role, owner) not in self._keys:
            made = self._key_maker.create_key(owner, role, "test")
            self._keys[role, owner] = made.key_id, made.secret
        return {"X-API-Key": self._keys[role, owner][1]}

    def key_id(self, role: Role, owner: str = "admin") -> str:
        """Return the id of the key ``key(role, owner)`` sends."""
        self.key(role, owner)
        return self._keys[role, owner][0]

    def new_key_id(self, owner: str, role: Role) -> str:
        """Make another key of ``owner`` with ``role``; return its id."""
        return self._key_maker.create_key(owner, role, "test").key_id

    def foreign_token(
        self, role: Role, *, secret: str | None = None, at_ns: int | None = None
    ) -> str:
        """Return an access token signed with ``secret`` and stamped at ``at_ns``."""
        settings = AuthSettings(jwt_secret=secret or self.config.jwt_secret)
        clock = None if at_ns is None else TestClock(at_ns)
        user = self.runtime.store.get_user(role.value)
        assert user is not None
        return Tokens(settings, clock=clock).issue(user).access

    async def _open(self) -> None:
        await self.runtime.startup()
        transport = httpx.ASGITransport(app=self.runtime.app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://gateway")

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        await self.runtime.shutdown()

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the platform's loop; wait at most 30 s for the answer."""
        assert self._client is not None
        client = self._client

        async def send() -> httpx.Response:
            return await asyncio.wait_for(client.send(request), 30)

        return self.portal.call(send)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Build a request as ``httpx.AsyncClient.request`` does, and send it."""
        assert self._client is not None
        return self.send(self._client.build_request(method, path, **kwargs))


@contextmanager
def running_platform(**env: str) -> Iterator[PlatformEnv]:
    """Run the one-process platform in a thread's event loop; stop it at the end.

    ``env`` adds ``QUANTGRID_*`` variables to its configuration.
    """
    with (
        logging_restored(),
        tempfile.TemporaryDirectory() as folder,
        start_blocking_portal("asyncio") as portal,
    ):
        platform = PlatformEnv(portal, Path(folder), **env)
        portal.call(platform._open)
        try:
            yield platform
        finally:
            portal.call(platform._close)
