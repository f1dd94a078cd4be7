"""A dead-letter topic that cannot take letters, on the real broker: refused at start-up with
what to fix, or, when it starts refusing later, a stop with exit code 4 after a bounded
number of attempts, nothing committed past the letter."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from ingest.assembly import open_worker
from ingest.config import IngestConfig
from ingest.flow import EXIT_DLQ_UNWRITABLE
from ingest.startup import NotReady
from tests.support.ingest import ENRICH, RunningWorker, committed, produce, raw_event

ROOT = Path(__file__).parents[2]
BAD = (ROOT / "schemas/examples/invalid/schema.json").read_bytes()


def test_a_missing_dlq_topic_stops_the_worker_at_start_saying_how_to_create_it(
    ingest_config: IngestConfig,
) -> None:
    config = replace(ingest_config, dlq_topic=f"{ingest_config.topic}-no-such-dlq")
    with (
        pytest.raises(NotReady, match=r"does not exist on .*create it"),
        open_worker(config, ENRICH, _no_metrics()),
    ):
        pass


def test_a_dlq_topic_too_small_for_a_letter_is_refused_at_start(
    ingest_config: IngestConfig, kafka_bootstrap: str
) -> None:
    name = f"{ingest_config.topic}-tiny-dlq"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 1, topic_configs={"max.message.bytes": "512"})])
    finally:
        admin.close()
    with (
        pytest.raises(NotReady, match="at most 512 bytes"),
        open_worker(replace(ingest_config, dlq_topic=name), ENRICH, _no_metrics()),
    ):
        pass


def test_a_dlq_that_starts_refusing_letters_stops_the_worker_after_bounded_attempts(
    ingest_config: IngestConfig,
    kafka_bootstrap: str,
    start_worker: Callable[..., RunningWorker],
) -> None:
    boot, topic = ingest_config.kafka_bootstrap, ingest_config.topic
    handle = start_worker(ingest_config, dlq_max_attempts=3)
    # Accepted at start; then the topic stops taking letters of this size (the broker refuses
    # each send with MESSAGE_TOO_LARGE, which no retry fixes).
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    ingest_config.dlq_topic,
                    {"max.message.bytes": "200"},
                )
            ]
        )
    finally:
        admin.close()
    time.sleep(2)  # the broker applies topic configs asynchronously
    produce(boot, topic, [raw_event("ok-0"), BAD, raw_event("ok-2")])
    handle.thread.join(60)
    assert not handle.thread.is_alive(), "the worker kept retrying a letter the DLQ refuses"
    assert handle.result == [EXIT_DLQ_UNWRITABLE]
    assert handle.metrics.counter("vh_ingest_dlq_failures_total") == 3
    assert handle.metrics.gauges[("vh_ingest_dlq_unwritable", ())] == 1
    offset = committed(boot, ingest_config.group, topic)
    assert offset is None or offset <= 1  # never past the refused letter


def _no_metrics() -> Any:
    from ingest.metrics import NoMetrics

    return NoMetrics()


@pytest.mark.faults
def test_a_dlq_topic_this_worker_may_not_write_is_refused_at_start(
    ingest_config: IngestConfig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A private broker with Kafka's StandardAuthorizer: everything allowed where no ACL
    exists; the DLQ topic readable and describable (ACLs exist for it, so only what they
    allow is) by the (anonymous) plaintext principal, and its WRITE denied."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ResourcePattern,
        ResourceType,
    )

    from deploy.local import kafka as local_kafka
    from tests.support.services import private_stack_settings

    stack = private_stack_settings(tmp_path_factory.mktemp("acl-broker"), clickhouse=False)
    authorizer = {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "true",
    }
    try:
        local_kafka.start(stack, extra=authorizer)
        boot = stack.kafka_bootstrap
        config = replace(ingest_config, kafka_bootstrap=boot)
        admin = KafkaAdminClient(bootstrap_servers=boot)
        try:
            admin.create_topics([NewTopic(config.topic, 1, 1), NewTopic(config.dlq_topic, 1, 1)])
            dlq = ResourcePattern(ResourceType.TOPIC, config.dlq_topic)
            acls = [
                ACL("User:ANONYMOUS", "*", operation, permission, dlq)
                for operation, permission in (
                    (ACLOperation.DESCRIBE, ACLPermissionType.ALLOW),
                    (ACLOperation.READ, ACLPermissionType.ALLOW),
                    (ACLOperation.WRITE, ACLPermissionType.DENY),
                )
            ]
            assert not admin.create_acls(acls)["failed"]
        finally:
            admin.close()
        with (
            pytest.raises(NotReady, match="may not write to dead-letter topic"),
            open_worker(config, ENRICH, _no_metrics()),
        ):
            pass
    finally:
        local_kafka.stop(stack)


def test_a_topic_created_again_has_a_new_id_for_the_insert_tokens(kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer

    from ingest.kafka_clients import topic_id

    name = f"vh-test-incarnation-{time.time_ns()}"
    ids = []
    for _ in range(2):
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.create_topics([NewTopic(name, 1, 1)])
            consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
            try:
                consumer.topics()
                ids.append(topic_id(consumer, name))
            finally:
                consumer.close()
            admin.delete_topics([name])
        finally:
            admin.close()
        time.sleep(1)  # deletion completes asynchronously
    assert ids[0] and ids[1] and ids[0] != ids[1]
