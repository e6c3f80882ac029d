"""The service client: bounded retries, a circuit breaker, problems decoded, ids passed on."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from quantgrid.services import (
    CORRELATION_ID_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    PROBLEM_JSON,
    CircuitBreaker,
    CircuitState,
    DependencyUnavailableError,
    RemoteServiceError,
    ServiceClient,
    ServiceSettings,
    SettingsError,
    correlation_context,
    create_service_app,
    current_correlation_id,
)
from tests.unit.services.apps import GOOD_ORDER, client_for, orders_app
from tests.unit.services.test_breaker import FakeClock

pytestmark = pytest.mark.anyio


class Recorder:
    """A scripted transport: answers from a list, records what it was sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Sleeps:
    """Records the waits between attempts instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def problem(status: int, detail: str, **members: object) -> httpx.Response:
    body = {"type": "about:blank", "title": "Oops", "status": status, "detail": detail, **members}
    return httpx.Response(status, json=body, headers={"content-type": PROBLEM_JSON})


def client(
    transport: Recorder,
    *,
    retries: int = 2,
    breaker: CircuitBreaker | None = None,
    sleeps: Sleeps | None = None,
    jitter: float = 1.0,
    **kwargs: float,
) -> ServiceClient:
    return ServiceClient(
        "http://pricing:8000",
        name="pricing",
        retries=retries,
        breaker=breaker,
        transport=httpx.MockTransport(transport),
        sleep=sleeps or Sleeps(),
        jitter=lambda: jitter,
        **kwargs,
    )


# -- retries -----------------------------------------------------------------------------


async def test_a_get_is_retried_on_5xx_with_exponential_backoff_and_jitter() -> None:
    transport = Recorder(problem(503, "busy"), problem(502, "bad gateway"), httpx.Response(200))
    sleeps = Sleeps()
    async with client(transport, sleeps=sleeps, jitter=0.0, backoff_s=0.1) as pricing:
        response = await pricing.get("/quotes/AAPL")

    assert response.status_code == 200
    assert len(transport.requests) == 3
    assert sleeps.delays == [pytest.approx(0.05), pytest.approx(0.1)]  # half the cap at jitter 0


async def test_retries_are_bounded_and_the_last_answer_is_raised() -> None:
    transport = Recorder(problem(503, "still busy"))
    sleeps = Sleeps()
    breaker = CircuitBreaker(failure_threshold=100)
    pricing = client(
        transport, retries=6, breaker=breaker, sleeps=sleeps, backoff_s=1.0, max_backoff_s=2.5
    )
    with pytest.raises(RemoteServiceError) as caught:
        await pricing.get("/quotes/AAPL")

    assert len(transport.requests) == 7
    assert sleeps.delays == [1.0, 2.0, 2.5, 2.5, 2.5, 2.5]
    assert caught.value.status == 503
    assert caught.value.detail == "still busy"


async def test_connection_failures_are_retried_then_the_dependency_is_unavailable() -> None:
    transport = Recorder(httpx.ConnectError("[Errno 111] Connection refused"))
    pricing = client(transport, retries=2)
    with pytest.raises(DependencyUnavailableError) as caught:
        await pricing.get("/quotes/AAPL")

    assert len(transport.requests) == 3
    error = caught.value
    assert (error.status, error.dependency) == (503, "pricing")
    assert error.detail == "pricing: cannot connect ([Errno 111] Connection refused) (3 attempts)"
    assert isinstance(error.__cause__, httpx.ConnectError)


async def test_a_post_is_not_retried_without_an_idempotency_key() -> None:
    transport = Recorder(problem(503, "busy"), httpx.Response(201))
    with pytest.raises(RemoteServiceError):
        await client(transport).post("/orders", json=GOOD_ORDER)

    assert len(transport.requests) == 1


async def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key() -> None:
    transport = Recorder(httpx.ConnectError("reset"), problem(500, "oops"), httpx.Response(201))
    response = await client(transport).post("/orders", json=GOOD_ORDER, idempotency_key="K-1")

    assert response.status_code == 201
    assert [r.headers[IDEMPOTENCY_KEY_HEADER] for r in transport.requests] == ["K-1"] * 3
    assert {r.content for r in transport.requests} == {transport.requests[0].content}


async def test_4xx_is_not_retried_and_its_problem_is_kept() -> None:
    answer = problem(422, "body.quantity: Input should be greater than 0", errors=[{"f": 1}])
    transport = Recorder(answer)
    with pytest.raises(RemoteServiceError) as caught:
        await client(transport).get("/quotes")

    assert len(transport.requests) == 1
    error = caught.value
    assert (error.status, error.title, error.type_uri) == (422, "Oops", "about:blank")
    assert error.detail == "body.quantity: Input should be greater than 0"
    assert error.service == "pricing"
    assert error.problem["errors"] == [{"f": 1}]


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (httpx.Response(404, text="no such quote"), "no such quote"),
        (httpx.Response(404), "Not Found"),
        (httpx.Response(409, json={"detail": "stale"}), "stale"),
        (httpx.Response(400, json=["not", "an", "object"]), '["not", "an", "object"]'),
    ],
)
async def test_an_error_that_is_not_a_problem_still_gives_status_and_detail(
    answer: httpx.Response, detail: str
) -> None:
    with pytest.raises(RemoteServiceError) as caught:
        await client(Recorder(answer)).get("/quotes")

    assert caught.value.status == answer.status_code
    assert caught.value.detail.replace(" ", "") == detail.replace(" ", "")


async def test_a_hanging_service_times_out_each_attempt() -> None:
    async def hangs(scope: object, receive: object, send: object) -> None:
        await asyncio.Event().wait()

    pricing = ServiceClient(
        "http://pricing",
        timeout_s=0.05,
        retries=1,
        transport=httpx.ASGITransport(app=hangs),
        sleep=Sleeps(),
    )
    start = time.perf_counter()
    with pytest.raises(
        DependencyUnavailableError, match=r"no answer within 0\.05 s \(2 attempts\)"
    ):
        await pricing.get("/quotes")

    assert time.perf_counter() - start < 2.0


# -- the circuit breaker -----------------------------------------------------------------


async def test_an_open_circuit_fails_fast_then_a_probe_closes_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=30.0, clock=clock)
    transport = Recorder(
        httpx.ConnectError("refused"), httpx.ConnectError("refused"), httpx.Response(200)
    )
    pricing = client(transport, retries=0, breaker=breaker)
    for _ in range(2):
        with pytest.raises(DependencyUnavailableError, match="cannot connect"):
            await pricing.get("/quotes")
    assert breaker.state is CircuitState.OPEN

    clock.now += 10.0
    with pytest.raises(DependencyUnavailableError) as caught:
        await pricing.get("/quotes")
    assert len(transport.requests) == 2  # never sent
    assert (
        caught.value.detail == "pricing: circuit open after repeated failures; next try in 20.0 s"
    )
    assert caught.value.headers == {"Retry-After": "20"}

    clock.now += 20.0
    assert (await pricing.get("/quotes")).status_code == 200
    assert breaker.state is CircuitState.CLOSED


async def test_retries_stop_when_the_circuit_opens() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    transport = Recorder(problem(503, "busy"))
    with pytest.raises(DependencyUnavailableError, match="circuit open"):
        await client(transport, retries=5, breaker=breaker).get("/quotes")

    assert len(transport.requests) == 2


async def test_4xx_answers_do_not_open_the_circuit() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    pricing = client(Recorder(problem(404, "no quote")), breaker=breaker)
    for _ in range(3):
        with pytest.raises(RemoteServiceError):
            await pricing.get("/quotes/X")

    assert breaker.state is CircuitState.CLOSED


async def test_a_cancelled_probe_frees_the_half_open_circuit() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=1.0, clock=clock)
    breaker.allow()
    breaker.record_failure()
    clock.now += 1.0
    entered = asyncio.Event()

    async def hangs(scope: object, receive: object, send: object) -> None:
        entered.set()
        await asyncio.Event().wait()

    pricing = ServiceClient(
        "http://pricing", breaker=breaker, transport=httpx.ASGITransport(app=hangs)
    )
    task = asyncio.create_task(pricing.get("/quotes"))
    await entered.wait()
    assert not breaker.allow()  # the probe is out
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert breaker.allow()


# -- correlation ids and service to service ----------------------------------------------


async def test_the_current_correlation_id_is_sent() -> None:
    transport = Recorder(httpx.Response(200))
    pricing = client(transport)
    with correlation_context("job-42"):
        await pricing.get("/quotes")
    await pricing.get("/quotes")

    assert transport.requests[0].headers[CORRELATION_ID_HEADER] == "job-42"
    assert CORRELATION_ID_HEADER not in transport.requests[1].headers


def gateway_app(pricing: ServiceClient) -> FastAPI:
    """A service whose route calls another service."""
    router = APIRouter()

    @router.get("/relay/{order_id}")
    async def relay(order_id: str) -> dict[str, object]:
        response = await pricing.post(
            f"/orders/{order_id}", json=GOOD_ORDER, idempotency_key=order_id
        )
        return {"mine": current_correlation_id(), "theirs": response.json()["correlation_id"]}

    @router.get("/relay-halted")
    async def relay_halted() -> None:
        await pricing.post("/orders/C-1", json={**GOOD_ORDER, "instrument_id": "HALTED"})

    return create_service_app(
        "gateway",
        settings=ServiceSettings(),
        routers=[router],
        dependencies={"orders": pricing.check_health},
    )


def in_process(app: FastAPI, name: str | None = None) -> ServiceClient:
    return ServiceClient(
        "http://orders", name=name, transport=httpx.ASGITransport(app=app), sleep=Sleeps()
    )


async def test_the_correlation_id_passes_from_one_service_to_the_next() -> None:
    orders = in_process(orders_app())
    async with client_for(gateway_app(orders)) as caller:
        given = await caller.get("/relay/C-1", headers={CORRELATION_ID_HEADER: "from-the-ui"})
        fresh = await caller.get("/relay/C-2")

    assert given.json() == {"mine": "from-the-ui", "theirs": "from-the-ui"}
    made = fresh.headers[CORRELATION_ID_HEADER]
    assert fresh.json() == {"mine": made, "theirs": made}


async def test_a_remote_problem_passes_through_naming_the_service() -> None:
    orders = in_process(orders_app(), name="orders")
    async with client_for(gateway_app(orders)) as caller:
        response = await caller.get("/relay-halted")

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == "urn:quantgrid:problem:instrument-halted"
    assert body["title"] == "Instrument halted"
    assert body["detail"] == "HALTED is halted"
    assert body["service"] == "orders"


async def test_a_caller_degrades_to_503_naming_the_dependency_when_it_is_down() -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=FakeClock())
    down = ServiceClient(
        "http://orders",
        retries=2,
        breaker=breaker,
        transport=httpx.MockTransport(Recorder(httpx.ConnectError("refused"))),
        sleep=Sleeps(),
    )
    async with client_for(gateway_app(down)) as caller:
        first = await caller.get("/relay/C-1")
        second = await caller.get("/relay/C-1")
        health = await caller.get("/health/dependencies")

    assert first.status_code == 503
    assert first.headers["content-type"] == PROBLEM_JSON
    problem_body = first.json()
    assert problem_body["type"] == "urn:quantgrid:problem:dependency-unavailable"
    assert problem_body["title"] == "Dependency unavailable"
    assert problem_body["dependency"] == "orders"
    assert problem_body["detail"] == "orders: cannot connect (refused) (3 attempts)"
    assert second.status_code == 503
    assert second.headers["retry-after"] == "30"
    assert "circuit open" in second.json()["detail"]
    assert health.status_code == 503
    assert health.json()["dependencies"]["orders"]["status"] == "down"


async def test_check_health_is_a_health_check_of_the_service() -> None:
    orders = in_process(orders_app())
    async with client_for(gateway_app(orders)) as caller:
        response = await caller.get("/health/dependencies")

    assert response.status_code == 200
    assert response.json()["dependencies"]["orders"]["status"] == "ok"


# -- configuration -----------------------------------------------------------------------


async def test_from_settings_uses_the_configured_url_and_limits() -> None:
    settings = ServiceSettings(
        service_urls={"risk": "http://risk:8000"}, client_timeout_s=1.5, client_retries=4
    )
    risk = ServiceClient.from_settings(settings, "risk")

    assert (risk.name, risk.timeout_s, risk.retries) == ("risk", 1.5, 4)
    assert "http://risk:8000" in repr(risk)
    assert (risk.breaker.failure_threshold, risk.breaker.reset_timeout_s) == (5, 30.0)
    await risk.aclose()


async def test_from_settings_makes_the_configured_circuit_breaker() -> None:
    settings = ServiceSettings(
        service_urls={"risk": "http://risk:8000"},
        client_breaker_failures=2,
        client_breaker_reset_s=0.5,
    )
    risk = ServiceClient.from_settings(settings, "risk")
    given = CircuitBreaker()
    other = ServiceClient.from_settings(settings, "risk", breaker=given)

    assert (risk.breaker.failure_threshold, risk.breaker.reset_timeout_s) == (2, 0.5)
    assert other.breaker is given
    await risk.aclose()
    await other.aclose()


async def test_from_settings_without_a_url_needs_a_transport() -> None:
    with pytest.raises(SettingsError, match="QUANTGRID_RISK_URL"):
        ServiceClient.from_settings(ServiceSettings(), "risk")

    risk = ServiceClient.from_settings(
        ServiceSettings(), "risk", transport=httpx.ASGITransport(app=orders_app())
    )
    assert (await risk.get("/health")).json()["service"] == "orders"


@pytest.mark.parametrize(
    "kwargs", [{"timeout_s": 0.0}, {"retries": -1}, {"backoff_s": -0.1}, {"max_backoff_s": -1.0}]
)
def test_nonsense_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"timeout_s|retries|backoff"):
        ServiceClient("http://x", **kwargs)


async def test_a_closed_port_on_loopback_is_unavailable_not_a_hang() -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nobody = ServiceClient(f"http://127.0.0.1:{port}", timeout_s=2.0, retries=1, sleep=Sleeps())
    async with nobody:
        with pytest.raises(DependencyUnavailableError, match=r"cannot connect .* \(2 attempts\)"):
            await nobody.get("/health")
