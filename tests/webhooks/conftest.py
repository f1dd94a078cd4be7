"""Fixtures of the webhook tests: loopback receivers, the webhooks' store on this test's
database, and settings for a quick process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from schemas.enriched_stream import EnrichedStreamSettings
from schemas.env import ClickHouseSettings
from tests.ingest.conftest import start_worker  # noqa: F401 (a fixture, re-exported)
from tests.support.receiver import Behaviour, Receiver, start_receiver
from tests.support.services import ClickHouseEndpoint
from webhooks.config import WebhooksConfig
from webhooks.store import ClickHouseStore


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(**behaviour: object) -> Receiver:
        receiver = start_receiver(Behaviour(**behaviour))  # type: ignore[arg-type]
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def wh_config(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    ch_database: str,
    clickhouse_endpoint: ClickHouseEndpoint,
) -> WebhooksConfig:
    """Loopback allowed, short timeouts and retries, this test's topic, group and database."""
    topic = topic_factory("enriched", partitions=2)
    return replace(
        WebhooksConfig(),
        kafka_bootstrap=kafka_bootstrap,
        enriched=EnrichedStreamSettings(topic=topic),
        clickhouse=ClickHouseSettings(
            clickhouse_endpoint.host, clickhouse_endpoint.port, database=ch_database
        ),
        group=f"{topic}-webhooks",
        timeout_seconds=1.0,
        retry_for_seconds=2.0,
        retry_initial_seconds=0.05,
        retry_max_seconds=0.3,
        allow_private=True,
        refresh_seconds=0.2,
        metrics_port=0,
    )


@pytest.fixture
def wh_store(wh_config: WebhooksConfig) -> Iterator[ClickHouseStore]:
    with ClickHouseStore(wh_config.clickhouse) as store:
        yield store
