"""Calls to other services: timeouts, bounded retries, a circuit breaker."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Final, Self

import httpx

from quantgrid.services._http.breaker import CircuitBreaker
from quantgrid.services._http.correlation import CORRELATION_ID_HEADER, current_correlation_id
from quantgrid.services._http.errors import (
    ABOUT_BLANK,
    DependencyUnavailableError,
    RemoteServiceError,
    status_phrase,
)
from quantgrid.services._http.settings import ServiceSettings, SettingsError

try:  # Optional: pass the trace on when OpenTelemetry is importable.
    from opentelemetry.propagate import inject as _inject_trace
except ImportError:  # pragma: no cover - opentelemetry-api comes with FastAPI
    _inject_trace = None  # type: ignore[assignment]

#: A POST (or PUT, PATCH, DELETE) carrying this header may be retried.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_DETAIL_CHARS = 500

_log = logging.getLogger("quantgrid.services.client")

Params = Mapping[str, str | int | float | bool | None]


class ServiceClient:
    """An async HTTP client for one other service.

    Parameters
    ----------
    base_url
        The service's base URL (``http://risk:8000``). In one process, any URL with
        ``transport=httpx.ASGITransport(app=risk_app)``.
    name
        The dependency's name in errors and logs; defaults to the URL's host.
    timeout_s
        Limit on each attempt, however the transport behaves (an in-process app too).
    retries
        Further attempts of a retryable request after a connection failure, a timeout
        or a 5xx answer. Retryable: GET, HEAD, OPTIONS, and any request carrying an
        ``Idempotency-Key`` header.
    backoff_s, max_backoff_s
        Before retry ``n`` (from 1) the client waits ``min(max_backoff_s,
        backoff_s * 2 ** (n - 1))``, scaled by a random factor in [0.5, 1].
    breaker
        The circuit breaker; a new one (5 failures, 30 s) if None. Every attempt is
        reported to it: a connection failure, timeout or 5xx counts as a failure.
    transport, sleep, jitter
        For tests and one-process mode: the httpx transport, the sleep between
        attempts and the random source in [0, 1).

    Notes
    -----
    Each request carries the current correlation id (and the trace context when
    tracing). A call takes at most ``(retries + 1) * timeout_s + retries *
    max_backoff_s`` seconds, and raises:

    - ``DependencyUnavailableError`` (503) when the circuit is open or the service
      cannot be reached or answer in time: callers degrade instead of hanging;
    - ``RemoteServiceError`` when it answers 4xx or 5xx, carrying its problem.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str | None = None,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.1,
        max_backoff_s: float = 2.0,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not timeout_s > 0:
            msg = f"timeout_s is positive, not {timeout_s}"
            raise ValueError(msg)
        if retries < 0:
            msg = f"retries is 0 or more, not {retries}"
            raise ValueError(msg)
        if backoff_s < 0 or max_backoff_s < 0:
            msg = f"backoffs are 0 or more, not {backoff_s} and {max_backoff_s}"
            raise ValueError(msg)
        url = httpx.URL(base_url)
        self.name = name or url.host or base_url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.AsyncClient(
            base_url=url, timeout=timeout_s, transport=transport, follow_redirects=False
        )

    @classmethod
    def from_settings(
        cls,
        settings: ServiceSettings,
        service: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> Self:
        """Return a client for ``service`` at its configured URL.

        Its timeout, retries and (unless ``breaker`` is given) circuit breaker follow
        the settings. With a ``transport`` (one-process mode), no URL need be configured.

        Raises
        ------
        SettingsError
            If no URL is configured and no transport given.
        """
        try:
            base_url = settings.service_url(service)
        except SettingsError:
            if transport is None:
                raise
            base_url = f"http://{service}"
        if breaker is None:
            breaker = CircuitBreaker(
                failure_threshold=settings.client_breaker_failures,
                reset_timeout_s=settings.client_breaker_reset_s,
            )
        return cls(
            base_url,
            name=service,
            timeout_s=settings.client_timeout_s,
            retries=settings.client_retries,
            breaker=breaker,
            transport=transport,
        )

    # -- requests ------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request; return the answer if it is a success (below 400).

        Raises
        ------
        DependencyUnavailableError
            The circuit is open, or no attempt reached the service in time.
        RemoteServiceError
            The service answered 4xx, or 5xx on the last attempt.
        """
        return await self._request(method, path, params, json, content, headers, self.retries)

    async def get(
        self,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a GET (retried); see ``request``."""
        return await self.request("GET", path, params=params, headers=headers)

    async def post(
        self,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send a POST; retried only with an ``idempotency_key``. See ``request``."""
        sent = dict(headers or {})
        if idempotency_key is not None:
            sent[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        return await self.request("POST", path, json=json, params=params, headers=sent)

    async def put(
        self, path: str, *, json: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """Send a PUT; see ``request``."""
        return await self.request("PUT", path, json=json, headers=headers)

    async def patch(
        self, path: str, *, json: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """Send a PATCH; see ``request``."""
        return await self.request("PATCH", path, json=json, headers=headers)

    async def delete(
        self, path: str, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """Send a DELETE; see ``request``."""
        return await self.request("DELETE", path, headers=headers)

    async def check_health(self) -> None:
        """Check the service's ``/health`` once: a ``HealthCheck`` for it.

        Raises
        ------
        DependencyUnavailableError, RemoteServiceError
            As ``request`` does.
        """
        await self._request("GET", "/health", None, None, None, None, 0)

    # -- the machinery -------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        content: bytes | str | None,
        headers: Mapping[str, str] | None,
        retries: int,
    ) -> httpx.Response:
        method = method.upper()
        sent = httpx.Headers(headers)
        cid = current_correlation_id()
        if cid is not None and CORRELATION_ID_HEADER not in sent:
            sent[CORRELATION_ID_HEADER] = cid
        if _inject_trace is not None:
            carrier: dict[str, str] = {}
            _inject_trace(carrier)
            sent.update(carrier)
        retryable = method in _SAFE_METHODS or IDEMPOTENCY_KEY_HEADER in sent
        attempts = 1 + (retries if retryable else 0)
        request = self._http.build_request(
            method, path, params=params, json=json, content=content, headers=sent
        )
        for attempt in range(1, attempts + 1):
            if not self.breaker.allow():
                wait = self.breaker.retry_after_s()
                raise DependencyUnavailableError(
                    self.name,
                    f"circuit open after repeated failures; next try in {wait:.1f} s",
                    retry_after_s=wait,
                )
            outcome = await self._attempt(request)
            last = attempt == attempts
            if isinstance(outcome, httpx.Response):
                if outcome.status_code < 500:
                    self.breaker.record_success()
                    if outcome.status_code >= 400:
                        raise self._remote_error(outcome)
                    return outcome
                self.breaker.record_failure()
                if last:
                    raise self._remote_error(outcome)
                reason = f"answered {outcome.status_code}"
            else:
                self.breaker.record_failure()
                if last:
                    tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                    raise DependencyUnavailableError(
                        self.name, f"{outcome} ({tries})"
                    ) from outcome.error
                reason = str(outcome)
            delay = self._backoff(attempt)
            _log.warning(
                "%s: %s %s attempt %d/%d %s; retrying in %.2f s",
                self.name,
                method,
                request.url.path,
                attempt,
                attempts,
                reason,
                delay,
                extra={"dependency": self.name, "attempt": attempt},
            )
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, request: httpx.Request) -> httpx.Response | _Unreachable:
        """Send once: the answer, or why there was none. Reports a cancel to the breaker."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._http.send(request)
        except (TimeoutError, httpx.TimeoutException) as error:
            return _Unreachable(f"no answer within {self.timeout_s:g} s", error)
        except httpx.ConnectError as error:
            return _Unreachable(f"cannot connect ({error})", error)
        except httpx.RequestError as error:  # a protocol or decoding failure
            return _Unreachable(f"{type(error).__name__} ({error})", error)
        except BaseException:
            self.breaker.release()
            raise

    def _backoff(self, attempt: int) -> float:
        cap = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return cap * (0.5 + 0.5 * self._jitter())

    def _remote_error(self, response: httpx.Response) -> RemoteServiceError:
        status = response.status_code if 400 <= response.status_code <= 599 else 502
        problem: dict[str, Any] = {}
        if "json" in response.headers.get("content-type", ""):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                problem = body
        phrase = status_phrase(status)
        if problem:
            title = str(problem.get("title") or phrase)
            detail = str(problem.get("detail") or title)
            type_uri = str(problem.get("type") or ABOUT_BLANK)
        else:
            title, type_uri = phrase, ABOUT_BLANK
            detail = response.text.strip()[:_DETAIL_CHARS] or phrase
        return RemoteServiceError(
            self.name,
            status=status,
            title=title,
            detail=detail[:_DETAIL_CHARS],
            type_uri=type_uri,
            problem=problem,
        )

    # -- lifetime ------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ServiceClient({self.name!r}, {self._http.base_url!s}, {self.breaker!r})"


class _Unreachable:
    """Why an attempt got no answer."""

    __slots__ = ("error", "reason")

    def __init__(self, reason: str, error: BaseException) -> None:
        self.reason = reason
        self.error = error

    def __str__(self) -> str:
        return self.reason
