"""The only door from the webhooks side to Kafka (its only kafka-python import): a group
consumer of the enriched stream that commits only what it is told (never auto-commit: an
offset is committed once every delivery up to it is settled, ``webhooks.offsets``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

logger = logging.getLogger(__name__)

Key = tuple[str, int]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, revoked: Callable[[list[Key]], None]) -> None:
        self._revoked = revoked

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._revoked([(tp.topic, tp.partition) for tp in revoked])

    def on_partitions_assigned(self, assigned: Any) -> None:
        logger.info(
            "partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned)}
        )


def open_consumer(
    bootstrap: str, group: str, topic: str, revoked: Callable[[list[Key]], None]
) -> Any:
    """A consumer of ``topic`` in ``group``, subscribed; ``revoked`` hears lost partitions.

    Raises:
        kafka.errors.KafkaError: the broker cannot be reached.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id="vh-webhooks",
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a new group delivers the stream from its start
        max_poll_records=500,
        # The broker answers a fetch at once when it has records, else after this: the
        # default 500 ms would be most of a webhook's latency at a low rate.
        fetch_max_wait_ms=50,
        metadata_max_age_ms=30_000,
    )
    consumer.subscribe([topic], listener=_Listener(revoked))
    return consumer


def poll(consumer: Any, timeout_ms: int, max_records: int) -> list[tuple[Key, Any]]:
    """Fetched records as ((topic, partition), record), in each partition's order."""
    batches = consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
    return [((tp.topic, tp.partition), r) for tp, records in batches.items() for r in records]


def pause(consumer: Any, paused: bool) -> None:
    """Stop (or resume) fetching every assigned partition; polls still heartbeat."""
    assigned = list(consumer.assignment())
    if paused:
        consumer.pause(*assigned)
    else:
        consumer.resume(*assigned)


def commit(consumer: Any, offsets: dict[Key, int]) -> None:
    """Commit ``{(topic, partition): next offset}``. Raises KafkaError when refused."""
    consumer.commit(
        {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}
    )


def close(consumer: Any) -> None:
    consumer.close(autocommit=False)
