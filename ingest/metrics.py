"""Worker metrics: the names (:data:`SPECS`), and the implementations of ``schemas.metrics``
bound to them (a no-op default, Prometheus, a recorder for tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from schemas import metrics
from schemas.metrics import Metrics, Spec

__all__ = ["SPECS", "Metrics", "NoMetrics", "PrometheusMetrics", "RecordingMetrics"]

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


class NoMetrics(metrics.NoMetrics):
    """Reports nowhere (the default), but still refuses unknown names."""

    def __init__(self) -> None:
        super().__init__(SPECS)


class RecordingMetrics(metrics.RecordingMetrics):
    def __init__(self) -> None:
        super().__init__(SPECS)


class PrometheusMetrics(metrics.PrometheusMetrics):
    def __init__(self) -> None:
        super().__init__(SPECS)
