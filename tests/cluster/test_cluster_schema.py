"""The schema on the loopback cluster: every table replicated, Distributed tables over the
sharded ones, a visitor's rows on one shard (where the API looks), inserts durable on their
shard when they return, a repeated identical block stored once (18.16 included), and a
retried block reaching the views its first attempt missed."""

from __future__ import annotations

import time
from typing import Any

from ingest.rows import COLUMNS
from ingest.writer import ClickHouseWriter
from schemas.clickhouse.migrations import ServerFeatures
from schemas.clickhouse.tables import TABLES, shard_of
from tests.query_api import visits
from tests.support.cluster import Nodes


def _writer(loopback: Nodes, database: str) -> ClickHouseWriter:
    s = loopback.settings(database)
    return ClickHouseWriter(
        s.host, s.port, database=database, cluster=s.cluster, alt_hosts=s.alt_hosts
    )


def _rows(n: int, features: ServerFeatures, prefix: str = "r") -> list[Any]:
    now = int(time.time() * 1000) // 1000 * 1000 + 123  # milliseconds, never whole seconds
    made = [visits.visit("acme", f"v{i % 40:02d}", now - i, f"{prefix}-{i:04d}") for i in range(n)]
    return visits.worker_rows(made, features, ingested_at_s=1_800_000_000)


def test_every_table_is_replicated_and_the_sharded_ones_distributed(
    loopback: Nodes, cluster_db: str
) -> None:
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            engines = dict(
                client.execute(
                    "SELECT name, engine FROM system.tables WHERE database = %(db)s",
                    {"db": cluster_db},
                )
            )
        finally:
            client.disconnect()
        for table in TABLES:
            if table.placement == "sharded":
                assert engines[f"{table.name}_local"].startswith("Replicated"), table.name
                assert engines[table.name] == "Distributed", table.name
            else:
                assert engines[table.name].startswith("Replicated"), table.name
        assert {"visitor_summary_mv", "request_index_mv"} <= set(engines)


def test_inserts_land_on_the_visitors_shard_durably_and_a_retry_is_stored_once(
    loopback: Nodes, cluster_db: str
) -> None:
    with _writer(loopback, cluster_db) as writer:
        rows = _rows(400, writer.features())
        writer.insert_visits(rows, "t-0-0-399")
        # Synchronous: the moment the insert returns, each shard's replica that took it has
        # the rows, on the shard the visitor hashes to (where the API reads it).
        by_shard = [0, 0]
        for row in rows:
            by_shard[shard_of(row[COLUMNS.index("visitor_id")], 2)] += 1
        per_node = loopback.stored(cluster_db)
        assert sorted(per_node[:2])[-1] == by_shard[0] and sorted(per_node[2:])[-1] == by_shard[1]
        # The same block again (a retry after a lost acknowledgement): every shard's
        # replicated table recognises its part and drops it.
        writer.insert_visits(rows, "t-0-0-399")
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            client.execute(f"SYSTEM SYNC REPLICA {cluster_db}.visits_local")
        finally:
            client.disconnect()
    assert loopback.stored(cluster_db) == [by_shard[0], by_shard[0], by_shard[1], by_shard[1]]
    client = loopback.client(0)
    try:
        total = client.execute(f"SELECT count(), uniqExact(request_id) FROM {cluster_db}.visits")
    finally:
        client.disconnect()
    assert total == [(400, 400)]


def _pages(loopback: Nodes, database: str) -> int:
    """Visits in visit_pages over the shards, once every replica has fetched its log."""
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            client.execute(f"SYSTEM SYNC REPLICA {database}.visit_pages_local")
        finally:
            client.disconnect()
    client = loopback.client(0)
    try:
        return int(
            client.execute(f"SELECT uniqExact(request_id) FROM {database}.visit_pages")[0][0]
        )
    finally:
        client.disconnect()


def test_a_retried_block_reaches_the_views_its_failed_attempt_missed(
    loopback: Nodes, cluster_db: str
) -> None:
    """A replica killed between writing a block to visits_local and to a view's table leaves
    the view without those rows; the worker's retry of the block must still put them there
    (the API reads pages from visit_pages: a CI run had 775 stored visits missing from it)."""

    def on_every_node(sql: str) -> None:
        for i in range(len(loopback.replicas())):
            client = loopback.client(i)
            try:
                client.execute(sql)
            finally:
                client.disconnect()

    with _writer(loopback, cluster_db) as writer:
        rows = _rows(300, writer.features(), "p")
        # The failed attempt's state: the block in visits, not in visit_pages.
        on_every_node(f"DETACH TABLE {cluster_db}.visit_pages_mv")
        try:
            writer.insert_visits(rows, "p-0-0-299")
        finally:
            on_every_node(f"ATTACH TABLE {cluster_db}.visit_pages_mv")
        assert _pages(loopback, cluster_db) == 0
        if not writer.features().view_dedup:
            # Why the retry is told apart (18.16): the same block, deduplicated by every
            # shard's visits_local, does not reach the views at all.
            writer.insert_visits(rows, "p-0-0-299")
            assert _pages(loopback, cluster_db) == 0
        writer.insert_visits(rows, "p-0-0-299", retry=True)
    assert _pages(loopback, cluster_db) == 300
    client = loopback.client(0)
    try:
        stored = client.execute(f"SELECT uniqExact(request_id) FROM {cluster_db}.visits")
    finally:
        client.disconnect()
    assert stored == [(300,)]


def test_the_views_fill_each_shards_summaries_on_both_replicas(
    loopback: Nodes, cluster_db: str
) -> None:
    with _writer(loopback, cluster_db) as writer:
        writer.insert_visits(_rows(200, writer.features(), "s"), "s-0-0-199")
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            for table in ("visitor_summary_local", "request_index_local"):
                client.execute(f"SYSTEM SYNC REPLICA {cluster_db}.{table}")
        finally:
            client.disconnect()
    visitors = loopback.stored(cluster_db, "visitor_summary_local")
    assert visitors[0] == visitors[1] and visitors[2] == visitors[3]
    assert visitors[0] + visitors[2] >= 40  # 40 visitors, states merged or not yet
    assert sum(loopback.stored(cluster_db, "request_index_local")[::2]) == 200
