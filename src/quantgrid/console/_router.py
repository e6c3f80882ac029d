"""The console's routes: the app's page, its assets, and Plotly's JavaScript.

Import-light on purpose: FastAPI and the standard library only (no numpy, no node),
so the gateway serves the console without loading the trading core.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import importlib.metadata
import importlib.util
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

#: The folder of the app's hand-written assets.
STATIC_DIR = Path(__file__).parent / "static"
#: The name Plotly's bundle is served under, from the installed ``plotly`` package.
PLOTLY_JS = "plotly.min.js"

_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_COMPRESSIBLE = (".js", ".css", ".html", ".svg")
#: What an asset's name may be: folders and a file name of letters, digits, ``-``, ``_``
#: and ``.``, with a known extension. Names are looked up, never joined to a path.
_ASSET_NAME = re.compile(r"(?:[A-Za-z0-9_-]+/)*[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_GZIP_FROM_BYTES = 1_024
#: Our assets are revalidated (cheap 304s, and a new version shows at once); Plotly's
#: URL carries its version, so it is cached for good.
_REVALIDATE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"


def content_security_policy(nonce: str) -> str:
    """Return the policy of the console's page: its own origin only.

    Notes
    -----
    Plotly needs neither ``eval`` nor inline scripts; it inserts its style rules into
    the page's ``plotly.js-style-global`` stylesheet, which the page links from its
    own origin. The nonce is for the backtest reports: the console shows a report
    (self-contained HTML with inline scripts) in a sandboxed ``srcdoc`` frame, which
    inherits this policy, after marking the report's scripts and styles with it.
    """
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        )
    )


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    media_type: str
    cache_control: str


class _Assets:
    """The assets by name, read once (and again when the file changed)."""

    def __init__(self, static_dir: Path) -> None:
        self._dir = static_dir
        self._cache: dict[str, tuple[tuple[int, int], _Asset]] = {}

    def path(self, name: str) -> Path | None:
        """Return the file of asset ``name``, or ``None`` if there is none."""
        if name == PLOTLY_JS:
            return plotly_js_path()
        if not _ASSET_NAME.fullmatch(name) or Path(name).suffix not in _MEDIA_TYPES:
            return None
        path = self._dir / name
        # The name's shape rules out "..", absolute paths and backslashes; a symlink
        # out of the folder is refused too.
        if not path.is_file() or not path.resolve().is_relative_to(self._dir.resolve()):
            return None
        return path

    def get(self, name: str) -> _Asset | None:
        """Return asset ``name``, read again if its file changed; ``None`` if none."""
        path = self.path(name)
        if path is None:
            return None
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        body = path.read_bytes()
        asset = _Asset(
            body=body,
            gzipped=gzip.compress(body, mtime=0)
            if path.suffix in _COMPRESSIBLE and len(body) >= _GZIP_FROM_BYTES
            else None,
            etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
            media_type=_MEDIA_TYPES[path.suffix],
            cache_control=_IMMUTABLE if name == PLOTLY_JS else _REVALIDATE,
        )
        self._cache[name] = (version, asset)
        return asset


@functools.cache
def plotly_js_path() -> Path | None:
    """Return the installed ``plotly`` package's ``plotly.min.js``, without importing it."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "package_data" / PLOTLY_JS
        if path.is_file():
            return path
    return None


def _plotly_version() -> str:
    try:
        return importlib.metadata.version("plotly")
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _accepts_gzip(request: Request) -> bool:
    return any(
        part.split(";")[0].strip() == "gzip"
        for part in request.headers.get("accept-encoding", "").split(",")
    )


def console_router(static_dir: Path = STATIC_DIR) -> APIRouter:
    """Return the console's routes, public and left out of the OpenAPI description.

    Parameters
    ----------
    static_dir
        The folder of the app's assets (``index.html``, CSS, JavaScript modules).

    Returns
    -------
    APIRouter
        ``GET /`` and ``GET /console`` redirect to ``/console/``; ``GET /console/``
        answers ``index.html`` with a strict ``Content-Security-Policy`` (a fresh nonce
        each time, see ``content_security_policy``); ``GET /console/static/<name>`` an
        asset, or 404. Assets carry an ``ETag`` (``If-None-Match`` is answered 304)
        and are sent gzipped to a client that accepts it.
    """
    assets = _Assets(static_dir)
    plotly_version = _plotly_version()
    router = APIRouter(include_in_schema=False, tags=["console"])

    @router.api_route("/", methods=["GET", "HEAD"])
    async def console_root() -> RedirectResponse:
        return RedirectResponse("console/", status_code=307, headers=_SECURITY_HEADERS)

    @router.api_route("/console", methods=["GET", "HEAD"])
    async def console_no_slash() -> RedirectResponse:
        return RedirectResponse("console/", status_code=307, headers=_SECURITY_HEADERS)

    @router.api_route("/console/", methods=["GET", "HEAD"])
    async def console_page() -> Response:
        page = await asyncio.to_thread(assets.get, "index.html")
        if page is None:
            raise HTTPException(404, "the console's index.html is missing from the package")
        nonce = secrets.token_urlsafe(18)
        html = page.body.decode().replace("{{nonce}}", nonce)
        html = html.replace("{{plotly_version}}", plotly_version)
        headers = {
            **_SECURITY_HEADERS,
            "Content-Security-Policy": content_security_policy(nonce),
            "Cache-Control": "no-store",
        }
        return Response(html, media_type=page.media_type, headers=headers)

    @router.api_route("/console/static/{name:path}", methods=["GET", "HEAD"])
    async def console_asset(name: str, request: Request) -> Response:
        # Read (and gzipped) off the event loop: the first answer of Plotly's 4.8 MB.
        asset = await asyncio.to_thread(assets.get, name)
        if asset is None:
            detail = (
                "plotly is not installed: pip install plotly"
                if name == PLOTLY_JS
                else f"no console asset is called {name!r}"
            )
            raise HTTPException(404, detail)
        headers = {
            **_SECURITY_HEADERS,
            "ETag": asset.etag,
            "Cache-Control": asset.cache_control,
            "Vary": "Accept-Encoding",
        }
        wanted = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
        if asset.etag in wanted or "*" in wanted:
            return Response(status_code=304, headers=headers)
        body = asset.body
        if asset.gzipped is not None and _accepts_gzip(request):
            body, headers["Content-Encoding"] = asset.gzipped, "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)

    return router
