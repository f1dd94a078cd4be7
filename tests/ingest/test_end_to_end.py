"""Kafka -> worker -> ClickHouse on the real broker and server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from enrich.config import EnrichConfig
from ingest.config import IngestConfig
from tests.support.ingest import (
    API_QUERY,
    ENRICH,
    NOW_MS,
    RunningWorker,
    committed,
    produce,
    raw_event,
    request_ids,
    wait_until,
)


def test_visits_flow_into_clickhouse_and_offsets_commit_after(
    ingest_config: IngestConfig, start_worker: Callable[..., RunningWorker], ch_client: Any
) -> None:
    ids = [f"r{i:04d}" for i in range(1200)]
    produce(ingest_config.kafka_bootstrap, ingest_config.topic, [raw_event(r) for r in ids])
    handle = start_worker(ingest_config)
    db = ingest_config.clickhouse.database
    wait_until(lambda: len(request_ids(ch_client, db)) >= len(ids), what="all visits stored")
    wait_until(
        lambda: (
            committed(ingest_config.kafka_bootstrap, ingest_config.group, ingest_config.topic)
            == len(ids)
        ),
        what="offsets committed",
    )
    assert handle.stop() == 0
    assert request_ids(ch_client, db) == ids
    page = ch_client.execute(
        API_QUERY.format(db=db),
        {"t": "acme", "v": "visitor-1", "lo": NOW_MS - 1, "hi": NOW_MS + 1, "n": 5},
    )
    assert [r[0] for r in page] == ["r1199", "r1198", "r1197", "r1196", "r1195"]
    assert page[0][2:] == ("81.2.69.160", "London")
    assert handle.metrics.counter("vh_ingest_events_stored_total") == len(ids)
    # A rebalance right after joining (metadata settling) may re-read one in-flight batch.
    assert handle.metrics.counter("vh_ingest_events_consumed_total") >= len(ids)


def test_enrichment_off_stores_the_raw_visit(
    ingest_config: IngestConfig, start_worker: Callable[..., RunningWorker], ch_client: Any
) -> None:
    """``VH_ENRICH=off``: visits are stored with the raw user agent and no location."""
    assert EnrichConfig.from_env({"VH_ENRICH": "off"}).enabled is False
    produce(ingest_config.kafka_bootstrap, ingest_config.topic, [raw_event("r1")])
    handle = start_worker(ingest_config, enrich=replace(ENRICH, enabled=False))
    db = ingest_config.clickhouse.database
    wait_until(lambda: request_ids(ch_client, db) == ["r1"], what="the visit stored")
    assert handle.stop() == 0
    row = ch_client.execute(
        f"SELECT ip, user_agent, browser_name, os, has_location, city_name FROM {db}.visits"
    )[0]
    assert row[0] == "81.2.69.160" and row[1].startswith("Mozilla/5.0")
    assert row[2:] == ("", "", 0, None)
