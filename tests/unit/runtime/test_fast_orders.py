"""``FastOrderEntry`` answers ``POST /api/execution/orders`` exactly as the route does.

Two worlds, identical but for the fast path: each a trading node on a test clock, an
authenticator with the same users and kinds of credentials, the execution app, the
gateway, and ``MountedServices`` in front (``fast_orders`` on in one, off in the
other). Every request is sent to both, and the two answers must agree: the status,
every header, the body (the correlation id and a generated client order id aside,
which are random in each), the access lines, the gateway's and the service's metrics,
and the orders stored. A corpus covers each kind of request by name, a Hypothesis
strategy mixes them; each case also says whether the fast path must answer it or hand
it to the route, so that the comparison cannot pass by the fast path never running.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import (
    Authenticator,
    AuthSettings,
    InMemoryRateLimiter,
    RateLimit,
    RateLimits,
    Tokens,
    Users,
    create_gateway_app,
    install_auth_before_parsing,
)
from quantgrid.node import OrderRequest, SubmitResult, TradingNode
from quantgrid.risk import RiskConfig
from quantgrid.runtime import MountedServices, Runtime, build_platform
from quantgrid.runtime._dispatch import FAST_ORDERS_ENV
from quantgrid.runtime._fast_orders import FastOrderEntry
from quantgrid.services import ServiceMetrics, ServiceSettings, configure_logging
from quantgrid.services.execution import create_app as execution_app
from tests.unit.node.support import START_NS, make_config, quote
from tests.unit.runtime.conftest import make_config as make_platform_config
from tests.unit.services.conftest import logging_restored

PASSWORD = "correct horse battery staple"
ORDERS = "/api/execution/orders"
MAX_BYTES = 4096
ROOMY = RateLimits(
    viewer=RateLimit(10_000.0, 10_000),
    trader=RateLimit(10_000.0, 10_000),
    admin=RateLimit(10_000.0, 10_000),
    login=RateLimit(10_000.0, 10_000),
)
#: A trader may send three requests, then is refused (the test clock stands still).
TIGHT = replace(ROOMY, trader=RateLimit(0.001, 3))
# Families whose samples must agree; durations are left out (they differ), counts not.
_COMPARED = re.compile(
    r"^quantgrid_(http_requests_total|http_request_duration_seconds_count|orders_total"
    r"|rejections_total|fills_total)\{"
)
_HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")  # a client order id the route made (uuid4)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def order(**changes: Any) -> dict[str, Any]:
    """Return a resting limit buy of AAPL, changed (a value of None drops the field)."""
    body: dict[str, Any] = {
        "client_order_id": "o-1",
        "instrument_id": "AAPL",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": "10",
        "price": "99.5",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class Req:
    """A request, sent alike to both worlds.

    ``served``: whether the fast path must answer it (True), hand it to the route
    (False), or either (None, for generated requests).
    """

    body: bytes | None = None
    credential: str = "trader-token"
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str | None = "application/json"
    method: str = "POST"
    path: str = ORDERS
    chunked: bool = False
    served: bool | None = True

    @classmethod
    def of(cls, body: Any, **kw: Any) -> Req:
        """Return a request with ``body`` as compact JSON."""
        return cls(body=json.dumps(body, separators=(",", ":")).encode(), **kw)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: Any
    logs: list[dict[str, Any]]


@dataclass
class World:
    """One platform in miniature: node, authenticator, execution app, gateway, front."""

    front: MountedServices
    client: httpx.AsyncClient
    node: TradingNode
    store: InMemoryStore
    metrics: list[ServiceMetrics]
    credentials: dict[str, dict[str, str]]
    app: Any
    log: io.StringIO = field(default_factory=io.StringIO)

    @classmethod
    async def open(cls, *, fast: bool, limits: RateLimits = ROOMY) -> World:
        store, clock = InMemoryStore(), TestClock(START_NS)
        node = TradingNode(
            make_config(risk=RiskConfig(max_order_quantity=1_000)),
            store=store,
            bus=InProcessEventBus(),
            clock=clock,
            session_id="diff",
        )
        await node.start()
        node.on_quote(quote(clock))
        node.on_quote(quote(clock, bid=50.0, ask=50.02, instrument_id="MSFT"))
        secret = secrets.token_urlsafe(48)
        auth_settings = AuthSettings(jwt_secret=secret, rate_limits=limits)
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        auth = Authenticator(store, auth_settings, hasher=hasher, clock=clock)
        for role in Role:
            auth.users.create_user(role.value, PASSWORD, role)
        credentials = _credentials(auth, auth_settings)
        limiter = InMemoryRateLimiter(clock)
        settings = ServiceSettings(max_request_bytes=MAX_BYTES, log_level="INFO")
        app = execution_app(node, settings, auth=auth, limiter=limiter)
        install_auth_before_parsing(app)  # as the platform builds it
        gateway = create_gateway_app(settings, auth, services={"execution": app}, limiter=limiter)
        front = MountedServices(
            gateway, {"execution": app}, gateway.state.metrics, fast_orders=fast
        )
        assert (front.fast_orders is not None) is fast
        transport = httpx.ASGITransport(app=front)
        client = httpx.AsyncClient(transport=transport, base_url="http://gateway")
        metrics = [gateway.state.metrics, app.state.metrics]
        return cls(front, client, node, store, metrics, credentials, app)

    async def close(self) -> None:
        await self.client.aclose()
        if self.node.running:
            await self.node.stop()

    async def send(self, req: Req) -> Answer:
        headers = [*self.credentials[req.credential].items(), *req.headers]
        if req.content_type is not None:
            headers.append(("Content-Type", req.content_type))
        content: Any = req.body
        if req.chunked and req.body is not None:
            body = req.body

            async def chunks() -> AsyncIterator[bytes]:
                for k in range(0, len(body), 7):
                    yield body[k : k + 7]

            content = chunks()
        self.log.seek(0)
        self.log.truncate()
        configure_logging("INFO", stream=self.log)
        answer = await asyncio.wait_for(
            self.client.request(req.method, req.path, content=content, headers=headers), 10
        )
        logs = [json.loads(line) for line in self.log.getvalue().splitlines()]
        try:
            body_json: Any = answer.json()
        except ValueError:
            body_json = answer.content
        return Answer(answer.status_code, list(answer.headers.multi_items()), body_json, logs)

    def metric_lines(self) -> list[str]:
        lines = []
        for metrics in self.metrics:
            text = metrics.render()[0].decode()
            lines += [f"{metrics.service} {line}" for line in text.splitlines()]
        return sorted(line for line in lines if _COMPARED.match(line.split(" ", 1)[1]))

    def orders(self) -> list[str]:
        page = self.store.list_orders(limit=500)
        return [repr(stored) for stored in page.items]


def _credentials(auth: Authenticator, auth_settings: AuthSettings) -> dict[str, dict[str, str]]:
    """Return the headers of each kind of caller, by name."""
    tokens = {role: auth.login(role.value, PASSWORD) for role in Role}
    trader_key = auth.keys.create_key("trader", Role.TRADER, "bot").secret
    viewer_key = auth.keys.create_key("trader", Role.VIEWER, "read-only bot").secret
    revoked = auth.keys.create_key("trader", Role.TRADER, "old bot")
    auth.keys.revoke_key(revoked.key_id)
    trader = auth.users.get_user("trader")
    assert trader is not None
    an_hour_ago = TestClock(START_NS - 2 * auth_settings.access_ttl_s * 1_000_000_000)
    expired = Tokens(auth_settings, clock=an_hour_ago).issue(trader).access

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    return {
        "trader-token": bearer(tokens[Role.TRADER].access),
        "admin-token": bearer(tokens[Role.ADMIN].access),
        "viewer-token": bearer(tokens[Role.VIEWER].access),
        "trader-key": {"X-API-Key": trader_key},
        "viewer-key": {"X-API-Key": viewer_key},
        "revoked-key": {"X-API-Key": revoked.secret},
        "unknown-key": {"X-API-Key": "qgk_nobody_" + "x" * 32},
        "expired-token": bearer(expired),
        "refresh-token": bearer(tokens[Role.TRADER].refresh),
        "bad-token": bearer("not-a-jwt"),
        "basic-auth": {"Authorization": "Basic dHJhZGVyOnB3"},
        "empty-bearer": {"Authorization": "Bearer "},
        "token-and-key": {**bearer(tokens[Role.TRADER].access), "X-API-Key": trader_key},
        "none": {},
    }


CREDENTIALS = (
    "trader-token",
    "admin-token",
    "viewer-token",
    "trader-key",
    "viewer-key",
    "revoked-key",
    "unknown-key",
    "expired-token",
    "refresh-token",
    "bad-token",
    "basic-auth",
    "empty-bearer",
    "token-and-key",
    "none",
)


def _normalized(answer: Answer, req: Req) -> dict[str, Any]:
    """Return what must agree: random ids (a fresh correlation id, a made order id) out."""
    given_cid = dict((k.lower(), v) for k, v in req.headers).get("x-correlation-id")
    cid = dict(answer.headers).get("x-correlation-id")
    headers = []
    for name, value in answer.headers:
        if name == "content-length":
            continue  # follows the body, compared below
        fresh = name == "x-correlation-id" and value != given_cid
        headers.append((name, "<cid>" if fresh else value))
    text = json.dumps(answer.body, sort_keys=True, default=repr)
    logs = []
    for written in answer.logs:
        line = {k: v for k, v in written.items() if k not in ("ts", "duration_ms", "exception")}
        line["message"] = re.sub(r"[0-9.]+ ms$", "<ms>", line["message"])
        if line.get("correlation_id") == cid:
            line["correlation_id"] = "<request's cid>"
        logs.append(line)
    for pattern, stand_in in ((_HEX_ID, "<made id>"), (_UUID, "<uuid>")):
        text = pattern.sub(stand_in, text)
    logs_text = _UUID.sub("<uuid>", json.dumps(logs, sort_keys=True))
    return {"status": answer.status, "headers": headers, "body": text, "logs": logs_text}


class Pair:
    """Two worlds on one event loop (in a thread), for synchronous tests and Hypothesis."""

    def __init__(self, portal: BlockingPortal, **options: Any) -> None:
        self.portal = portal
        self.fast: World = portal.call(lambda: World.open(fast=True, **options))
        self.route: World = portal.call(lambda: World.open(fast=False, **options))

    def close(self) -> None:
        self.portal.call(self.fast.close)
        self.portal.call(self.route.close)

    def send(self, req: Req) -> tuple[Answer, Answer]:
        """Send ``req`` to both worlds; assert they answer, count and store alike."""
        entry = self.fast.front.fast_orders
        assert entry is not None
        served, passed = entry.served, entry.passed_on
        fast = self.portal.call(self.fast.send, req)
        route = self.portal.call(self.route.send, req)
        if req.served is not None:
            assert (entry.served - served, entry.passed_on - passed) == (
                (1, 0) if req.served else (0, 1)
            ), f"the fast path should {'answer' if req.served else 'pass on'} {req}"
        assert _normalized(fast, req) == _normalized(route, req), req
        assert fast.body != b"" or route.body == b""
        assert self.fast.metric_lines() == self.route.metric_lines(), req
        # Sorted: made ids differ, so orders made at one time list in either order.
        fast_orders = sorted(_HEX_ID.sub("<made id>", o) for o in self.fast.orders())
        route_orders = sorted(_HEX_ID.sub("<made id>", o) for o in self.route.orders())
        assert fast_orders == route_orders, req
        return fast, route

    def both(self, action: Any) -> None:
        """Run ``action(world)`` (a coroutine function) on each world."""
        self.portal.call(action, self.fast)
        self.portal.call(action, self.route)


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with logging_restored(), start_blocking_portal(backend="asyncio") as portal:
        yield portal


@pytest.fixture
def pair(portal: BlockingPortal) -> Iterator[Pair]:
    pair = Pair(portal)
    yield pair
    pair.close()


# -- the corpus ----------------------------------------------------------------------------
VALID_ORDERS = [
    order(),
    order(client_order_id="o-sell", side="SELL", price="101.5"),
    order(client_order_id="o-mkt", order_type="MARKET", price=None),
    order(client_order_id="o-mkt-msft", instrument_id="MSFT", order_type="MARKET", price=None),
    order(client_order_id="o-stop", order_type="STOP", price=None, trigger_price="101"),
    order(
        client_order_id="o-stop-limit", order_type="STOP_LIMIT", price="101.5", trigger_price="101"
    ),
    order(client_order_id="o-ioc", time_in_force="IOC", price="98"),
    order(client_order_id="o-fok", time_in_force="FOK", price="100.02"),
    order(client_order_id="o-day", time_in_force="DAY", tag="swing", strategy_id="s.1"),
    order(client_order_id="o-post", post_only=True, price="99"),
    order(client_order_id="o-reduce", reduce_only=True, side="SELL", price="102"),
    order(client_order_id="o-num", quantity=3, price=99.25),
    order(client_order_id="o-null", trigger_price=None, tag=None, strategy_id=None),
    {**order(client_order_id="o-nulls"), "trigger_price": None, "client_order_id": "o-nulls"},
]


@pytest.mark.parametrize("body", VALID_ORDERS, ids=lambda b: str(b.get("client_order_id")))
def test_valid_orders_of_every_type_agree(pair: Pair, body: dict[str, Any]) -> None:
    fast, _ = pair.send(Req.of(body))
    assert fast.status == 201, fast.body
    again, _ = pair.send(Req.of(body))
    assert again.status == 200, again.body


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_every_kind_of_caller_gets_the_same_answer(pair: Pair, credential: str) -> None:
    fast, _ = pair.send(Req.of(order(client_order_id=f"c-{credential}"), credential=credential))
    allowed = credential in ("trader-token", "admin-token", "trader-key")
    assert (fast.status == 201) is allowed, fast.body
    if not allowed:
        assert fast.status in (401, 403), fast.body
        assert fast.body["instance"] == ORDERS


def test_repeats_conflicts_and_idempotency_keys_agree(pair: Pair) -> None:
    statuses = []
    for req in [
        Req.of(order()),
        Req.of(order()),  # a retry: 200, Idempotent-Replayed
        Req.of(order(quantity="20")),  # the id reused with other fields: 409
        Req.of(order(client_order_id=None), headers=(("Idempotency-Key", "k-1"),)),
        Req.of(order(client_order_id=None), headers=(("Idempotency-Key", "k-1"),)),
        Req.of(order(), headers=(("Idempotency-Key", "k-2"),)),  # mismatch: 422
        Req.of(order(client_order_id="k-1"), headers=(("Idempotency-Key", "k-1"),)),
        Req.of(order(client_order_id=None)),  # no id at all: the route makes one
        Req.of(
            order(client_order_id=None), headers=(("Idempotency-Key", "bad key"),), served=False
        ),
        Req.of(order(client_order_id=None), headers=(("Idempotency-Key", ""),), served=False),
        Req.of(
            order(client_order_id="dup-k"),
            headers=(("Idempotency-Key", "dup-k"), ("Idempotency-Key", "other")),
        ),
    ]:
        fast, _ = pair.send(req)
        statuses.append(fast.status)
    assert statuses == [201, 200, 409, 201, 200, 422, 200, 201, 422, 422, 201]


def test_denials_halts_and_node_refusals_agree(pair: Pair) -> None:
    denied = Req.of(order(client_order_id="big", quantity="5000"))
    assert pair.send(denied)[0].status == 422
    again, _ = pair.send(denied)  # the denied order, repeated: the same problem, replayed
    assert again.status == 422 and ("idempotent-replayed", "true") in again.headers
    for body in [
        order(client_order_id="tick", price="99.001"),  # off the tick: the node says so
        order(client_order_id="lot", quantity="1.5"),
        order(client_order_id="tsla", instrument_id="TSLA"),
        order(client_order_id="no-price", order_type="LIMIT", price=None),
        order(client_order_id="stop-no-trigger", order_type="STOP", price=None),
    ]:
        assert pair.send(Req.of(body))[0].status == 422

    async def halt(world: World) -> None:
        await world.node.halt("a test halts trading")

    async def resume(world: World) -> None:
        await world.node.resume("a test resumes")

    pair.both(halt)
    halted, _ = pair.send(Req.of(order(client_order_id="while-halted")))
    assert halted.status == 422 and "halt" in json.dumps(halted.body).lower()
    pair.both(resume)
    assert pair.send(Req.of(order(client_order_id="after-resume")))[0].status == 201


def test_bodies_the_route_must_read_are_passed_on_and_agree(pair: Pair) -> None:
    big = order(client_order_id="big-body", tag="x" * 256)
    for req in [
        Req(body=b"{not json", served=False),
        Req(body=b"{not json", credential="none", served=False),
        Req(body=b"{not json", credential="viewer-token", served=False),
        Req(body=b"", served=False),
        Req(body=b"\xff\xfe\x00", served=False),
        Req(body=b"[]", served=False),
        Req(body=b"null", served=False),
        Req(body=b'"order"', served=False),
        Req.of({}, served=False),
        Req.of({}, credential="none", served=False),
        Req.of(order(side="HOLD"), served=False),
        Req.of(order(quantity="-1"), served=False),
        Req.of(order(quantity="abc"), served=False),
        Req.of(order(price="1e400"), served=False),
        Req.of(order(client_order_id="has space"), served=False),
        Req.of(order(extra=1), served=False),
        Req.of(order(tag="x" * 300), served=False),
        Req.of(order(post_only="maybe"), served=False),
        Req(
            body=b'{"client_order_id":"nan","instrument_id":"AAPL","side":"BUY",'
            b'"order_type":"LIMIT","quantity":NaN,"price":"99"}',
            served=False,
        ),
        Req.of(order(client_order_id="ct-text"), content_type="text/plain", served=False),
        Req.of(order(client_order_id="ct-none"), content_type=None, served=False),
        Req.of(
            order(client_order_id="ct-charset"),
            content_type="application/json; charset=utf-8",
            served=False,
        ),
        Req.of(
            order(client_order_id="ct-plus"),
            content_type="application/merge-patch+json",
            served=False,
        ),
        Req.of(order(client_order_id="chunked"), chunked=True, served=False),
        Req.of(order(client_order_id="q"), path=ORDERS + "?dry=1", served=False),
        Req.of(order(client_order_id="slash"), path=ORDERS + "/", served=None),
        Req.of(order(client_order_id="put"), method="PUT", served=None),
        Req.of(order(client_order_id="oversize", tag="x" * MAX_BYTES), served=False),
        Req.of(big),  # under the limit: served
    ]:
        pair.send(req)


def test_headers_and_correlation_ids_agree(pair: Pair) -> None:
    for req in [
        Req.of(order(client_order_id="cid-1"), headers=(("X-Correlation-ID", "given-cid-1"),)),
        Req.of(order(client_order_id="cid-2"), headers=(("X-Correlation-ID", "bad cid"),)),
        Req.of(order(client_order_id="cid-3"), headers=(("X-Correlation-ID", "x" * 200),)),
        Req.of(
            order(client_order_id="cid-4"),
            headers=(("X-Correlation-ID", "first"), ("X-Correlation-ID", "second")),
        ),
        Req.of(order(client_order_id="two-keys"), headers=(("X-API-Key", "qgk_a_b"),)),
        Req.of(
            order(client_order_id="two-types"),
            headers=(("Content-Type", "text/plain"),),
            served=False,  # the first Content-Type is the one read, by both
        ),
        Req.of(order(client_order_id="agent"), headers=(("User-Agent", "bot/1.0"),)),
    ]:
        pair.send(req)


def test_an_unexpected_error_is_the_same_500(pair: Pair) -> None:
    class Exploding:
        """The node, but submitting an order called ``boom`` fails unexpectedly."""

        def __init__(self, node: TradingNode) -> None:
            self.node = node

        async def submit(self, request: OrderRequest) -> SubmitResult:
            if request.client_order_id == "boom":
                raise RuntimeError("a bug")
            return await self.node.submit(request)

    async def explode(world: World) -> None:
        world.app.state.backend = Exploding(world.node)

    pair.both(explode)
    fast, _ = pair.send(Req.of(order(client_order_id="boom")))
    assert fast.status == 500
    assert any(line["message"].startswith("unhandled error") for line in fast.logs)
    assert pair.send(Req.of(order(client_order_id="fine")))[0].status == 201


def test_a_stopped_node_is_the_same_503(pair: Pair) -> None:
    async def stop(world: World) -> None:
        await world.node.stop()

    pair.both(stop)
    fast, _ = pair.send(Req.of(order(client_order_id="late")))
    assert fast.status == 503
    assert ("retry-after", "1") in fast.headers


def test_a_caller_over_its_rate_limit_is_the_same_429(portal: BlockingPortal) -> None:
    pair = Pair(portal, limits=TIGHT)
    try:
        statuses = [pair.send(Req.of(order(client_order_id=f"r-{i}")))[0].status for i in range(5)]
        # An invalid body is refused after the credentials: it spends the budget too.
        assert pair.send(Req.of({}, served=False))[0].status == 429
    finally:
        pair.close()
    assert statuses == [201, 201, 201, 429, 429]


def test_other_routes_are_the_apps(pair: Pair) -> None:
    pair.send(Req.of(order()))
    for req in [
        Req(method="GET", body=None, content_type=None, served=None),
        Req(method="GET", path="/api/execution/orders/o-1", content_type=None, served=None),
        Req(method="DELETE", path="/api/execution/orders/o-1", content_type=None, served=None),
    ]:
        pair.send(req)


# -- generated requests --------------------------------------------------------------------
_DROP = object()
# Per field: values the body model takes (the node may still refuse the order), and
# values it refuses. Each field is broken on one draw in twenty.
_FIELDS: dict[str, tuple[list[Any], list[Any]]] = {
    "client_order_id": (["h-1", "h-2", "h-3", "h.4", "H_5", _DROP], ["", "bad id", "-x", 7]),
    "strategy_id": ([_DROP, "manual", "s-2"], ["", None, "a b"]),
    "instrument_id": (["AAPL", "AAPL", "MSFT", "TSLA"], ["", None, _DROP]),
    "side": (["BUY", "SELL"], ["HOLD", "buy", None, _DROP]),
    "order_type": (["LIMIT", "LIMIT", "MARKET", "STOP", "STOP_LIMIT"], ["X", None, _DROP]),
    "quantity": (["1", "10", "10", "2000", "1.5", 3, 2.5, "1e1"], ["0", "-1", "x", None, _DROP]),
    "price": (["99.5", "99.5", "100.5", "99.001", 98, None, _DROP, _DROP], ["0", "-1", "x"]),
    "trigger_price": ([_DROP, _DROP, "101", "98.5", None], ["x", "0"]),
    "time_in_force": ([_DROP, "GTC", "IOC", "FOK", "DAY"], ["GTD", 1]),
    "post_only": ([_DROP, True, False, "true", 1], ["maybe", None]),
    "reduce_only": ([_DROP, True, False, 0], ["maybe"]),
    "tag": ([_DROP, "", "t"], ["x" * 257, 5]),
}


@st.composite
def requests(draw: st.DrawFn) -> Req:
    """Return a request: mostly orders near the valid ones, some broken on purpose."""
    if draw(st.integers(0, 19)) == 0:
        body = draw(st.sampled_from([b"", b"{", b"[1]", b"null", b'{"side":"BUY"', b"\xff"]))
    else:
        fields = {}
        for name, (valid, invalid) in _FIELDS.items():
            broken = draw(st.integers(0, 19)) == 0
            fields[name] = draw(st.sampled_from(invalid if broken else valid))
        if draw(st.integers(0, 19)) == 0:
            fields["extra"] = 1
        body = json.dumps(
            {k: v for k, v in fields.items() if v is not _DROP}, separators=(",", ":")
        ).encode()
    headers: list[tuple[str, str]] = []
    key = draw(st.sampled_from([None] * 6 + ["h-1", "k-9", "bad key"]))
    if key is not None:
        headers.append(("Idempotency-Key", key))
    cid = draw(st.sampled_from([None, None, "gen-cid", "bad cid"]))
    if cid is not None:
        headers.append(("X-Correlation-ID", cid))
    content_type = draw(
        st.sampled_from(["application/json"] * 17 + ["text/plain", None, "application/x+json"])
    )
    credential = draw(
        st.sampled_from(["trader-token"] * 6 + ["trader-key"] * 3 + list(CREDENTIALS))
    )
    return Req(
        body=body,
        credential=credential,
        headers=tuple(headers),
        content_type=content_type,
        served=None,
    )


def test_generated_requests_get_the_same_answers(pair: Pair) -> None:
    """One pair of worlds for every example: ids repeat, so retries and conflicts come."""

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(req=requests())
    def same_answers(req: Req) -> None:
        pair.send(req)

    same_answers()
    entry = pair.fast.front.fast_orders
    assert entry is not None
    # Not vacuous: the fast path answered many of them, and passed many on.
    assert entry.served > 50 and entry.passed_on > 20, (entry.served, entry.passed_on)


# -- the platform ----------------------------------------------------------------------------
def test_the_setting_turns_the_fast_path_on_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    app = execution_app(
        _Never(), ServiceSettings(), auth=Authenticator(InMemoryStore(), _auth_settings())
    )
    gateway = create_gateway_app(
        ServiceSettings(), Authenticator(InMemoryStore(), _auth_settings())
    )
    for value, on in [("", True), ("1", True), ("true", True), ("0", False), ("Off", False)]:
        monkeypatch.setenv(FAST_ORDERS_ENV, value)
        front = MountedServices(gateway, {"execution": app}, gateway.state.metrics)
        assert (front.fast_orders is not None) is on, value
    monkeypatch.setenv(FAST_ORDERS_ENV, "sometimes")
    with pytest.raises(ValueError, match=r"QUANTGRID_FAST_ORDERS: .* not 'sometimes'"):
        MountedServices(gateway, {"execution": app}, gateway.state.metrics)
    # An app it does not know the shape of keeps its route.
    app.add_middleware(_Passing)
    assert FastOrderEntry.of(app) is None


def test_two_platforms_answer_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real composition (SQLite, every service): the fast path is on, and agrees."""
    runtimes = []
    for name, value in [("fast", "1"), ("route", "0")]:
        monkeypatch.setenv(FAST_ORDERS_ENV, value)
        (tmp_path / name).mkdir()
        runtime = build_platform(make_platform_config(tmp_path / name))
        Users(runtime.store).create_user("alice", PASSWORD, Role.TRADER)
        Users(runtime.store).create_user("bob", PASSWORD, Role.VIEWER)
        runtimes.append(runtime)
    fast, route = runtimes
    assert isinstance(fast.app, MountedServices) and fast.app.fast_orders is not None
    assert isinstance(route.app, MountedServices) and route.app.fast_orders is None
    requests = [
        ("alice", order(instrument_id="SYN0", price="1.5")),
        ("alice", order(instrument_id="SYN0", price="1.5")),
        ("alice", order(instrument_id="SYN0", price="2.5")),
        ("alice", order(client_order_id="o-2", instrument_id="SYN1", side="SELL", price="9")),
        ("bob", order(client_order_id="o-3", instrument_id="SYN0", price="1.5")),
        (None, order(client_order_id="o-4", instrument_id="SYN0", price="1.5")),
        ("alice", order(client_order_id="o-5", instrument_id="NOPE", price="1.5")),
    ]

    async def answers(runtime: Runtime) -> list[tuple[int, Any]]:
        out = []
        async with runtime.running() as app:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
                tokens = {}
                for user in ("alice", "bob"):
                    login = {"username": user, "password": PASSWORD}
                    answer = await client.post("/auth/login", json=login)
                    tokens[user] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
                for user, body in requests:
                    headers = tokens[user] if user else {}
                    headers = {**headers, "X-Correlation-ID": "platform-cid"}
                    answer = await client.post(ORDERS, json=body, headers=headers)
                    payload = answer.json()
                    for key in ("ts_init", "ts_last", "venue_order_id"):
                        payload.pop(key, None)  # the wall clock's, the session's
                    out.append((answer.status_code, payload))
        return out

    with start_blocking_portal(backend="asyncio") as portal:
        fast_answers = portal.call(answers, fast)
        route_answers = portal.call(answers, route)
    assert fast_answers == route_answers
    assert [status for status, _ in fast_answers] == [201, 200, 409, 201, 403, 401, 422]
    assert fast.app.fast_orders.served == len(requests)


class _Never:
    """A backend never called: the apps are only built."""

    async def check_ready(self) -> str:
        return "never"


class _Passing:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _auth_settings() -> AuthSettings:
    return AuthSettings(jwt_secret=secrets.token_urlsafe(48))
