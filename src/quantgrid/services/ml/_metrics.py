"""The ML service's metrics: predictions, their latency, reloads and reload failures."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from quantgrid.services import ServiceMetrics
from quantgrid.services.ml._server import ModelServer

# Every metric of the platform starts with ``quantgrid_`` (as ServiceMetrics' do).
_PREFIX = "quantgrid_ml"

#: Prediction latency buckets in seconds: 50 µs to 1 s (a model call is tens of µs).
PREDICTION_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)


class ServingCollector:
    """Read the model server's counters at each scrape.

    The server counts predictions (in process and over HTTP alike), loads and failed
    loads as plain integers; this exposes them, so the server needs no metrics library:

    - ``quantgrid_ml_predictions_total{model, version}``: predictions made, batch rows
      included;
    - ``quantgrid_ml_model_reloads_total{model}``: versions loaded, the first included;
    - ``quantgrid_ml_model_reload_failures_total{model}``: loads that failed;
    - ``quantgrid_ml_served_version{model}``: the version served (absent: none).
    """

    def __init__(self, server: ModelServer) -> None:
        self._server = server

    def collect(self) -> Iterable[Metric]:
        """Return the server's counters as Prometheus metric families."""
        predictions = CounterMetricFamily(
            f"{_PREFIX}_predictions",
            "Predictions made by the model server, batch rows included.",
            labels=("model", "version"),
        )
        for (name, version), count in sorted(self._server.prediction_counts().items()):
            predictions.add_metric((name, str(version)), count)
        reloads = CounterMetricFamily(
            f"{_PREFIX}_model_reloads",
            "Model versions loaded by the model server, the first one included.",
            labels=("model",),
        )
        failures = CounterMetricFamily(
            f"{_PREFIX}_model_reload_failures",
            "Loads of a model version that failed (the previous version kept serving).",
            labels=("model",),
        )
        served = GaugeMetricFamily(
            f"{_PREFIX}_served_version",
            "The model version being served.",
            labels=("model",),
        )
        for status in self._server.statuses():
            reloads.add_metric((status.name,), status.reloads)
            failures.add_metric((status.name,), status.reload_failures)
            if status.version is not None:
                served.add_metric((status.name,), status.version)
        return [predictions, reloads, failures, served]


def prediction_latency(metrics: ServiceMetrics) -> Histogram:
    """Return ``quantgrid_ml_prediction_duration_seconds{model, kind}`` on ``metrics``.

    ``kind`` is ``single`` or ``batch``; the time is the model server's (features
    checked, model called), not the HTTP request's.
    """
    return metrics.histogram(
        "ml_prediction_duration_seconds",
        "Time the model server took to answer a prediction request, in seconds.",
        ("model", "kind"),
        buckets=PREDICTION_BUCKETS,
    )


def install_serving_metrics(metrics: ServiceMetrics, server: ModelServer) -> Histogram:
    """Expose ``server``'s counters on ``metrics``; return the latency histogram."""
    metrics.registry.register(ServingCollector(server))
    return prediction_latency(metrics)
