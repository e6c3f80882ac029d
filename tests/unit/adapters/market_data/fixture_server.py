"""A stand-in for the Binance spot REST API, serving the recorded payloads on loopback.

The payloads under ``tests/fixtures/market_data/binance/`` were written by hand in the
documented shape; nothing here or in the tests talks to the exchange. The app answers
the four public endpoints ``BinanceRestSource`` calls, filters klines by ``startTime``,
``endTime`` and ``limit`` as the exchange does, and can be told to answer any path with
another file, status or headers (a malformed payload, a 429, a 5xx).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).parents[3] / "fixtures" / "market_data" / "binance"


def payload(name: str) -> Any:
    """Return the decoded JSON of fixture ``name``."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Override:
    """Answer a path with this instead: a fixture file, a status, headers."""

    file: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


class FixtureServer:
    """The recorded Binance answers as an ASGI app; ``calls`` counts requests by path."""

    def __init__(self) -> None:
        self.overrides: dict[str, Override] = {}
        self.calls: Counter[str] = Counter()
        self.queries: list[dict[str, str]] = []
        self.app = Starlette(
            routes=[
                Route("/api/v3/exchangeInfo", self._exchange_info),
                Route("/api/v3/ticker/price", self._by_symbol("ticker_price")),
                Route("/api/v3/ticker/24hr", self._by_symbol("ticker_24hr")),
                Route("/api/v3/klines", self._klines),
            ]
        )

    def transport(self) -> httpx.ASGITransport:
        """Return an httpx transport that calls the app in process."""
        return httpx.ASGITransport(app=self.app)

    def _override(self, request: Request) -> Response | None:
        self.calls[request.url.path] += 1
        self.queries.append(dict(request.query_params))
        found = self.overrides.get(request.url.path)
        if found is None:
            return None
        body = (FIXTURES / found.file).read_bytes()
        return Response(
            body, status_code=found.status, headers=found.headers, media_type=found.media_type
        )

    async def _exchange_info(self, request: Request) -> Response:
        return self._override(request) or JSONResponse(payload("exchange_info.json"))

    def _by_symbol(self, prefix: str) -> Any:
        async def answer(request: Request) -> Response:
            overridden = self._override(request)
            if overridden is not None:
                return overridden
            symbol = request.query_params.get("symbol", "")
            path = FIXTURES / f"{prefix}_{symbol}.json"
            if not symbol.isalnum() or not path.is_file():
                return JSONResponse(payload("error_invalid_symbol.json"), status_code=400)
            return JSONResponse(json.loads(path.read_text()))

        return answer

    async def _klines(self, request: Request) -> Response:
        overridden = self._override(request)
        if overridden is not None:
            return overridden
        query = request.query_params
        symbol, interval = query.get("symbol", ""), query.get("interval", "")
        if not symbol.isalnum() or not (FIXTURES / f"ticker_price_{symbol}.json").is_file():
            return JSONResponse(payload("error_invalid_symbol.json"), status_code=400)
        path = FIXTURES / f"klines_{symbol}_{interval}.json"
        rows = json.loads(path.read_text()) if interval.isalnum() and path.is_file() else []
        start = int(query.get("startTime", 0))
        end = int(query.get("endTime", 2**62))
        limit = min(int(query.get("limit", 500)), 1000)
        chosen = [row for row in rows if start <= row[0] <= end][:limit]
        return JSONResponse(chosen)
