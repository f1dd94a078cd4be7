"""End to end: the seed's example event through Kafka and the ingest worker, out of the API.

The worker is the ingest engineer's (`ingest.worker.open_worker`), run in a thread on this
test's own topics and database, with the MaxMind test GeoIP database (tests/support/ingest.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from query_api import tokens
from tests.query_api import visits
from tests.query_api.test_visitors import seed_browser_details
from tests.support.api import AppFactory, now_ms
from tests.support.ingest import RunningWorker, quick_worker_config
from tests.support.services import ClickHouseEndpoint

SEED = (visits.EXAMPLES / "seed-visit.json").read_bytes()
SEED_JSON = json.loads(SEED)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.partitions_for(topic)  # blocks until the topic has metadata (and a leader)
    for value in values:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()


@pytest.fixture
def worker_topic(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    ch_database: str,
    clickhouse_endpoint: ClickHouseEndpoint,
    start_worker: Callable[..., RunningWorker],
) -> str:
    """An ingest worker consuming a fresh topic into this test's database; its topic."""
    raw = topic_factory("raw")
    config = quick_worker_config(
        kafka_bootstrap, raw, topic_factory("dlq"), clickhouse_endpoint, ch_database,
        batch_max_rows=100,
    )  # fmt: skip
    start_worker(config)  # stopped at teardown
    return raw


def test_seed_event_through_kafka_comes_back_from_the_api(
    worker_topic: str,
    kafka_bootstrap: str,
    app_factory: AppFactory,
    ch_client: Any,
    ch_database: str,
) -> None:
    def execute(sql: str, params: Any) -> Any:
        return ch_client.execute(sql, params)

    _, secret = tokens.create(execute, ch_database, SEED_JSON["workspaceId"], "e2e")
    recent = now_ms() - 5_000
    # The seed verbatim (2019, an IP the test GeoIP database does not know), and the same
    # visitor today from an address it does know.
    located = {**SEED_JSON, "requestId": "located.1", "timestamp": recent, "ip": visits.KNOWN_IP}
    publish(kafka_bootstrap, worker_topic, [SEED, json.dumps(located).encode()])
    api: httpx.Client = app_factory()
    headers = {"Auth-Token": secret}
    path = f"/visitors/{SEED_JSON['visitorId']}"

    def stored() -> bool:
        return (
            len(api.get(path, headers=headers, params={"from": "0"}).json().get("visits", [])) == 2
        )

    wait_until(stored, "both visits readable through the API")
    body = api.get(path, headers=headers, params={"from": "0"}).json()
    newest, seed = body["visits"]
    assert seed["requestId"] == SEED_JSON["requestId"]
    assert {k: seed[k] for k in ("incognito", "linkedId", "time", "url", "ip")} == {
        "incognito": True,
        "linkedId": "somelinkedId",
        "time": "2019-05-21T16:40:13Z",
        "url": "https://www.example.com/login",
        "ip": "61.127.217.15",
    }
    assert seed["browserDetails"] == seed_browser_details()
    assert "ipLocation" not in seed  # unknown to the test database: nothing invented
    assert newest["browserDetails"] == seed_browser_details()
    with visits.enricher() as enricher:
        expected = enricher.geo.location(visits.KNOWN_IP)
    assert expected is not None
    assert newest["ipLocation"]["city"] == {"name": "London"}
    assert newest["ipLocation"]["accuracyRadius"] == expected.accuracy_radius
    assert (newest["ipLocation"]["latitude"], newest["ipLocation"]["longitude"]) == (
        expected.latitude,
        expected.longitude,
    )
    # Default window (last 10 days) shows only today's visit.
    assert [v["requestId"] for v in api.get(path, headers=headers).json()["visits"]] == [
        "located.1"
    ]

    # Erase, then replay the same Kafka messages: the visitor stays erased.
    assert api.delete(path, headers=headers).status_code == 200
    publish(kafka_bootstrap, worker_topic, [SEED, json.dumps(located).encode()])
    marker = {**SEED_JSON, "visitorId": "marker", "requestId": "m.1", "timestamp": now_ms()}
    publish(kafka_bootstrap, worker_topic, [json.dumps(marker).encode()])
    wait_until(
        lambda: api.get("/visitors/marker", headers=headers).status_code == 200,
        "the worker to get past the replayed messages",
    )
    gone = api.get(path, headers=headers, params={"from": "0"})
    assert (gone.status_code, gone.json()) == (404, {"visitorId": SEED_JSON["visitorId"]})


def test_a_v4_patch_outlives_a_replay_of_its_kafka_message(
    worker_topic: str,
    kafka_bootstrap: str,
    app_factory: AppFactory,
    ch_client: Any,
    ch_database: str,
) -> None:
    def execute(sql: str, params: Any) -> Any:
        return ch_client.execute(sql, params)

    _, secret = tokens.create(execute, ch_database, SEED_JSON["workspaceId"], "e2e")
    event = {**SEED_JSON, "requestId": "patched.1", "timestamp": now_ms() - 5_000}
    message = json.dumps(event).encode()
    publish(kafka_bootstrap, worker_topic, [message])
    api: httpx.Client = app_factory()
    v4 = {"Authorization": f"Bearer {secret}"}
    wait_until(
        lambda: api.get("/v4/events/patched.1", headers=v4).status_code == 200,
        "the event readable through v4",
    )
    change = {"linked_id": "after", "tags": {"k": "v"}, "suspect": True}
    assert api.patch("/v4/events/patched.1", json=change, headers=v4).status_code == 200
    # The same message again (a replay), twice (a redelivery), then a marker to know the
    # worker got past them; then merges.
    marker = {**SEED_JSON, "visitorId": "marker", "requestId": "m.2", "timestamp": now_ms()}
    publish(kafka_bootstrap, worker_topic, [message, message, json.dumps(marker).encode()])
    wait_until(
        lambda: api.get("/v4/events/m.2", headers=v4).status_code == 200,
        "the worker to get past the replayed messages",
    )
    ch_client.execute("OPTIMIZE TABLE visits FINAL")
    ch_client.execute("OPTIMIZE TABLE event_updates FINAL")
    got = api.get("/v4/events/patched.1", headers=v4).json()
    assert (got["linked_id"], got["tags"], got["suspect"]) == ("after", {"k": "v"}, True)
    v3 = api.get(f"/visitors/{SEED_JSON['visitorId']}", headers={"Auth-Token": secret}).json()[
        "visits"
    ]
    assert [(x["requestId"], x["linkedId"], x["tag"]) for x in v3] == [
        ("patched.1", "after", {"k": "v"})
    ]
    found = api.get("/v4/events", params={"linked_id": "after"}, headers=v4).json()["events"]
    assert [e["event_id"] for e in found] == ["patched.1"]
