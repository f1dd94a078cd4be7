"""Fixtures of the ingest tests: a worker in a thread on this test's topics and database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from enrich.config import EnrichConfig
from ingest.assembly import open_worker
from ingest.config import IngestConfig
from ingest.metrics import RecordingMetrics
from ingest.worker import Worker
from tests.support.ingest import ENRICH, RunningWorker, quick_worker_config
from tests.support.services import ClickHouseEndpoint


@pytest.fixture
def ingest_config(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    ch_database: str,
    clickhouse_endpoint: ClickHouseEndpoint,
) -> IngestConfig:
    """Settings on this test's own topics, group and database; small, fast batches."""
    return quick_worker_config(
        kafka_bootstrap,
        topic_factory("raw"),
        topic_factory("dlq"),
        clickhouse_endpoint,
        ch_database,
    )


@pytest.fixture
def start_worker() -> Iterator[Callable[..., RunningWorker]]:
    """Starts workers in threads; stops any still running at teardown."""
    running: list[RunningWorker] = []

    def start(
        config: IngestConfig, enrich: EnrichConfig = ENRICH, **overrides: Any
    ) -> RunningWorker:
        metrics = RecordingMetrics()
        result: list[int] = []
        ready = threading.Event()
        holder: list[Worker] = []

        def body() -> None:
            with open_worker(replace(config, **overrides), enrich, metrics) as worker:
                holder.append(worker)
                ready.set()
                result.append(worker.run())

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        assert ready.wait(30), "worker did not start"
        handle = RunningWorker(holder[0], thread, metrics, result)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        if handle.thread.is_alive():
            handle.stop()
