"""Prometheus metrics on a registry of the service's own."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

import quantgrid

#: Every metric's name starts with this.
NAMESPACE = "quantgrid"

#: Request latency buckets in seconds: 1 ms to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_M = TypeVar("_M", Counter, Gauge, Histogram)


class ServiceMetrics:
    """A service's metrics: HTTP requests, and the domain counters it defines.

    Parameters
    ----------
    service, version
        Exposed once, as the labels of ``target_info``, rather than on every series.

    Attributes
    ----------
    registry
        The service's own ``CollectorRegistry`` (not the process-global one), so that
        several services run in one process without sharing or clashing series.
    http_requests
        Counter ``quantgrid_http_requests_total{method, route, status}``.
    http_request_duration
        Histogram ``quantgrid_http_request_duration_seconds{method, route, status}``.

    Notes
    -----
    ``route`` is the route's template (``/orders/{order_id}``), never the raw path,
    and ``method`` outside the standard ones is ``OTHER``: label values stay bounded
    whatever clients send. Requests no route matched have ``route="unmatched"``.
    """

    def __init__(self, service: str, version: str = quantgrid.__version__) -> None:
        self.service = service
        self.registry = CollectorRegistry(target_info={"service": service, "version": version})
        self._metrics: dict[str, tuple[Counter | Gauge | Histogram, tuple[str, ...]]] = {}
        labels = ("method", "route", "status")
        self.http_requests = self.counter("http_requests", "HTTP requests answered.", labels)
        self.http_request_duration = self.histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, in seconds.",
            labels,
            buckets=LATENCY_BUCKETS,
        )

    # -- defining metrics --------------------------------------------------------------
    def _existing(self, kind: type[_M], name: str, labelnames: Sequence[str]) -> _M | None:
        found = self._metrics.get(name)
        if found is None:
            return None
        metric, labels = found
        if not isinstance(metric, kind):
            msg = f"metric {name!r} is a {type(metric).__name__}, not a {kind.__name__}"
            raise ValueError(msg)
        if labels != tuple(labelnames):
            msg = f"metric {name!r} has labels {labels}, not {tuple(labelnames)}"
            raise ValueError(msg)
        return metric

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        """Return the counter ``quantgrid_<name>_total``, defining it on first use.

        Raises
        ------
        ValueError
            If ``name`` is already another kind of metric, or has other labels.
        """
        metric = self._existing(Counter, name, labelnames)
        if metric is None:
            metric = Counter(
                name, documentation, labelnames, namespace=NAMESPACE, registry=self.registry
            )
            self._metrics[name] = (metric, tuple(labelnames))
        return metric

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Return the gauge ``quantgrid_<name>``, defining it on first use."""
        metric = self._existing(Gauge, name, labelnames)
        if metric is None:
            metric = Gauge(
                name, documentation, labelnames, namespace=NAMESPACE, registry=self.registry
            )
            self._metrics[name] = (metric, tuple(labelnames))
        return metric

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        """Return the histogram ``quantgrid_<name>``, defining it on first use."""
        metric = self._existing(Histogram, name, labelnames)
        if metric is None:
            metric = Histogram(
                name,
                documentation,
                labelnames,
                namespace=NAMESPACE,
                registry=self.registry,
                buckets=buckets,
            )
            self._metrics[name] = (metric, tuple(labelnames))
        return metric

    # -- the platform's domain metrics ---------------------------------------------------
    @cached_property
    def orders(self) -> Counter:
        """``quantgrid_orders_total{side, order_type}``: orders submitted."""
        return self.counter("orders", "Orders submitted.", ("side", "order_type"))

    @cached_property
    def fills(self) -> Counter:
        """``quantgrid_fills_total{side}``: fills received."""
        return self.counter("fills", "Fills received.", ("side",))

    @cached_property
    def rejections(self) -> Counter:
        """``quantgrid_rejections_total{source, reason}``: orders refused.

        ``source`` is who refused (``risk``, ``venue``); ``reason`` a short code from a
        fixed set, never free text.
        """
        return self.counter("rejections", "Orders refused.", ("source", "reason"))

    @cached_property
    def cache_hits(self) -> Counter:
        """``quantgrid_cache_hits_total{cache}``: lookups that found a value."""
        return self.counter("cache_hits", "Cache lookups that found a value.", ("cache",))

    @cached_property
    def cache_misses(self) -> Counter:
        """``quantgrid_cache_misses_total{cache}``: lookups that did not."""
        return self.counter("cache_misses", "Cache lookups that found nothing.", ("cache",))

    @cached_property
    def bus_lag(self) -> Gauge:
        """``quantgrid_bus_lag_seconds{subscription}``: event age when handled."""
        return self.gauge(
            "bus_lag_seconds",
            "Seconds between an event's ts_event and its handling, last seen.",
            ("subscription",),
        )

    # -- exposition ----------------------------------------------------------------------
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        labels = (method, route, str(status))
        self.http_requests.labels(*labels).inc()
        self.http_request_duration.labels(*labels).observe(seconds)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """Return the registry in the exposition format ``accept`` asks for.

        Returns
        -------
        tuple[bytes, str]
            The body and its content type (Prometheus text unless OpenMetrics is asked
            for).
        """
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type
