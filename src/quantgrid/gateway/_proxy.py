"""Forward ``/api/<service>/...`` to a service in another process, with ``ServiceClient``."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final, Self

import httpx
from fastapi import Request, Response

from quantgrid.services import (
    IDEMPOTENCY_KEY_HEADER,
    CircuitBreaker,
    RemoteServiceError,
    ServiceClient,
    ServiceSettings,
)

#: Request headers passed on; the correlation id is sent by ``ServiceClient`` itself.
FORWARDED_HEADERS: Final = (
    "accept",
    "authorization",
    "content-type",
    IDEMPOTENCY_KEY_HEADER.lower(),
    "x-api-key",
)
# Not passed back: hop-by-hop, recomputed by the server, or set by the gateway itself.
_DROPPED_RESPONSE_HEADERS: Final = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "keep-alive",
        "proxy-authenticate",
        "server",
        "date",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-correlation-id",
    }
)

# The error answers of the call under way, so a 4xx/5xx goes back to the caller as the
# service sent it (headers included), not rebuilt from ``RemoteServiceError``.
_answers: ContextVar[list[httpx.Response] | None] = ContextVar("_answers", default=None)


class _KeepErrorAnswers(httpx.AsyncBaseTransport):
    """A transport that keeps each error answer (read whole) for the proxy."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        kept = _answers.get()
        if kept is not None and response.status_code >= 400:
            await response.aread()
            kept.append(response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class ServiceProxy:
    """Forward requests to one service and pass its answers back unchanged.

    Parameters
    ----------
    client
        A ``ServiceClient`` made by ``ServiceProxy.from_settings`` (or with a transport
        wrapped the same way): timeouts, retries of safe and idempotent requests, and
        a circuit breaker.

    Notes
    -----
    The method, the path below ``/api/<service>``, the query, the body and the
    ``Authorization``, ``X-API-Key``, ``Idempotency-Key``, ``Content-Type`` and
    ``Accept`` headers go to the service, with the request's correlation id. Its
    status, headers and body come back, errors included. A service that cannot be
    reached in time, or whose circuit is open, gives a 503 problem naming it
    (``DependencyUnavailableError``), never a hang. Bodies are read whole: requests
    are bounded by the gateway's size limit, answers by the services' page sizes.
    """

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        self.name = client.name

    @classmethod
    def from_settings(
        cls,
        settings: ServiceSettings,
        service: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> Self:
        """Return a proxy to ``service`` at ``QUANTGRID_<SERVICE>_URL``.

        Raises
        ------
        SettingsError
            If the URL is not configured (and no transport given), naming the variable.
        """
        inner = transport if transport is not None else httpx.AsyncHTTPTransport()
        client = ServiceClient.from_settings(
            settings, service, transport=_KeepErrorAnswers(inner), breaker=breaker
        )
        return cls(client)

    async def forward(self, request: Request, path: str) -> Response:
        """Send ``request`` on to the service's ``/<path>``; return its answer."""
        headers = {k: v for k, v in request.headers.items() if k in FORWARDED_HEADERS}
        target = "/" + path
        if request.url.query:
            target += "?" + request.url.query
        kept: list[httpx.Response] = []
        token = _answers.set(kept)
        try:
            answer = await self.client.request(
                request.method, target, content=await request.body(), headers=headers
            )
        except RemoteServiceError:
            if not kept:
                raise
            answer = kept[-1]
        finally:
            _answers.reset(token)
        passed = [
            (k, v) for k, v in answer.headers.multi_items() if k not in _DROPPED_RESPONSE_HEADERS
        ]
        response = Response(answer.content, status_code=answer.status_code)
        for key, value in passed:
            response.headers.append(key, value)
        return response

    async def check_health(self) -> None:
        """Check the service's ``/health``: the gateway's dependency check for it."""
        await self.client.check_health()

    async def aclose(self) -> None:
        """Close the connections."""
        await self.client.aclose()
