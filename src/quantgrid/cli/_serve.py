"""``quantgrid up`` and ``quantgrid serve NAME``: run the platform, or one service."""

from __future__ import annotations

import gc
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
import uvicorn
from rich.markup import escape

from quantgrid.adapters.storage import Role, SqlStore, StoreError
from quantgrid.cli._common import fail, out
from quantgrid.gateway import Users
from quantgrid.runtime import (
    DEFAULT_DATABASE_URL,
    ConfigError,
    Runtime,
    RuntimeConfig,
    build_platform,
    build_service,
)
from quantgrid.services import GATEWAY, SERVICES, SettingsError

DEMO_USER = "demo"

Host = Annotated[
    str, typer.Option(help="Address to listen on; 0.0.0.0 only in a container or behind TLS.")
]


def up(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The gateway's port.")] = GATEWAY.port,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=f"sqlite:///path.db, postgresql://... or a SQLite file path "
            f"[default: QUANTGRID_DATABASE_URL, else {DEFAULT_DATABASE_URL}]",
        ),
    ] = None,
    paper: Annotated[
        bool | None,
        typer.Option(
            "--paper/--no-paper",
            help="Paper-trade strategies on a replay of the synthetic market "
            "[default: QUANTGRID_PAPER_MODE, else on]",
        ),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            help="Replay speed, times the data's pace (60: a minute bar a second) "
            "[default: QUANTGRID_PAPER_SPEED, else 60]",
        ),
    ] = None,
) -> None:
    """Run every service in one process behind the gateway, on embedded defaults.

    Without QUANTGRID_JWT_SECRET a random secret is made for this run. On an empty
    database an admin called demo is created and its password printed once. Strategies
    paper-trade on a replay of the synthetic market (two demo strategies on the first
    start); a restart on the same database resumes where the replay stopped.
    """
    with _config_errors():
        config = RuntimeConfig.from_env(
            "one-process", database_url=database_url, generate_secret=True
        )
        config = config.with_paper(paper, speed)
        runtime = build_platform(config)
    _create_demo_user(runtime.store)
    out.print(
        f"QuantGrid console on http://{host}:{port}/ (API under /api/<service>/)",
        highlight=False,
    )
    _run(runtime, host, port)


def serve(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    host: Host = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="Port to listen on [default: the service's own]")
    ] = None,
) -> None:
    """Run one service (or the gateway) of the distributed mode in this process.

    It finds the others at QUANTGRID_<NAME>_URL and shares QUANTGRID_DATABASE_URL,
    QUANTGRID_NATS_URL and QUANTGRID_REDIS_URL with them.
    """
    if name not in SERVICES:
        fail(f"unknown service {escape(name)!r}: choose one of {', '.join(SERVICES)}")
    with _config_errors():
        runtime = build_service(name, RuntimeConfig.from_env("distributed"))
    out.print(f"QuantGrid {name} on http://{host}:{port or SERVICES[name].port}")
    _run(runtime, host, port or SERVICES[name].port)


def _run(runtime: Runtime, host: str, port: int) -> None:
    # The interpreter's full collections scan every object alive. The modules, apps and
    # caches built by now would make each one stall the event loop for ~70 ms, about
    # once a second under load: measured, they were the order path's p99. Frozen, they
    # are left out of later collections, and the young generation is collected less
    # often (short-lived request objects die by reference count, not by collection):
    # with both, no full collection ran in a 10,000-order load and p99 fell from 75 to
    # 15 ms (docs/run-modes.md).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
    # uvicorn's loggers propagate to the JSON handler; the services log each request.
    uvicorn.run(runtime.asgi(), host=host, port=port, log_config=None, access_log=False)


@contextmanager
def _config_errors() -> Iterator[None]:
    """Report a configuration that cannot run as one line naming the variable."""
    try:
        yield
    except (ConfigError, SettingsError) as exc:
        fail(escape(str(exc)))
    except StoreError as exc:
        fail(escape(str(exc)), code=1)


def _create_demo_user(store: SqlStore) -> None:
    """On an empty database, create the admin ``demo`` and print its password once.

    An admin, so the demo login reaches every page of the console (halting trading
    included); ``quantgrid up`` listens on loopback unless told otherwise.
    """
    users = Users(store)
    if users.list_users():
        return
    password = secrets.token_urlsafe(18)
    users.create_user(DEMO_USER, password, Role.ADMIN)
    out.print(
        f"[bold]created user {DEMO_USER} (admin), password: {password}[/]\n"
        "  shown this once; for traders and viewers run "
        "`quantgrid users create NAME --role trader`",
        highlight=False,
        soft_wrap=True,
    )
