"""The cluster rendering of the migrations: what each statement becomes (pure), and that every
rendered statement parses on the current engine (chdb: it has no ZooKeeper, so it cannot run
Replicated tables; its parser checks the DDL, `formatQuery`)."""

from __future__ import annotations

import re

import pytest

from schemas.clickhouse import layout, migrations
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.migrations import ServerFeatures
from schemas.clickhouse.tables import SHARDING_KEY, TABLES, shard_of
from tests.support.services import ChdbSession

CLUSTER = Layout("vh", "vh_cluster")


def _rendered(version: str) -> list[str]:
    features = ServerFeatures.from_version(version)
    return [
        s for m in migrations.render(features, "vh", cluster="vh_cluster") for s in m.statements
    ]


def test_one_server_is_left_as_written() -> None:
    statement = "CREATE TABLE IF NOT EXISTS vh.visits (x String) ENGINE = MergeTree() ORDER BY x"
    assert layout.render(statement, Layout("vh")) == [statement]


def test_a_sharded_table_becomes_a_replicated_local_table_and_a_distributed_one() -> None:
    local, distributed = layout.render(
        "CREATE TABLE IF NOT EXISTS vh.visits (visitor_id String, v UInt64)"
        " ENGINE = ReplacingMergeTree(v) ORDER BY visitor_id SETTINGS index_granularity = 2048",
        CLUSTER,
    )
    assert local.startswith("CREATE TABLE IF NOT EXISTS vh.visits_local ON CLUSTER vh_cluster (")
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/vh.visits_local',"
        " '{replica}', v)" in local
    )
    assert local.endswith("index_granularity = 2048, replicated_deduplication_window = 1000")
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS vh.visits ON CLUSTER vh_cluster AS vh.visits_local"
        " ENGINE = Distributed(vh_cluster, vh, visits_local, halfMD5(visitor_id))"
    )


def test_a_small_table_is_replicated_to_every_node_under_its_own_name() -> None:
    (only,) = layout.render(
        "CREATE TABLE IF NOT EXISTS vh.erasures (t String)"
        " ENGINE = ReplacingMergeTree() ORDER BY t",
        CLUSTER,
    )
    assert only.startswith("CREATE TABLE IF NOT EXISTS vh.erasures ON CLUSTER vh_cluster (")
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/vh.erasures', '{replica}')" in only


def test_views_read_and_write_local_tables_and_alters_go_to_storage() -> None:
    (view,) = layout.render(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS vh.visitor_summary_mv TO vh.visitor_summary"
        " AS SELECT tenant FROM vh.visits GROUP BY tenant",
        CLUSTER,
    )
    assert view == (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS vh.visitor_summary_mv ON CLUSTER vh_cluster"
        " TO vh.visitor_summary_local AS SELECT tenant FROM vh.visits_local GROUP BY tenant"
    )
    (alter,) = layout.render("ALTER TABLE vh.visits MODIFY TTL x", CLUSTER)
    assert alter == "ALTER TABLE vh.visits_local ON CLUSTER vh_cluster MODIFY TTL x"


def test_a_drop_reaches_every_node_and_a_sharded_table_loses_both_of_its_tables() -> None:
    old = Layout("vh", "vh_cluster", replicated_comments=False, drop_sync=False)
    assert layout.render("DROP TABLE IF EXISTS vh.traffic_daily_mv", old) == [
        "DROP TABLE IF EXISTS vh.traffic_daily_mv ON CLUSTER vh_cluster"
    ]
    assert layout.render("DROP TABLE IF EXISTS vh.traffic_daily", old) == [
        "DROP TABLE IF EXISTS vh.traffic_daily ON CLUSTER vh_cluster",
        "DROP TABLE IF EXISTS vh.traffic_daily_local ON CLUSTER vh_cluster",
    ]
    # Current servers drop at once, so that the table made again may take the same path.
    assert layout.render("DROP TABLE IF EXISTS vh.erasures", CLUSTER) == [
        "DROP TABLE IF EXISTS vh.erasures ON CLUSTER vh_cluster SYNC"
    ]
    single = "DROP TABLE IF EXISTS vh.traffic_daily"
    assert layout.render(single, layout.Layout("vh")) == [single]


def test_sync_drops_only_where_the_server_knows_the_word() -> None:
    drop = "DROP TABLE IF EXISTS vh.traffic_daily_local ON CLUSTER vh_cluster"
    assert drop in _rendered("18.16.1")
    assert not any(s.endswith(" SYNC") for s in _rendered("18.16.1"))
    assert f"{drop} SYNC" in _rendered("26.9.1")


