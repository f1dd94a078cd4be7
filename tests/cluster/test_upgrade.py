"""From one server to the cluster with its data: a single-node database on one node of the
loopback cluster (what `vh migrate` made before the cluster existed) is moved into the
cluster schema by `vh migrate --from-single-node`, and the API reads the same visitors,
tokens and erasures from the cluster afterwards. Nothing is read from Kafka."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from query_api import tokens
from query_api.app import create_app
from query_api.config import ApiConfig
from schemas.clickhouse import migrations
from tests.query_api import visits
from tests.support.api import LiveServer, wait_ready
from tests.support.cluster import CLUSTER, Nodes
from vh.main import main as vh


@pytest.fixture
def single_db(loopback: Nodes) -> Iterator[str]:
    name = f"vh_up_{uuid.uuid4().hex[:8]}"
    yield name
    client = loopback.client(0)
    with contextlib.suppress(Exception):
        client.execute(f"DROP DATABASE IF EXISTS {name} ON CLUSTER {CLUSTER}")
    with contextlib.suppress(Exception):
        client.execute(f"DROP DATABASE IF EXISTS {name}")
    client.disconnect()


def test_a_single_server_moves_into_the_cluster_with_its_data(
    loopback: Nodes, single_db: str
) -> None:
    old = loopback.client(0)
    try:
        # Before: the single-node schema and data on the node that joins as shard 1, r1.
        migrations.apply(old.execute, single_db, log=lambda _m: None)
        old.execute(f"USE {single_db}")
        now = int(time.time() * 1000) // 1000 * 1000 + 321
        stored = [
            visits.visit("acme", f"v{i % 60:02d}", now - 1000 * i, f"u-{i:04d}") for i in range(600)
        ]
        stored += [visits.visit("acme", "gone", now - 5_000, "u-gone")]
        visits.insert(old, stored)
        token_id, secret = tokens.create(
            lambda sql, p: old.execute(sql, p), single_db, "acme", "before the upgrade"
        )
        old.execute(
            f"INSERT INTO {single_db}.erasures (tenant, visitor_id, erased_at_ms, requested_at)"
            " VALUES",
            [("acme", "gone", now, 0)],
        )
    finally:
        old.disconnect()

    env = {**loopback.environ(single_db), "VH_LOG_LEVEL": "WARNING"}
    assert vh(["migrate", "--from-single-node"], env) == 0
    assert vh(["migrate", "--from-single-node"], env) == 0  # resumed or repeated: no harm

    # After: the visits live on their shards (both replicas), the token and the erasure too.
    counts = loopback.stored(single_db)
    assert counts[0] == counts[1] and counts[2] == counts[3]
    assert counts[0] + counts[2] == len(stored)
    client = loopback.client(3)  # a node of the other shard: the token reached it too
    try:
        client.execute(f"SYSTEM SYNC REPLICA {single_db}.api_tokens")
        assert client.execute(f"SELECT token_id FROM {single_db}.api_tokens") == [(token_id,)]
    finally:
        client.disconnect()

    config = ApiConfig.from_env({**env, "VH_API_TOKEN_REFRESH_SECONDS": "0.2"})
    server = LiveServer(create_app(config))
    http = httpx.Client(base_url=server.start(), timeout=30)
    try:
        wait_ready(http)
        headers = {"Auth-API-Key": secret}
        for visitor in ("v00", "v17", "v59"):
            got = http.get(
                f"/visitors/{visitor}", params={"limit": 500, "from": 0}, headers=headers
            )
            assert got.status_code == 200, got.text
            expected = sorted(v.request_id for v in stored if v.visitor_id == visitor)
            assert sorted(v["requestId"] for v in got.json()["visits"]) == expected
        assert http.get("/visitors/gone", headers=headers).status_code == 404  # still erased
    finally:
        http.close()
        server.stop()
    assert vh(["migrate", "--drop-single"], env) == 0
    client = loopback.client(0)
    try:
        left = client.execute(
            "SELECT name FROM system.tables WHERE database = %(db)s AND name LIKE '%%_single'",
            {"db": single_db},
        )
    finally:
        client.disconnect()
    assert left == []
