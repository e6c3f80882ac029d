"""The console's routes: the page, its assets, Plotly's bundle, and nothing else."""

from __future__ import annotations

import importlib
import posixpath
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import InMemoryStore
from quantgrid.console import console_router
from quantgrid.console._router import STATIC_DIR, _Assets, plotly_js_path
from quantgrid.gateway import Authenticator, AuthSettings, create_gateway_app
from quantgrid.services import PROBLEM_JSON, ServiceSettings, create_service_app

pytestmark = pytest.mark.anyio

#: Every asset the page or a module names, relative to the static folder.
_REFERENCE = re.compile(r"""(?:src|href)="static/([^"?]+)""")
_IMPORT = re.compile(r"""(?:from\s+|import\s*\(\s*|module:\s*)"(\.{1,2}/[^"]+\.js)\"""")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def console_app(static_dir: Path = STATIC_DIR) -> FastAPI:
    return create_service_app(
        "console", settings=ServiceSettings(), routers=[console_router(static_dir)]
    )


async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_of(console_app()):
        yield c


def test_the_public_api_is_stable() -> None:
    assert tuple(importlib.import_module("quantgrid.console").__all__) == ("console_router",)


def test_importing_the_console_loads_neither_numpy_nor_the_node() -> None:
    probe = (
        "import sys, quantgrid.console; "
        "print(sorted(m for m in ('numpy', 'quantgrid.node', 'sqlalchemy', 'plotly') "
        "if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "[]"


@pytest.mark.parametrize("path", ["/", "/console"])
async def test_the_root_redirects_to_the_console(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)

    assert answer.status_code == 307
    assert answer.headers["location"] == "console/"
    assert answer.url.join(answer.headers["location"]).path == "/console/"


async def test_the_page_has_a_strict_policy_with_a_fresh_nonce(client: httpx.AsyncClient) -> None:
    first, second = await client.get("/console/"), await client.get("/console/")

    assert first.status_code == 200
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["x-content-type-options"] == "nosniff"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in first.headers["content-security-policy"].split(";")
    )
    nonce = re.search(r'nonce="([^"]+)"', first.text)
    assert nonce is not None and len(nonce.group(1)) >= 16
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'self' 'nonce-{nonce.group(1)}'"
    assert policy["style-src"] == f"'self' 'nonce-{nonce.group(1)}'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in first.headers["content-security-policy"]
    assert "{{" not in first.text
    assert first.headers["content-security-policy"] != second.headers["content-security-policy"]


async def test_every_asset_the_page_and_its_modules_name_is_served(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/console/")).text
    wanted = set(_REFERENCE.findall(page))
    for module in STATIC_DIR.rglob("*.js"):
        folder = module.parent.relative_to(STATIC_DIR)
        for spec in _IMPORT.findall(module.read_text()):
            wanted.add((folder / spec).as_posix())
    normalised = {posixpath.normpath(name) for name in wanted}
    assert {"plotly.min.js", "js/app.js", "console.css", "js/pages/risk.js"} <= normalised

    for name in sorted(normalised):
        answer = await client.get(f"/console/static/{name}")
        assert answer.status_code == 200, name
        suffix = Path(name).suffix
        expected = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        assert answer.headers["content-type"].startswith(expected[suffix]), name
        assert answer.headers["etag"], name


async def test_plotly_comes_from_the_installed_package_cached_for_good(
    client: httpx.AsyncClient,
) -> None:
    bundle = plotly_js_path()
    assert bundle is not None and bundle.name == "plotly.min.js"

    answer = await client.get("/console/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["content-encoding"] == "gzip"
    assert "immutable" in answer.headers["cache-control"]
    assert answer.content == bundle.read_bytes()  # httpx undid the gzip


async def test_our_assets_are_revalidated_and_answer_304_when_unchanged(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/console/static/js/app.js", headers={"Accept-Encoding": "identity"})
    assert answer.headers["cache-control"] == "no-cache"
    assert "content-encoding" not in answer.headers

    again = await client.get(
        "/console/static/js/app.js", headers={"If-None-Match": answer.headers["etag"]}
    )
    other = await client.get("/console/static/js/app.js", headers={"If-None-Match": '"x"'})

    assert again.status_code == 304 and again.content == b""
    assert other.status_code == 200


async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient) -> None:
    answer = await client.head("/console/static/console.css")

    assert answer.status_code == 200
    assert answer.content == b""


@pytest.mark.parametrize(
    "name",
    ["nope.js", "index.htm", "js/nope.js", "js", "console.css.map", "_router.py"],
)
async def test_an_unknown_asset_is_a_404_problem(client: httpx.AsyncClient, name: str) -> None:
    answer = await client.get(f"/console/static/{name}")

    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert "no console asset" in answer.json()["detail"]


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/console/static/../_router.py",
        b"/console/static/%2e%2e/_router.py",
        b"/console/static/..%2f__init__.py",
        b"/console/static/js/../../_router.py",
        b"/console/static//etc/passwd",
        b"/console/static/%2fetc%2fpasswd",
        b"/console/static/..\\_router.py",
        b"/console/static/js%5c..%5c..%5c_router.py",
    ],
)
async def test_no_path_leaves_the_static_folder(client: httpx.AsyncClient, raw_path: bytes) -> None:
    request = client.build_request("GET", "http://console/")
    request.url = request.url.copy_with(raw_path=raw_path)

    answer = await client.send(request)

    assert answer.status_code == 404, raw_path
    assert answer.json()["status"] == 404


def test_names_are_looked_up_never_joined(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.js").write_text("export {};")
    secret = tmp_path / "secret.js"
    secret.write_text("secret")
    (static / "link.js").symlink_to(secret)
    assets = _Assets(static)

    assert assets.path("ok.js") == static / "ok.js"
    for name in ["link.js", "../secret.js", "/etc/passwd", "ok.js/", ".ok.js", "ok.py", ""]:
        assert assets.path(name) is None, name


async def test_a_changed_file_is_served_anew(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>one {{nonce}}</p>")
    async for client in client_of(console_app(tmp_path)):
        first = await client.get("/console/")
        (tmp_path / "index.html").write_text("<p>two, longer {{nonce}}</p>")
        second = await client.get("/console/")
    assert first.text.startswith("<p>one ") and second.text.startswith("<p>two, longer ")


def test_the_routes_are_not_described() -> None:
    paths = console_app().openapi()["paths"]

    assert not [p for p in paths if p == "/" or p.startswith("/console")]


async def test_the_gateway_serves_the_console() -> None:
    store = InMemoryStore()
    authenticator = Authenticator(store, AuthSettings(jwt_secret=secrets.token_urlsafe(48)))
    app = create_gateway_app(ServiceSettings(), authenticator)
    async for client in client_of(app):
        page = await client.get("/console/")
        asset = await client.get("/console/static/js/app.js")
    assert page.status_code == 200 and "QuantGrid" in page.text
    assert asset.status_code == 200
    assert not [p for p in app.openapi()["paths"] if p.startswith("/console")]
