"""``quantgrid users`` and ``quantgrid keys``: console users and API keys for bots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from quantgrid.adapters.storage import Role, SqliteStore, SqlStore, StoreError
from quantgrid.cli._common import err, fail, out
from quantgrid.core import ns_to_iso
from quantgrid.gateway import ApiKeys, AuthError, Users

DATABASE_ENV = "QUANTGRID_DATABASE_URL"
#: Without --database-url or QUANTGRID_DATABASE_URL: a SQLite file in the working folder.
DEFAULT_DATABASE = "quantgrid.db"

users_app = typer.Typer(help="Manage console users.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys for bots.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar=DATABASE_ENV,
        help="sqlite:///path.db, postgresql://... or a SQLite file path.",
        show_default=True,
    ),
]


@contextmanager
def _store(database: str) -> Iterator[SqlStore]:
    """Open the store, migrating a fresh SQLite file; turn refusals into one line.

    An ``AuthError`` or ``StoreError`` raised in the ``with`` body is reported too.
    """
    with _errors():
        if "://" in database:
            store: SqlStore = SqlStore(database)
        else:
            path = Path(database).expanduser()
            if not path.parent.is_dir():
                fail(f"--database-url {database!r}: folder {str(path.parent)!r} does not exist")
            store = SqliteStore(path)
        try:
            if store.dialect == "sqlite" and store.schema_revision() is None:
                store.migrate()
            yield store
        finally:
            store.close()


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except AuthError as exc:
        fail(escape(exc.detail))
    except StoreError as exc:
        fail(escape(str(exc)), code=1)


@users_app.command("create")
def create_user(
    name: Annotated[str, typer.Argument(help="Username: a-z 0-9 . _ @ -, up to 64.")],
    role: Annotated[Role, typer.Option(help="What the user may do.")] = Role.VIEWER,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE,
) -> None:
    """Create user NAME; the password is asked twice, not echoed (or read from stdin)."""
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _store(database_url) as store:
        user = Users(store).create_user(name, password, role)
    out.print(f"created user {escape(user.username)} ({user.role.value})", highlight=False)


@users_app.command("list")
def list_users(database_url: DatabaseUrl = DEFAULT_DATABASE) -> None:
    """List the users, their roles, and when they were created or disabled."""
    with _store(database_url) as store:
        users = Users(store).list_users()
    table = Table(title=f"{len(users)} users")
    for column in ("username", "role", "created", "disabled"):
        table.add_column(column, no_wrap=True)
    for user in users:
        disabled = "" if user.disabled_ns is None else ns_to_iso(user.disabled_ns)
        table.add_row(escape(user.username), user.role.value, ns_to_iso(user.created_ns), disabled)
    out.print(table)


@keys_app.command("create")
def create_key(
    owner: Annotated[str, typer.Option(help="The user the key acts for.")],
    role: Annotated[Role, typer.Option(help="The key's role, at most its owner's.")],
    label: Annotated[str, typer.Option(help="What the key is for, e.g. the bot's name.")] = "",
    database_url: DatabaseUrl = DEFAULT_DATABASE,
) -> None:
    """Create an API key and print it, once: only its hash is kept.

    The key alone goes to stdout (so `> key.txt` captures it); what it is goes to stderr.
    """
    with _store(database_url) as store:
        new = ApiKeys(store).create_key(owner, role, label)
    err.print(
        f"created API key {new.key_id} for {escape(owner)} ({role.value})"
        + (f", label {escape(label)!r}" if label else ""),
        highlight=False,
    )
    err.print("[yellow]warning:[/] store this key now: it will not be shown again", highlight=False)
    out.print(new.secret, highlight=False, soft_wrap=True)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after qgk_).")],
    database_url: DatabaseUrl = DEFAULT_DATABASE,
) -> None:
    """Revoke an API key: it is refused from the next request on."""
    with _store(database_url) as store:
        key = ApiKeys(store).revoke_key(key_id)
    assert key.revoked_ns is not None
    out.print(
        f"revoked API key {key.key_id} of {escape(key.owner)} from {ns_to_iso(key.revoked_ns)}",
        highlight=False,
    )
