"""Baseline (a): the real ingest worker with enrichment switched off, as its own process.

``python -m tests.benchmarks.worker_noenrich`` reads the same ``VH_*`` settings as
``vh worker`` and builds the same :class:`ingest.consumer.Worker` from the same pieces as
``ingest.worker.open_worker`` (consumer, writer, DLQ, batcher, erasure view, guard, Prometheus
metrics), except that the processor gets :class:`ingest.processor.NoEnrichment`. It exists
because ``open_worker`` has no switch for that yet (docs/benchmarks.md proposes ``VH_ENRICH``);
keep it in step with ``open_worker``.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from ingest import logs
from ingest.backoff import Backoff
from ingest.batching import Batcher
from ingest.config import IngestConfig
from ingest.consumer import Worker
from ingest.dlq import DeadLetterQueue
from ingest.dlq_guard import DlqGuard
from ingest.erasures import ErasureView, erasures_query
from ingest.kafka_clients import make_consumer, make_producer
from ingest.metrics import Metrics, NoMetrics, PrometheusMetrics
from ingest.processor import NoEnrichment, VisitProcessor
from ingest.worker import check_clickhouse
from ingest.writer import ClickHouseWriter


def main() -> int:
    """Run until SIGTERM/SIGINT; returns the worker's exit code."""
    logs.configure(os.environ.get("VH_LOG_LEVEL", "INFO"))
    config = IngestConfig.from_env(os.environ)
    metrics: Metrics = NoMetrics()
    if config.metrics_port:
        prometheus = PrometheusMetrics()
        prometheus.serve(config.metrics_port)
        metrics = prometheus
    clock = time.monotonic
    with ClickHouseWriter.from_config(config) as writer:
        check_clickhouse(writer)
        producer = make_producer(config, client_id="vh-bench-noenrich-dlq")
        try:
            worker = Worker(
                consumer=make_consumer(config),
                topic=config.topic,
                writer=writer,
                dlq=DeadLetterQueue(producer, config.dlq_topic),
                processor=VisitProcessor(
                    NoEnrichment(), millisecond_time=writer.features().modern_types
                ),
                erasures=ErasureView(
                    lambda: writer.execute(erasures_query(config.clickhouse_database)),
                    config.erasure_refresh_seconds,
                    clock,
                ),
                guard=DlqGuard(config.dlq_max_ratio, config.dlq_window),
                batcher=Batcher(config.batch_max_rows, config.batch_max_seconds, clock),
                backoff=Backoff(config.retry_initial_seconds, config.retry_max_seconds),
                metrics=metrics,
                clock=clock,
            )
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda _signo, _frame: worker.stop())
            return worker.run()
        finally:
            producer.close()


if __name__ == "__main__":
    sys.exit(main())
