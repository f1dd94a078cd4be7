"""kafka-python clients configured for this project (the only ``kafka`` import in ingest).

Consumer settings and why:
- ``enable_auto_commit=False``: kafka-python turns auto-commit on by default, which would commit
  offsets of rows ClickHouse has not acknowledged. The worker commits itself, after inserts.
- ``auto_offset_reset="earliest"``: a new group starts at the beginning of the topic; a visit
  published before the first worker started must not be skipped.
- ``max_poll_records`` and ``fetch_max_bytes`` sized so one poll feeds a large share of a batch
  while memory stays bounded (a poll result is at most ``max_poll_records`` messages).
- ``metadata_max_age_ms`` 30 s: partitions added to the topic get consumers soon.
- ``max_poll_interval_ms`` (5 min, ``VH_KAFKA_MAX_POLL_INTERVAL_MS``): the worker polls at least
  every ``poll_timeout`` even while ClickHouse is down (partitions paused), so only a wedged
  process is evicted from the group. It is also the rebalance timeout the broker waits for
  members to rejoin.
- ``session_timeout_ms`` / ``heartbeat_interval_ms`` (30 s / 3 s, ``VH_KAFKA_SESSION_TIMEOUT_MS``
  / ``VH_KAFKA_HEARTBEAT_INTERVAL_MS``): a member killed without leaving the group holds its
  partitions, and stalls every rebalance, until its session expires; shorter sessions recover
  faster from crashes at the cost of evicting members that pause longer (GC, swapped out).
Producer (DLQ, replay, demo): ``acks="all"`` and idempotence, so an acknowledged dead letter
is durable and a retried send is not duplicated by the broker.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from ingest.config import IngestConfig

__all__ = [
    "ConsumerRebalanceListener",
    "KafkaConsumer",
    "KafkaProducer",
    "TopicPartition",
    "commit_offsets",
    "make_consumer",
    "make_producer",
]


def make_consumer(config: IngestConfig, *, client_id: str = "vh-ingest") -> Any:
    """A group consumer (not yet subscribed) for ``config.topic``. Raises on a bad bootstrap."""
    return KafkaConsumer(
        bootstrap_servers=config.kafka_bootstrap,
        group_id=config.group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=config.max_poll_records,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        max_poll_interval_ms=config.kafka_max_poll_interval_ms,
        session_timeout_ms=config.kafka_session_timeout_ms,
        heartbeat_interval_ms=config.kafka_heartbeat_interval_ms,
        # Partitions added to the topic are picked up within 30 s (default 5 min).
        metadata_max_age_ms=30_000,
    )


def make_producer(config: IngestConfig, *, client_id: str = "vh-ingest", **extra: Any) -> Any:
    """A durable producer (``acks=all``, idempotent). ``extra`` overrides settings (tuning)."""
    settings: dict[str, Any] = {
        "bootstrap_servers": config.kafka_bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 20,
        "max_request_size": 2 * 1024 * 1024,
    }
    settings.update(extra)
    return KafkaProducer(**settings)


def commit_offsets(
    consumer: Any, offsets: dict[tuple[str, int], int], *, wait: bool = True
) -> None:
    """Commit ``{(topic, partition): next offset to read}``.

    ``wait=False`` sends the commit without waiting (the only kind allowed inside a rebalance
    listener, which kafka-python 3 runs on its IO thread); its errors are logged by
    kafka-python and otherwise ignored.
    Raises:
        kafka.errors.KafkaError: (wait=True) the group coordinator refused the commit.
    """
    request = {
        TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)
        for (topic, partition), offset in offsets.items()
    }
    if wait:
        consumer.commit(request)
    else:
        consumer.commit_async(request)
