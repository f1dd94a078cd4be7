"""Group churn: members join and leave while visits stream in; none gets stuck, none is lost.

Every join or leave rebalances the group (eager protocol: every member revokes everything and
rejoins), so this exercises the revoke path (in-flight batches dropped uncommitted and read
again) and kafka-python's join handling under a busy machine (see
``ingest.kafka_clients._keep_completed_joins``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from ingest.config import IngestConfig
from tests.support.ingest import RunningWorker, committed, produce, raw_event, wait_until

PARTITIONS = 6
EVENTS = 3000
STEP = 100
Start = Callable[..., RunningWorker]


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
    finally:
        consumer.close(autocommit=False)
    return {tp.partition: int(offset) for tp, offset in ends.items()}


def _all_committed(config: IngestConfig, ends: dict[int, int]) -> bool:
    return all(
        committed(config.kafka_bootstrap, config.group, config.topic, p) == end
        for p, end in ends.items()
    )


def _shared(members: list[RunningWorker]) -> bool:
    """Each member holds partitions, and together all of them once."""
    try:  # read from this thread while the member's IO thread may replace the set
        held = [sorted(tp.partition for tp in m.worker.consumer.assignment()) for m in members]
    except RuntimeError:
        return False
    return all(held) and sorted(p for h in held for p in h) == list(range(PARTITIONS))


def test_members_joining_and_leaving_lose_nothing_and_none_gets_stuck(
    ingest_config: IngestConfig,
    start_worker: Start,
    ch_client: Any,
    topic_factory: Callable[..., str],
) -> None:
    config = replace(
        ingest_config,
        topic=topic_factory("churn", PARTITIONS),
        # The broker's floor: a member that stops heartbeating is dropped within seconds.
        kafka_session_timeout_ms=6_000,
        kafka_heartbeat_interval_ms=1_000,
    )
    ids = [f"c{i:05d}" for i in range(EVENTS)]

    def publish() -> None:  # spread over the churn below
        for start in range(0, EVENTS, STEP):
            produce(
                config.kafka_bootstrap,
                config.topic,
                [raw_event(r) for r in ids[start : start + STEP]],
            )
            time.sleep(0.4)

    publisher = threading.Thread(target=publish, daemon=True)
    members = [start_worker(config), start_worker(config)]
    publisher.start()
    for _ in range(4):
        members.append(start_worker(config))
        time.sleep(1.5)
        leaving = members.pop(0)
        assert leaving.stop(60) == 0
        time.sleep(1.5)
    publisher.join(60)
    assert not publisher.is_alive()

    ends = _end_offsets(config.kafka_bootstrap, config.topic)
    assert sum(ends.values()) == EVENTS
    # No member stuck mid-rebalance: the two left hold every partition between them, once,
    # and the group commits the end of each partition.
    wait_until(
        lambda: _shared(members),
        timeout=90,
        what="the remaining members to share all partitions",
    )
    wait_until(lambda: _all_committed(config, ends), timeout=90, what="every partition committed")
    assert [m.stop(60) for m in members] == [0, 0]

    db = config.clickhouse.database
    stored = {r[0] for r in ch_client.execute(f"SELECT DISTINCT request_id FROM {db}.visits")}
    assert stored == set(ids)
    # Readers deduplicate copies of re-read batches: each visit once.
    seen = ch_client.execute(
        f"SELECT request_id FROM {db}.visits WHERE tenant = 'acme' "
        "ORDER BY timestamp_ms DESC, request_id DESC LIMIT 1 BY request_id"
    )
    assert sorted(r[0] for r in seen) == ids
