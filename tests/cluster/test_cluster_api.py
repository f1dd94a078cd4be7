"""The API on the cluster keeps its guarantees: a walk returns a visitor's history exactly
once, GET /events finds a request on whichever shard holds it, an erasure hides the visitor
at once and its mutations reach the shard's replicas, another tenant's token sees nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingest.writer import ClickHouseWriter
from query_api import tokens
from query_api.app import create_app
from query_api.config import ApiConfig
from schemas.clickhouse.tables import shard_of
from tests.faults.pages import all_visits
from tests.query_api import visits
from tests.support.api import LiveServer, wait_ready
from tests.support.cluster import Nodes
from tests.support.faults import wait_until


@pytest.fixture
def served(loopback: Nodes, cluster_db: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    client = loopback.client(0, cluster_db)
    try:
        secrets = {
            t: tokens.create(lambda s, p: client.execute(s, p), cluster_db, t, "cluster api")[1]
            for t in ("acme", "globex")
        }
    finally:
        client.disconnect()
    env = {**loopback.environ(cluster_db, first=1), "VH_API_TOKEN_REFRESH_SECONDS": "0.2"}
    server = LiveServer(create_app(ApiConfig.from_env(env)))
    http = httpx.Client(base_url=server.start(), timeout=30)
    try:
        wait_ready(http)
        yield http, secrets
    finally:
        http.close()
        server.stop()


def _store(loopback: Nodes, database: str, rows: list[Any]) -> None:
    s = loopback.settings(database)
    with ClickHouseWriter(
        s.host, s.port, database=database, cluster=s.cluster, alt_hosts=s.alt_hosts
    ) as writer:
        writer.insert_visits(visits.worker_rows(rows, writer.features()), "api-0")
    # Ingestion is asynchronous anyway; the guarantees tested here are about reads once the
    # visits are stored, on either replica.
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            for table in ("visits_local", "visitor_summary_local", "request_index_local"):
                client.execute(f"SYSTEM SYNC REPLICA {database}.{table}")
        finally:
            client.disconnect()


def test_paging_events_erasure_and_tenants_on_the_cluster(
    loopback: Nodes, cluster_db: str, served: tuple[httpx.Client, dict[str, str]]
) -> None:
    http, secrets = served
    now = int(time.time() * 1000) // 1000 * 1000 + 457
    # Many visitors, so both shards hold some; "walker" has 53 visits, two with one timestamp.
    made = [visits.visit("acme", f"p{i:02d}", now - i, f"p-{i:02d}") for i in range(40)]
    made += [visits.visit("acme", "walker", now - 1000 * (i // 2), f"w-{i:03d}") for i in range(53)]
    _store(loopback, cluster_db, made)
    acme = {"Auth-API-Key": secrets["acme"]}

    seen: list[str] = []
    params: dict[str, str] = {"from": "0", "limit": "7"}
    while True:
        page = http.get("/visitors/walker", headers=acme, params=params).json()
        seen += [v["requestId"] for v in page["visits"]]
        if "paginationKey" not in page:
            break
        params = {**params, "paginationKey": page["paginationKey"]}
    assert sorted(seen) == sorted(f"w-{i:03d}" for i in range(53)) and len(seen) == 53

    for i in (0, 17, 39):  # on whichever shard: the Distributed request index finds it
        event = http.get(f"/events/p-{i:02d}", headers=acme)
        assert event.status_code == 200, event.text
        data = event.json()["products"]["identification"]["data"]
        assert data["visitorId"] == f"p{i:02d}"

    status, leaked = all_visits(http, "walker", {"Auth-API-Key": secrets["globex"]})
    assert status == 404 and leaked == []

    assert http.delete("/visitors/walker", headers=acme).status_code == 200
    assert http.get("/visitors/walker", headers=acme).status_code == 404  # at once

    def gone_everywhere() -> bool:
        return sum(_walker_rows(loopback, cluster_db)) == 0

    wait_until(gone_everywhere, 60, "the erasure's mutations on every replica")
    assert http.get("/visitors/p05", headers=acme).status_code == 200  # others untouched


def _walker_rows(loopback: Nodes, database: str) -> list[int]:
    counts = []
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            found = client.execute(
                f"SELECT count() FROM {database}.visits_local WHERE visitor_id = 'walker'"
            )
            counts.append(int(found[0][0]))
        finally:
            client.disconnect()
    return counts


def test_v4_search_patch_and_get_across_shards(
    loopback: Nodes, cluster_db: str, served: tuple[httpx.Client, dict[str, str]]
) -> None:
    """A v4 search by linked id gathers events of visitors on both shards (through the
    Distributed event_index), exactly once; a PATCH shows on the next read of the event."""
    http, secrets = served
    now = int(time.time() * 1000)
    rows = [
        visits.visit("acme", f"v{i:02d}", now - 60_000 + i, f"v4-{i:02d}", linked_id="shared")
        for i in range(20)
    ]
    _store(loopback, cluster_db, rows)
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            client.execute(f"SYSTEM SYNC REPLICA {cluster_db}.event_index_local")
        finally:
            client.disconnect()
    assert len({shard_of(r.visitor_id, 2) for r in rows}) == 2  # both shards hold some
    bearer = {"Authorization": f"Bearer {secrets['acme']}"}
    found = http.get("/v4/events", params={"linked_id": "shared", "limit": 100}, headers=bearer)
    assert found.status_code == 200, found.text
    ids = [e["event_id"] for e in found.json()["events"]]
    assert sorted(ids) == sorted(r.request_id for r in rows)
    other = {"Authorization": f"Bearer {secrets['globex']}"}
    assert (
        http.get("/v4/events", params={"linked_id": "shared"}, headers=other).json()["events"] == []
    )
    patched = http.patch("/v4/events/v4-07", json={"suspect": True}, headers=bearer)
    assert patched.status_code == 200, patched.text
    event = http.get("/v4/events/v4-07", headers=bearer).json()
    assert event["suspect"] is True and event["identification"]["visitor_id"] == "v07"
