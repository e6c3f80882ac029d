"""Prometheus ``/metrics``: request counts and latencies by route template."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from quantgrid.services import ServiceMetrics, ServiceSettings, create_service_app
from tests.unit.services.apps import GOOD_ORDER, client_for, orders_app, orders_router

pytestmark = pytest.mark.anyio


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called ``name``, by sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def key(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


async def test_requests_are_counted_by_method_route_template_and_status() -> None:
    async with client_for(orders_app()) as client:
        await client.post("/orders/C-1", json=GOOD_ORDER)
        await client.post("/orders/C-2", json=GOOD_ORDER)
        await client.post("/orders/C-3", json={})
        await client.get("/orders/missing")
        await client.get("/nowhere/abc")
        await client.request("BREW", "/orders/C-1")
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "/orders/C-1" not in text  # raw paths never become labels
    counts = samples(text, "quantgrid_http_requests_total")
    route = "/orders/{client_order_id}"
    assert counts[key(method="POST", route=route, status="201")] == 2.0
    assert counts[key(method="POST", route=route, status="422")] == 1.0
    assert counts[key(method="GET", route=route, status="404")] == 1.0
    assert counts[key(method="GET", route="unmatched", status="404")] == 1.0
    assert counts[key(method="OTHER", route=route, status="405")] == 1.0
    latency = samples(text, "quantgrid_http_request_duration_seconds_count")
    assert latency[key(method="POST", route=route, status="201")] == 2.0
    assert 'target_info{service="orders",version="0.1.0"} 1.0' in text


async def test_openmetrics_is_served_when_asked_for() -> None:
    async with client_for(orders_app()) as client:
        response = await client.get("/metrics", headers={"accept": "application/openmetrics-text"})

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_each_app_has_its_own_registry() -> None:
    first, second = orders_app(), orders_app()
    async with client_for(first) as one, client_for(second) as other:
        await one.post("/orders/C-1", json=GOOD_ORDER)
        text = (await other.get("/metrics")).text

    route = "/orders/{client_order_id}"
    assert key(method="POST", route=route, status="201") not in samples(
        text, "quantgrid_http_requests_total"
    )
    assert REGISTRY.get_sample_value("quantgrid_http_requests_total") is None


async def test_domain_metrics_appear_on_the_service_registry() -> None:
    metrics = ServiceMetrics("execution")
    metrics.orders.labels(side="BUY", order_type="LIMIT").inc()
    metrics.fills.labels(side="BUY").inc(2)
    metrics.rejections.labels(source="risk", reason="max_notional").inc()
    metrics.cache_hits.labels(cache="quotes").inc(3)
    metrics.cache_misses.labels(cache="quotes").inc()
    metrics.bus_lag.labels(subscription="risk").set(0.25)
    app = create_service_app("execution", settings=ServiceSettings(), metrics=metrics)
    assert app.state.metrics is metrics

    async with client_for(app) as client:
        text = (await client.get("/metrics")).text

    assert samples(text, "quantgrid_orders_total") == {key(side="BUY", order_type="LIMIT"): 1.0}
    assert samples(text, "quantgrid_fills_total") == {key(side="BUY"): 2.0}
    assert samples(text, "quantgrid_rejections_total") == {
        key(source="risk", reason="max_notional"): 1.0
    }
    assert samples(text, "quantgrid_cache_hits_total") == {key(cache="quotes"): 3.0}
    assert samples(text, "quantgrid_cache_misses_total") == {key(cache="quotes"): 1.0}
    assert samples(text, "quantgrid_bus_lag_seconds") == {key(subscription="risk"): 0.25}


def test_defining_a_metric_twice_returns_the_same_one() -> None:
    metrics = ServiceMetrics("risk")
    counter = metrics.counter("checks", "Pre-trade checks.", ("outcome",))

    assert metrics.counter("checks", "Pre-trade checks.", ("outcome",)) is counter
    assert metrics.orders is metrics.orders
    with pytest.raises(ValueError, match="has labels"):
        metrics.counter("checks", "Pre-trade checks.", ("result",))
    with pytest.raises(ValueError, match="is a Counter, not a Gauge"):
        metrics.gauge("checks", "Pre-trade checks.", ("outcome",))
    histogram = metrics.histogram("check_seconds", "Check time.", buckets=(0.1, 1.0))
    assert metrics.histogram("check_seconds", "Check time.") is histogram


def test_metrics_for_another_service_are_refused() -> None:
    with pytest.raises(ValueError, match="'risk' service, not 'orders'"):
        create_service_app(
            "orders",
            settings=ServiceSettings(),
            routers=[orders_router()],
            metrics=ServiceMetrics("risk"),
        )
