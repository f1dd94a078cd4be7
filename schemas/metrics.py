"""Metrics by name, for every process that exports them (the worker, ``vh webhooks``): a
Protocol to report through, a no-op default, a recorder for tests, and Prometheus (the only
``prometheus_client`` import outside the API), each over one table of :class:`Spec` that
the process declares once (``ingest.metrics.SPECS``, ``webhooks.metrics.SPECS``).

An unknown name is a bug and raises ``KeyError`` in every implementation, so a typo cannot
silently lose a metric.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Spec:
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


Specs = Mapping[str, Spec]


class Metrics(Protocol):
    """Where a process reports. ``labels`` must name exactly the spec's labels."""

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None: ...

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None: ...

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Observe ``value`` (seconds, or a size) in the named histogram."""


class NoMetrics:
    """Reports nowhere (no metrics port), but still refuses unknown names."""

    def __init__(self, specs: Specs) -> None:
        self.specs = specs

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None:
        self.specs[name]

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.specs[name]

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.specs[name]


class RecordingMetrics:
    """Keeps every report in memory (tests): counters summed, gauges last, timings listed."""

    def __init__(self, specs: Specs) -> None:
        self.specs = specs
        self.counters: dict[tuple[str, Labels], float] = defaultdict(float)
        self.gauges: dict[tuple[str, Labels], float] = {}
        self.timings: dict[tuple[str, Labels], list[float]] = defaultdict(list)

    def _key(self, name: str, labels: Mapping[str, str] | None) -> tuple[str, Labels]:
        self.specs[name]
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
    """prometheus-client metrics in their own registry (several processes' worth of them can
    live in one test process)."""

    def __init__(self, specs: Specs) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self._metrics: dict[str, Any] = {}
        for name, spec in specs.items():
            if spec.kind == "counter":
                # prometheus-client appends `_total` itself.
                metric: Any = Counter(
                    name.removesuffix("_total"), spec.help, spec.labels, registry=self.registry
                )
            elif spec.kind == "gauge":
                metric = Gauge(name, spec.help, spec.labels, registry=self.registry)
            else:
                metric = Histogram(
                    name, spec.help, spec.labels, buckets=spec.buckets, registry=self.registry
                )
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
        """Expose ``/metrics`` on ``host:port`` from a daemon thread.

        Raises:
            OSError: the port is taken.
        """
        from prometheus_client import start_http_server

        start_http_server(port, addr=host, registry=self.registry)

    def exposition(self) -> bytes:
        """The text format a scrape would get (tests, debugging)."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))
