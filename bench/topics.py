"""Kafka side of the ingestion benchmark: a pre-filled topic of demo events, and offsets.

The topic is filled once per run with the demo producer's generator (``vh.demo``: Zipf
visitors, real-world user agents, addresses the GeoIP database locates), keyed by visitorId
like the edge collectors do, then every measured consumer reads the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from enrich.config import EnrichConfig
from vh import demo


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create ``name`` with ``partitions`` partitions (replication 1: one local broker)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete the run's topics; a failure only leaves a topic behind, so it is swallowed."""
    if not names:
        return
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics(names)
    except Exception as exc:  # cleanup must not hide the results
        print(f"  (could not delete topics {names}: {exc})", flush=True)
    finally:
        admin.close()


def fill(
    bootstrap: str,
    topic: str,
    count: int,
    enrich: EnrichConfig,
    *,
    visitors: int,
    seed: int = 7,
    progress: Callable[[int], None] = lambda _n: None,
) -> tuple[int, float]:
    """Publish ``count`` demo events; returns (bytes of values, seconds taken).

    The producer is tuned for throughput (large batches, ``acks=1``): this is set-up, not a
    measured figure, and the broker is local.
    """
    generator = demo.located_generator(enrich, ips=2_000, visitors=visitors, seed=seed)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="vh-bench-fill",
        acks=1,
        linger_ms=50,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    sent = size = 0
    start = time.perf_counter()
    try:
        for key, value in generator.messages():
            producer.send(topic, key=key, value=value)
            size += len(value)
            sent += 1
            if sent % 20_000 == 0:
                progress(sent)
            if sent >= count:
                break
        producer.flush()
    finally:
        producer.close()
    progress(sent)
    return size, time.perf_counter() - start


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """{partition: end offset} of ``topic``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="vh-bench-offsets")
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


class CommitWatcher:
    """Reads a group's committed offsets of one topic (admin API, no group membership)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="vh-bench-watch")

    def committed(self, group: str) -> int:
        """Sum of the group's committed offsets on the topic (0 before any commit)."""
        found: dict[str, dict[Any, Any]] = self._admin.list_group_offsets(group)
        offsets = found.get(group, {})
        return sum(
            meta.offset
            for tp, meta in offsets.items()
            if tp.topic == self.topic and meta.offset > 0
        )

    def close(self) -> None:
        self._admin.close()
