"""kafka-python clients configured for this project (with ``kafka_workarounds``, the only
``kafka`` imports in ingest).

Consumer settings and why:
- ``enable_auto_commit=False``: kafka-python turns auto-commit on by default, which would commit
  offsets of rows ClickHouse has not acknowledged. The worker commits itself, after inserts.
- ``auto_offset_reset="earliest"``: a new group starts at the beginning of the topic; a visit
  published before the first worker started must not be skipped.
- ``max_poll_records`` and ``fetch_max_bytes`` sized so one poll feeds a large share of a batch
  while memory stays bounded (a poll result is at most ``max_poll_records`` messages).
- ``max_partition_fetch_bytes`` 1 MiB (the broker default) and ``fetch_max_bytes`` 16 MiB:
  kafka-python keeps each partition's fetched bytes and decoded records until polled, so these
  bound the client's memory. At 8 / 64 MiB a bare consumer of a 6-partition topic peaked at
  ~250 MiB RSS and the worker above 300 MiB; at 1 / 16 MiB, 76 and ~230 MiB, with the same
  throughput (docs/benchmarks.md).
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

import logging
import time
from typing import Any

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, UnknownTopicOrPartitionError
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.structs import MemberState, OffsetAndMetadata

from ingest.config import IngestConfig
from ingest.dlq import TopicState
from ingest.kafka_workarounds import close_failed_connects

close_failed_connects()

__all__ = [
    "ConsumerRebalanceListener",
    "KafkaConsumer",
    "KafkaError",
    "KafkaProducer",
    "TopicPartition",
    "commit_offsets",
    "describe_topic",
    "make_consumer",
    "make_producer",
    "record_size",
    "topic_id",
    "wait_for_partitions",
]

logger = logging.getLogger(__name__)


def make_consumer(config: IngestConfig, *, client_id: str = "vh-ingest") -> Any:
    """A group consumer (not yet subscribed) for ``config.topic``. Raises on a bad bootstrap."""
    consumer = KafkaConsumer(
        bootstrap_servers=config.kafka_bootstrap,
        group_id=config.group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=config.max_poll_records,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=1024 * 1024,
        max_poll_interval_ms=config.kafka_max_poll_interval_ms,
        session_timeout_ms=config.kafka_session_timeout_ms,
        heartbeat_interval_ms=config.kafka_heartbeat_interval_ms,
        # Partitions added to the topic are picked up within 30 s (default 5 min).
        metadata_max_age_ms=30_000,
    )
    _keep_completed_joins(consumer)
    return consumer


#: The producers' ``max_request_size``: the largest record they send.
MAX_REQUEST_SIZE = 2 * 1024 * 1024


def make_producer(config: IngestConfig, *, client_id: str = "vh-ingest", **extra: Any) -> Any:
    """A durable producer (``acks=all``, idempotent). ``extra`` overrides settings (tuning)."""
    settings: dict[str, Any] = {
        "bootstrap_servers": config.kafka_bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 20,
        "max_request_size": MAX_REQUEST_SIZE,
    }
    settings.update(extra)
    return KafkaProducer(**settings)


def record_size(key: bytes | None, value: bytes, headers: Any) -> int:
    """kafka-python's own upper bound of a record's size in a batch of its own: the figure
    its producer checks against ``max_request_size`` (and the broker, in effect, against
    ``max.message.bytes``)."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    return size


