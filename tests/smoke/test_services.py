"""The services the suite runs against are real: a Kafka broker, a ClickHouse server, chdb."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from schemas.clickhouse.migrations import ServerFeatures
from tests.support.services import ChdbSession, ClickHouseEndpoint

DDL = """
CREATE TABLE {db}.smoke (id UInt64, name String, at DateTime)
ENGINE = MergeTree() PARTITION BY toYYYYMM(at) ORDER BY id
"""


def test_kafka_round_trip(kafka_bootstrap: str, topic_factory: Callable[..., str]) -> None:
    topic = topic_factory("smoke", partitions=3)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent = {f"k{i}".encode(): f"v{i}".encode() for i in range(30)}
    for key, value in sent.items():
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"smoke-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15000,
    )
    received = {}
    for message in consumer:
        received[message.key] = message.value
        if len(received) == len(sent):
            break
    partitions = consumer.partitions_for_topic(topic)
    consumer.close()
    assert received == sent
    assert partitions == {0, 1, 2}


def _merge_tree_round_trip(execute: Callable[[str], Any], db: str) -> list[tuple[Any, ...]]:
    execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    execute(DDL.format(db=db))
    execute(
        f"INSERT INTO {db}.smoke SELECT number, concat('n', toString(number)), "
        "toDateTime('2026-01-01 00:00:00') + number * 86400 FROM system.numbers LIMIT 100"
    )
    rows = list(
        execute(f"SELECT count(), sum(id), uniqExact(toYYYYMM(at)) FROM {db}.smoke WHERE id >= 10")
    )
    execute(f"DROP DATABASE {db}")
    return rows


def test_clickhouse_server_merge_tree(clickhouse_endpoint: ClickHouseEndpoint) -> None:
    client = clickhouse_endpoint.client()
    version = client.execute("SELECT version()")[0][0]
    assert ServerFeatures.from_version(version).version >= (18, 16)

    db = f"smoke_{uuid.uuid4().hex[:8]}"
    client.execute(f"CREATE DATABASE {db}")
    client.execute(DDL.format(db=db))
    # clickhouse-driver's columnar insert: the path the worker uses.
    client.execute(
        f"INSERT INTO {db}.smoke (id, name, at) VALUES",
        [[1, 2, 3], ["a", "b", "c"], [datetime(2026, 1, 1)] * 3],
        columnar=True,
    )
    assert client.execute(f"SELECT id, name FROM {db}.smoke ORDER BY id") == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]
    client.execute(f"DROP DATABASE {db}")

    rows = _merge_tree_round_trip(client.execute, f"smoke_{uuid.uuid4().hex[:8]}")
    assert [tuple(int(v) for v in r) for r in rows] == [(90, 4905, 4)]
    client.disconnect()


def test_chdb_is_a_current_engine_and_runs_the_same_ddl(chdb_session: ChdbSession) -> None:
    version = chdb_session.execute("SELECT version()")[0][0]
    features = ServerFeatures.from_version(version)
    assert features.version >= (25,)
    assert features.modern_types and features.insert_dedup_token

    rows = _merge_tree_round_trip(chdb_session.execute, f"smoke_{uuid.uuid4().hex[:8]}")
    assert [tuple(int(v) for v in r) for r in rows] == [(90, 4905, 4)]
