"""``quantgrid users`` and ``quantgrid keys`` on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantgrid.adapters.storage import Role, SqliteStore
from quantgrid.cli import app
from quantgrid.gateway import ApiKeys, AuthenticationError

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "quantgrid.db"


def create_user(db: Path, name: str, role: str) -> None:
    result = runner.invoke(
        app,
        ["users", "create", name, "--role", role, "--password-stdin", "--database-url", str(db)],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output


def stored_bytes(db: Path) -> bytes:
    """Return every byte SQLite keeps for ``db``: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_users_create_migrates_a_fresh_file_and_stores_a_hash(db: Path) -> None:
    result = runner.invoke(
        app,
        ["users", "create", "alice", "--role", "trader", "--password-stdin"],
        input=PASSWORD + "\n",
        env={"QUANTGRID_DATABASE_URL": str(db)},
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "created user alice (trader)"
    with SqliteStore(db) as store:
        user = store.get_user("alice")
    assert user is not None and user.role is Role.TRADER
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD.encode() not in stored_bytes(db)


def test_users_create_prompts_twice_without_echo(db: Path) -> None:
    result = runner.invoke(
        app,
        ["users", "create", "bob", "--database-url", str(db)],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert PASSWORD not in result.output
    assert "created user bob (viewer)" in result.stdout


def test_users_create_reports_a_bad_password_or_a_taken_name(db: Path) -> None:
    short = runner.invoke(
        app,
        ["users", "create", "carol", "--password-stdin", "--database-url", str(db)],
        input="short\n",
    )
    create_user(db, "carol", "viewer")
    taken = runner.invoke(
        app,
        ["users", "create", "carol", "--password-stdin", "--database-url", str(db)],
        input=PASSWORD + "\n",
    )

    assert short.exit_code == 2 and "12 to 1024 characters" in short.stderr
    assert taken.exit_code == 2 and "'carol' is taken" in taken.stderr


def test_users_list(db: Path) -> None:
    create_user(db, "bob", "admin")
    create_user(db, "alice", "viewer")

    result = runner.invoke(app, ["users", "list", "--database-url", str(db)])

    assert result.exit_code == 0, result.output
    assert result.stdout.index("alice") < result.stdout.index("bob")
    assert "admin" in result.stdout and "argon2" not in result.stdout


def test_keys_create_prints_the_key_once_and_stores_only_its_hash(db: Path) -> None:
    create_user(db, "desk", "trader")

    result = runner.invoke(
        app,
        ["keys", "create", "--owner", "desk", "--role", "trader", "--label", "grid bot"],
        env={"QUANTGRID_DATABASE_URL": str(db)},
    )

    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("qgk_")
    assert "will not be shown again" in result.stderr
    assert key not in result.stderr
    with SqliteStore(db) as store:
        principal = ApiKeys(store).verify_key(key)
    assert (principal.subject, principal.role, principal.kind) == ("desk", Role.TRADER, "key")
    assert principal.key_id is not None and principal.key_id in result.stderr
    data = stored_bytes(db)
    assert key.encode() not in data and key[-43:].encode() not in data
    assert PASSWORD.encode() not in data


def test_keys_revoke(db: Path) -> None:
    create_user(db, "desk", "trader")
    created = runner.invoke(
        app, ["keys", "create", "--owner", "desk", "--role", "viewer", "--database-url", str(db)]
    )
    key = created.stdout.strip()
    key_id = key.split("_")[1]

    result = runner.invoke(app, ["keys", "revoke", key_id, "--database-url", str(db)])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"revoked API key {key_id} of desk from ")
    with SqliteStore(db) as store, pytest.raises(AuthenticationError):
        ApiKeys(store).verify_key(key)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--owner", "desk", "--role", "admin"], "cannot exceed its owner's"),
        (["keys", "create", "--owner", "nobody", "--role", "viewer"], "no user is named"),
        (["keys", "revoke", "0123456789abcdef"], "no API key has the id"),
    ],
)
def test_keys_commands_report_refusals(db: Path, args: list[str], message: str) -> None:
    create_user(db, "desk", "trader")

    result = runner.invoke(app, [*args, "--database-url", str(db)])

    assert result.exit_code == 2
    assert message in result.stderr


def test_a_database_url_works_and_a_missing_folder_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'by-url.db'}"
    listed = runner.invoke(app, ["users", "list", "--database-url", url])
    missing = runner.invoke(
        app, ["users", "list", "--database-url", str(tmp_path / "no" / "such.db")]
    )

    assert listed.exit_code == 0, listed.output
    assert "0 users" in listed.stdout
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
