"""Worker metrics: a small Protocol, a no-op default, Prometheus, and a recorder for tests.

The only module that imports ``prometheus_client``. Code reports through :class:`Metrics`
with the names in :data:`SPECS`; an unknown name is a bug and raises ``KeyError`` in every
implementation, so a typo cannot silently lose a metric.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True, slots=True)
class Spec:
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


SPECS: Final[Mapping[str, Spec]] = {
    "vh_ingest_events_consumed_total": Spec("counter", "Kafka messages read"),
    "vh_ingest_events_stored_total": Spec("counter", "Visits ClickHouse acknowledged"),
    "vh_ingest_events_dead_lettered_total": Spec(
        "counter", "Messages sent to the DLQ topic", ("reason",)
    ),
    "vh_ingest_events_published_total": Spec(
        "counter", "Stored visits the enriched-stream topic acknowledged"
    ),
    "vh_ingest_enriched_failures_total": Spec(
        "counter", "Stored blocks the enriched stream did not take (read and stored again)"
    ),
    "vh_ingest_publish_seconds": Spec(
        "histogram",
        "Enriched-stream publish latency (send to acknowledgement) per block",
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    ),
    "vh_ingest_events_erased_total": Spec("counter", "Visits dropped: their visitor was erased"),
    "vh_ingest_insert_failures_total": Spec("counter", "Failed ClickHouse inserts (retried)"),
    "vh_ingest_dlq_failures_total": Spec(
        "counter", "Dead letters Kafka did not take (their batch is read again)"
    ),
    "vh_ingest_erasure_purges_total": Spec(
        "counter", "Erased visitors whose visits stored after the erasure were purged"
    ),
    "vh_ingest_batch_rows": Spec(
        "histogram",
        "Rows per insert",
        buckets=(1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000),
    ),
    "vh_ingest_insert_seconds": Spec(
        "histogram",
        "ClickHouse insert latency",
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    ),
    "vh_ingest_consumer_lag": Spec(
        "gauge", "Messages between the partition's end and the worker's position", ("partition",)
    ),
    "vh_ingest_paused": Spec("gauge", "1 while inserts fail and partitions are paused"),
    "vh_ingest_python_blocks": Spec("gauge", "Memory blocks Python's allocator holds (objects)"),
    "vh_ingest_malloc_in_use_bytes": Spec("gauge", "Bytes glibc malloc has handed out"),
    "vh_ingest_malloc_free_bytes": Spec(
        "gauge", "Freed bytes glibc malloc keeps for reuse (part of RSS, not of any object)"
    ),
    "vh_ingest_dlq_guard_tripped": Spec(
        "gauge", "1 once the dead-letter cap stopped the worker", ("partition",)
    ),
    "vh_ingest_dlq_unwritable": Spec(
        "gauge", "1 once the DLQ topic refused the same letter too often and the worker stopped"
    ),
}


class Metrics(Protocol):
    """Where the worker reports. ``labels`` must name exactly the spec's labels."""

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None: ...

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None: ...

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Observe ``value`` (seconds, or a size) in the named histogram."""


class NoMetrics:
    """Reports nowhere (the default), but still refuses unknown names."""

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None:
        SPECS[name]

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        SPECS[name]

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        SPECS[name]


def _key(name: str, labels: Mapping[str, str] | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    SPECS[name]
    return name, tuple(sorted((labels or {}).items()))


class RecordingMetrics:
    """Keeps every report in memory: counters summed, gauges last value, timings listed."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.timings: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)

    def increment(
        self, name: str, value: float = 1, labels: Mapping[str, str] | None = None
    ) -> None:
        self.counters[_key(name, labels)] += value

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.gauges[_key(name, labels)] = value

    def timing(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.timings[_key(name, labels)].append(value)

    def counter(self, name: str, **labels: str) -> float:
        return self.counters.get(_key(name, labels), 0.0)


class PrometheusMetrics:
    """prometheus-client metrics in their own registry (several workers per test process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self._metrics: dict[str, Any] = {}
        for name, spec in SPECS.items():
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
