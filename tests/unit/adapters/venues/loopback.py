"""A loopback HTTP server that answers with recorded venue payloads, and records requests.

The payloads under ``tests/fixtures/venues/`` were written by hand in the shape the
vendors' public API documentation gives (see the README there); nothing here talks to
a venue. The server listens on 127.0.0.1 on a free port, in a thread of the test
process, so both httpx (Alpaca) and aiohttp (ccxt) reach it over a real socket.

A test scripts the answers: ``server.on("GET", "/v2/orders/x", Reply(...), ...)``
queues answers for one method and path (the query string is not matched); each request
takes the next one, and the last one keeps answering. A request nothing is scripted
for gets a 400 whose message names it, so a test that forgets one fails on the
rejection it causes. ``Reply(hold=True)`` answers only when ``release()`` is called (or
after ``HOLD_LIMIT_S``): the client's timeout fires first, as with a venue that took the
request and went quiet.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parents[3] / "fixtures" / "venues"
#: Longest a held answer waits for ``release()``: bounds every test's wait.
HOLD_LIMIT_S = 5.0


def fixture(venue: str, name: str) -> Any:
    """Return the decoded JSON of ``tests/fixtures/venues/<venue>/<name>.json``."""
    return json.loads((FIXTURES / venue / f"{name}.json").read_text())


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status and a JSON body (``None``: an empty body)."""

    body: Any = None
    status: int = 200
    hold: bool = False


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body decoded as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """Return the query and a form-encoded body as one flat mapping."""
        values = {k: v[-1] for k, v in self.query.items()}
        if self.body:
            values.update({k: v[-1] for k, v in parse_qs(self.body.decode()).items()})
        return values


@dataclass
class LoopbackServer:
    """Scripted answers on 127.0.0.1; ``requests`` holds what was received, in order."""

    requests: list[Recorded] = field(default_factory=list)
    _replies: dict[tuple[str, str], list[Reply]] = field(default_factory=lambda: defaultdict(list))
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1, serving from a daemon thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                owner._handle(self)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:<port>``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def on(self, method: str, path: str, *replies: Reply) -> None:
        """Queue ``replies`` for ``method path``; the last one keeps answering."""
        with self._lock:
            self._replies[method, path] = list(replies)

    def release(self) -> None:
        """Let held answers go (to a client that has given up on them by now)."""
        self._released.set()

    def to(self, method: str, path: str) -> list[Recorded]:
        """Return the requests received for ``method path``, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def close(self) -> None:
        """Release held answers and stop listening."""
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=HOLD_LIMIT_S)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        recorded = Recorded(
            handler.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in handler.headers.items()},
            body,
        )
        with self._lock:
            self.requests.append(recorded)
            queue = self._replies.get((handler.command, parts.path))
            if queue:
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
            else:
                message = f"no fixture for {handler.command} {parts.path}"
                reply = Reply({"code": 40000000, "message": message, "msg": message}, 400)
        if reply.hold:
            self._released.wait(HOLD_LIMIT_S)
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer to