def describe_topic(bootstrap: str, topic: str) -> TopicState:
    """Whether ``topic`` exists, what this client may do with it (the broker's authorized
    operations, KIP-430) and its size limit (its ``max.message.bytes``, else the broker's,
    capped by our producers' ``max_request_size``): all from metadata, nothing written.

    Raises:
        kafka.errors.KafkaError: the broker cannot be reached.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="vh-ingest-admin")
    try:
        (found,) = admin.describe_topics([topic])
        code = int(found.get("error_code", 0))
        if code not in (0, UnknownTopicOrPartitionError.errno):
            return TopicState(False, frozenset(), None, kafka.errors.for_code(code).__name__)
        operations = frozenset(found.get("authorized_operations") or ())
        if code:
            return TopicState(False, operations, None)
        try:
            configs = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})],
                config_filter="all",
            )
        except KafkaError:  # no DescribeConfigs permission: assume the broker's default
            logger.warning("cannot read max.message.bytes of %s", topic, exc_info=True)
            return TopicState(True, operations, None)
    finally:
        admin.close()
    entry = configs.get("topic", {}).get(topic, {}).get("max.message.bytes") or {}
    value = str(entry.get("value", ""))
    limit = min(int(value), MAX_REQUEST_SIZE) if value.isdigit() else None
    return TopicState(True, operations, limit)


def topic_id(consumer: Any, topic: str) -> str | None:
    """The topic's id (KIP-516 UUID, hex) from the consumer's metadata; None when unknown.

    kafka-python 3 keeps it in the cluster metadata without a public accessor on the
    consumer; read it there, here, so no other module reaches into the client.
    """
    cluster = getattr(getattr(consumer, "_client", None), "cluster", None)
    found = cluster.topic_id(topic) if cluster is not None else None
    return None if found is None else found.hex


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


def wait_for_partitions(consumer: Any, topic: str, timeout_s: float = 30.0) -> set[int]:
    """Fetch fresh metadata until ``topic`` has partitions; return them (empty on timeout).

    Call it right after ``subscribe()``, before the first ``poll()``. kafka-python's group
    leader compares the partitions it assigned from (a snapshot taken when the metadata last
    changed *while subscribed*) with later metadata, and rebalances the group when they
    differ. A consumer that fetched metadata before subscribing (or not at all) joins with an
    empty snapshot, and the first metadata response after the join triggers a second
    rebalance: the batch read meanwhile is dropped and read again (dead letters published
    twice). Likewise a topic created a moment ago may not be in the metadata yet. A blocking
    metadata fetch after subscribing makes the snapshot current before the first join.

    Raises:
        kafka.errors.KafkaError: the broker cannot be reached.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        consumer.topics()  # always a remote call; updates the coordinator's snapshot
        partitions: set[int] = consumer.partitions_for_topic(topic) or set()
        if partitions or time.monotonic() >= deadline:
            return partitions
        time.sleep(0.2)


def _keep_completed_joins(consumer: Any) -> None:
    """Work around kafka-python 3.0.x throwing away a group join completed between polls.

    ``BaseCoordinator.join_group_async`` runs JoinGroup -> SyncGroup as a task on the IO
    thread and awaits it only for the ``poll()`` timeout. When the task completes *after*
    that timeout but before the next ``poll()``, the next call sees a finished task and
    starts a new one: the assignment it carried is discarded and a new JoinGroup goes out.
    For the group leader that forces a new rebalance of the whole group (every member
    revokes and rejoins), and heartbeats stay disabled meanwhile; with short polls on a busy
    machine, several members doing this keep the group rebalancing. Here a successfully
    completed join is applied exactly as kafka-python would have applied it had the poll
    still been waiting (the same statements as the tail of ``join_group_async``). Failed
    tasks are left to kafka-python (it retries them). Applied per consumer, and only to the
    3.0 line whose internals this mirrors; other versions run unpatched (with a warning).
    """
    coordinator: Any = getattr(consumer, "_coordinator", None)
    if not kafka.__version__.startswith("3.0.") or not hasattr(coordinator, "_join_task"):
        logger.warning("kafka-python %s: completed-join workaround not applied", kafka.__version__)
        return
    original = coordinator.join_group_async

    async def join_group_async(timeout_ms: int | None = None) -> bool:
        task = coordinator._join_task
        if (
            task is not None
            and task.succeeded()
            and coordinator.rejoining
            and coordinator.state is MemberState.REBALANCING
        ):
            logger.info("applying a group join that completed between polls")
            coordinator._join_task = None
            with coordinator._lock:
                coordinator.rejoining = False
                coordinator.rejoin_needed = False
                coordinator.state = MemberState.STABLE
                coordinator._enable_heartbeat()
            generation = coordinator._generation
            await coordinator._on_join_complete_async(
                generation.generation_id, generation.member_id, generation.protocol, task.value
            )
            return True
        result: bool = await original(timeout_ms=timeout_ms)
        return result

    coordinator.join_group_async = join_group_async


def ensure_topics(
    bootstrap: str, partitions: dict[str, int], *, replication: int, min_insync: int
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created.

    The replication factor and ``min.insync.replicas`` are capped by the brokers there are
    (3 and 2 on a 3-broker cluster, 1 and 1 on the local single node): with ``acks=all`` a
    write is then acknowledged once ``min_insync`` replicas have it, so one broker may die
    without losing an acknowledged message and without stopping writes.

    Raises:
        kafka.errors.KafkaError: the broker cannot be reached or refused the creation.
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="vh-admin")
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        factor = max(1, min(replication, brokers))
        isr = max(1, min(min_insync, factor))
        existing = set(admin.list_topics())
        created = []
        for name, count in partitions.items():
            if name in existing:
                continue
            topic = NewTopic(name, count, factor, topic_configs={"min.insync.replicas": str(isr)})
            try:
                admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:  # another process created it meanwhile
                pass
        return created
    finally:
        admin.close()
