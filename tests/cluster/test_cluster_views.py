"""The analysts' aggregates on the loopback cluster: the views fill each shard's tables as
visits arrive, a redelivered block counts once, `vh views backfill` fills them from visits
stored before the views existed, and the answers through the Distributed tables are the raw
table's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.test_cluster_schema import _rows, _writer
from tests.support.cluster import CLUSTER, Nodes
from tests.support.ingest import wait_until
from vh.main import main

#: Per day and dimension value: distinct requestIds and visitorIds, from the aggregates and
#: from the raw visits (every node sees the whole cluster through the Distributed tables).
VIEW = (
    "SELECT toString(day), dimension, value, uniqCombinedMerge(visits), uniqCombinedMerge(visitors)"
    " FROM {db}.traffic_daily GROUP BY day, dimension, value ORDER BY 1, 2, 3"
)
RAW = (
    "SELECT toString(toDate(time)), 'all', '', uniqExact(request_id), uniqExact(visitor_id)"
    " FROM {db}.visits GROUP BY toDate(time) ORDER BY 1"
)


def _sync(loopback: Nodes, database: str, tables: tuple[str, ...]) -> None:
    for i in range(len(loopback.replicas())):
        client = loopback.client(i)
        try:
            for table in tables:
                client.execute(f"SYSTEM SYNC REPLICA {database}.{table}")
        finally:
            client.disconnect()


def _answers(loopback: Nodes, database: str) -> tuple[list[Any], list[Any]]:
    client = loopback.client(0)
    try:
        view = client.execute(VIEW.format(db=database))
        raw = client.execute(RAW.format(db=database))
    finally:
        client.disconnect()
    return [r for r in view if r[1] == "all"], raw


def test_views_count_each_visit_once_across_shards(loopback: Nodes, cluster_db: str) -> None:
    with _writer(loopback, cluster_db) as writer:
        rows = _rows(300, writer.features(), "a")
        writer.insert_visits(rows, "a-0-0-299")
        writer.insert_visits(rows[::3], "a-0-0-99")  # a redelivered part: other block, copies
    _sync(loopback, cluster_db, ("visits_local", "traffic_daily_local"))
    view, raw = _answers(loopback, cluster_db)
    assert raw and sum(r[3] for r in raw) == 300
    assert view == raw


@pytest.mark.timeout(300)
def test_backfill_fills_every_shard_from_old_visits(
    loopback: Nodes, cluster_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = loopback.client(0)
    try:
        for mv in ("traffic_daily_mv", "traffic_hourly_mv"):  # as before migration 031
            client.execute(f"DROP TABLE {cluster_db}.{mv} ON CLUSTER {CLUSTER}")
    finally:
        client.disconnect()
    with _writer(loopback, cluster_db) as writer:
        writer.insert_visits(_rows(400, writer.features(), "b"), "b-0-0-399")
    _sync(loopback, cluster_db, ("visits_local",))
    assert _answers(loopback, cluster_db)[0] == []
    assert main(["views", "backfill"], loopback.environ(cluster_db)) == 0
    assert "visits counted into the aggregates" in capsys.readouterr().err
    _sync(loopback, cluster_db, ("traffic_daily_local",))
    view, raw = _answers(loopback, cluster_db)
    assert sum(r[3] for r in raw) == 400
    assert view == raw
    # Idempotent: a second run changes no answer.
    assert main(["views", "backfill"], loopback.environ(cluster_db)) == 0
    _sync(loopback, cluster_db, ("traffic_daily_local",))
    assert _answers(loopback, cluster_db) == (view, raw)


@pytest.mark.timeout(300)
def test_migrate_remakes_the_aggregates_on_every_node_and_refills_every_shard(
    loopback: Nodes, cluster_db: str
) -> None:
    """An existing cluster database meets migration 060: its aggregates, holding states,
    are dropped on every node, made again at the same ZooKeeper paths, and refilled from
    the visits of each shard by ``vh migrate``."""
    with _writer(loopback, cluster_db) as writer:
        writer.insert_visits(_rows(300, writer.features(), "c"), "c-0-0-299")
    _sync(loopback, cluster_db, ("visits_local", "traffic_daily_local"))
    before = _answers(loopback, cluster_db)
    assert before[0] == before[1] != []
    client = loopback.client(0)
    try:
        # A row no visit backs: gone once the table is made again.
        client.execute(
            f"INSERT INTO {cluster_db}.traffic_daily_local SELECT 'ghost', toDate('2001-01-01'),"
            " 'all', '', uniqCombinedState('g'), uniqCombinedState('g'),"
            " uniqCombinedState('g'), uniqCombinedState('g')"
        )
        assert _answers(loopback, cluster_db)[0][0][0] == "2001-01-01"
        # As if 060 had never run: schema_migrations is replicated to every node.
        client.execute(f"ALTER TABLE {cluster_db}.schema_migrations DELETE WHERE version = 60")
    finally:
        client.disconnect()
    for i in range(len(loopback.replicas())):
        node = loopback.client(i)
        recorded = f"SELECT count() FROM {cluster_db}.schema_migrations WHERE version = 60"
        try:
            wait_until(lambda: node.execute(recorded) == [(0,)], timeout=60)  # noqa: B023 (waited for here)
        finally:
            node.disconnect()
    assert main(["migrate"], loopback.environ(cluster_db)) == 0
    _sync(loopback, cluster_db, ("traffic_daily_local",))
    assert _answers(loopback, cluster_db) == before
