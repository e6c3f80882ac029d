"""A PostgreSQL schema of its own for each test, dropped afterwards.

The server is ``QUANTGRID_TEST_POSTGRES_URL``, by default the loopback one with trust
auth (``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test gets a fresh
schema (a random name, so reruns and xdist workers never meet) and its tables live
there through the connection's ``search_path``. Without a reachable server the tests
that need it skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _base_url() -> sa.URL:
    url = sa.make_url(os.environ.get("QUANTGRID_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return url


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    """Return an engine on the test server; skip (fail under CI=true) if it is down."""
    url = _base_url()
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # refused, unknown host, auth: all mean "not here"
        engine.dispose()
        message = (
            f"PostgreSQL is not reachable at {url.render_as_string(hide_password=True)} "
            f"({type(exc).__name__}: {exc}). Start it (`pg_ctlcluster "
            "--skip-systemctl-redirect $(ls /etc/postgresql) main start`) or point "
            "QUANTGRID_TEST_POSTGRES_URL at one."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: sa.Engine) -> Iterator[sa.URL]:
    """Return the URL of a new, empty schema on the test server; drop it afterwards."""
    schema = f"qg_test_{uuid4().hex[:16]}"
    with postgres_admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _base_url().update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with postgres_admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
