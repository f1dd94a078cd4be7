"""Webhook metrics: the names, a no-op default, a recorder for tests, and Prometheus (the
webhooks side's only prometheus-client import), on ``VH_WEBHOOKS_METRICS_PORT``'s /metrics.

Labelled by ``endpoint`` (its id, never its URL: a URL may carry credentials, and ids keep
the series few). An unknown name raises ``KeyError`` everywhere, so a typo cannot lose one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Final, Protocol

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)

#: name -> (kind, help, labels)
SPECS: Final[Mapping[str, tuple[str, str, tuple[str, ...]]]] = {
    "vh_webhooks_events_consumed_total": ("counter", "Enriched events read", ()),
    "vh_webhooks_delivered_total": ("counter", "Deliveries a 2xx answered", ("endpoint",)),
    "vh_webhooks_retried_total": ("counter", "Failed attempts retried later", ("endpoint",)),
    "vh_webhooks_dead_lettered_total": (
        "counter", "Deliveries given up on (vh webhooks replay)", ("endpoint", "reason"),
    ),
    "vh_webhooks_attempt_seconds": ("histogram", "One POST's latency", ("endpoint",)),
    "vh_webhooks_delivery_lag_seconds": (
        "histogram", "From the worker's publish to a 2xx", ("endpoint",),
    ),
    "vh_webhooks_queued": ("gauge", "Deliveries waiting or in flight", ("endpoint",)),
    "vh_webhooks_commit_failures_total": ("counter", "Offset commits refused (retried)", ()),
}  # fmt: skip


class Metrics(Protocol):
    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None: ...

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None: ...

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None: ...


class NoMetrics:
    """Reports nowhere (metrics port 0), but still refuses unknown names."""

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None:
        SPECS[name]

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        SPECS[name]

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        SPECS[name]


class RecordingMetrics:
    """Keeps every report in memory (tests): counters summed, gauges last, timings listed."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.timings: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)

    @staticmethod
    def _key(
        name: str, labels: Mapping[str, str] | None
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        SPECS[name]
        return name, tuple(sorted((labels or {}).items()))

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None:
        self.counters[self._key(name, labels)] += value

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.gauges[self._key(name, labels)] = value

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.timings[self._key(name, labels)].append(value)

    def counter(self, name: str, **labels: str) -> float:
        return self.counters.get(self._key(name, labels), 0.0)


class PrometheusMetrics:
    """prometheus-client metrics in their own registry."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self._metrics: dict[str, Any] = {}
        for name, (kind, text, labels) in SPECS.items():
            if kind == "counter":  # prometheus-client appends `_total` itself
                metric: Any = Counter(
                    name.removesuffix("_total"), text, labels, registry=self.registry
                )
            elif kind == "gauge":
                metric = Gauge(name, text, labels, registry=self.registry)
            else:
                metric = Histogram(name, text, labels, buckets=_SECONDS, registry=self.registry)
            self._metrics[name] = metric

    def _child(self, name: str, labels: Mapping[str, str] | None) -> Any:
        metric = self._metrics[name]
        return metric.labels(**labels) if labels else metric

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None:
        self._child(name, labels).inc(value)

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self._child(name, labels).set(value)

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self._child(name, labels).observe(value)

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        """Expose ``/metrics`` from a daemon thread. Raises OSError when the port is taken."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=host, registry=self.registry)

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))