def test_18_16_loses_column_comments_on_replicated_tables_current_servers_keep_them() -> None:
    old = next(s for s in _rendered("18.16.1") if "vh.visits_local" in s and "CREATE" in s)
    new = next(s for s in _rendered("26.9.1") if "vh.visits_local" in s and "CREATE" in s)
    assert "COMMENT" not in old and "COMMENT 'FingerprintJS visitorId'" in new


def test_every_sharded_table_has_the_sharding_column() -> None:
    for table in TABLES:
        if table.placement == "sharded" and table.sharding_key == SHARDING_KEY:
            assert "visitor_id" in table.columns, table.name
        elif table.placement == "sharded":  # aggregates over many visitors
            assert table.sharding_key == "rand()", table.name


def test_comment_alters_go_to_local_tables_and_vanish_where_replicas_keep_no_comments() -> None:
    alter = "ALTER TABLE vh.visits COMMENT COLUMN url 'page address'"
    assert layout.render(alter, CLUSTER) == [
        "ALTER TABLE vh.visits_local ON CLUSTER vh_cluster COMMENT COLUMN url 'page address'"
    ]
    assert layout.render(alter, Layout("vh", "vh_cluster", replicated_comments=False)) == []
    assert not any("COMMENT COLUMN" in s for s in _rendered("18.16.1"))


def test_aggregates_over_many_visitors_are_distributed_at_random() -> None:
    assert (
        "CREATE TABLE IF NOT EXISTS vh.traffic_daily ON CLUSTER vh_cluster AS"
        " vh.traffic_daily_local ENGINE = Distributed(vh_cluster, vh, traffic_daily_local,"
        " rand())"
    ) in _rendered("26.9.1")


def test_the_shard_of_a_visitor_is_what_halfmd5_says(chdb_session: ChdbSession) -> None:
    ids = ["abc", "visitor-ü", "Ibk1527CUFmcnjLwIs4A9", ""]
    for visitor in ids:
        (row,) = chdb_session.execute(f"SELECT halfMD5('{visitor}') % 2, halfMD5('{visitor}') % 3")
        assert (shard_of(visitor, 2), shard_of(visitor, 3)) == tuple(int(v) for v in row)


@pytest.mark.parametrize("statement", _rendered("26.9.1"))
def test_every_rendered_statement_parses_on_the_current_engine(
    chdb_session: ChdbSession, statement: str
) -> None:
    quoted = statement.replace("\\", "\\\\").replace("'", "\\'")
    (row,) = chdb_session.execute(f"SELECT formatQuery('{quoted}')")
    if statement.startswith("INSERT INTO "):
        # A backfill runs once, from one node, through the Distributed tables: ON CLUSTER
        # would run it on every node and store each row once per node.
        # The backfills: event_index (015) and visit_pages (040), never their _local tables.
        assert "ON CLUSTER" not in row[0]
        assert re.match(r"INSERT INTO vh\.(event_index|visit_pages) ", row[0]), row[0][:80]
    else:
        assert "ON CLUSTER vh_cluster" in row[0]


def test_v4_tables_and_columns_on_a_cluster() -> None:
    rendered = _rendered("18.16.1")
    for table in ("event_index", "event_updates"):
        assert any(
            s.startswith(f"CREATE TABLE IF NOT EXISTS vh.{table}_local ON CLUSTER vh_cluster")
            and f"'/clickhouse/tables/{{shard}}/vh.{table}_local'" in s
            for s in rendered
        ), table
        assert any(
            s.startswith(f"CREATE TABLE IF NOT EXISTS vh.{table} ON CLUSTER vh_cluster AS")
            and "Distributed(vh_cluster" in s
            for s in rendered
        ), table
    (view,) = [s for s in rendered if "event_index_mv" in s]
    assert "TO vh.event_index_local" in view and "FROM vh.visits_local" in view
    # The new visit columns reach the local tables, without the comments 18.16 refuses on
    # replicated tables; the Distributed table is made again over them (18.16 refuses an
    # ALTER ON CLUSTER of a table that is not replicated).
    at = next(i for i, s in enumerate(rendered) if "ADD COLUMN origin" in s)
    add, drop, create = rendered[at : at + 3]
    assert add.startswith("ALTER TABLE vh.visits_local ON CLUSTER vh_cluster")
    assert "COMMENT" not in add
    assert drop == "DROP TABLE IF EXISTS vh.visits ON CLUSTER vh_cluster"
    assert create.startswith("CREATE TABLE IF NOT EXISTS vh.visits ON CLUSTER vh_cluster AS")
    assert "Distributed(vh_cluster, vh, visits_local" in create
    assert sum("ADD COLUMN origin" in s for s in rendered) == 1
