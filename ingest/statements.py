"""Every statement the ingest side runs, as text plus bound parameters. Pure.

The API's are in ``query_api.queries``; those both sides run (an erasure's deletes) in
``schemas.clickhouse.statements``. Values travel as bound parameters; the only names spliced
in are the database and cluster (checked plain identifiers by ``Layout``) and fixed table
names. On a cluster (``Layout.cluster``) reads and inserts go through the Distributed tables,
``ALTER``s to the storage tables on one replica of each shard (replication copies them to
the others), and system tables are read on one replica of every shard (``cluster()``).
"""

from __future__ import annotations

from typing import Final

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement
from schemas.clickhouse.tables import ERASURES, EVENT_INDEX, VISIT_PAGES, VISITOR_SUMMARY, VISITS


def insert_visits(layout: Layout) -> str:
    """The INSERT of a columnar ``visits`` block (rows in ``VISITS.columns`` order); on a
    cluster into the Distributed table, which routes each row to its shard."""
    return f"INSERT INTO {layout.qualified(VISITS.name)} ({VISITS.column_list()}) VALUES"


def table_exists(layout: Layout, table: str) -> Statement:
    """One row: 1 when the table exists (on the node asked), else 0."""
    return Statement(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(table)s",
        {"db": layout.database, "table": table},
    )


def erasures(layout: Layout) -> str:
    """The erasure snapshot: (tenant, visitor_id, latest erased_at_ms) per erased visitor."""
    return (
        f"SELECT tenant, visitor_id, max(erased_at_ms) FROM {layout.qualified(ERASURES.name)} "
        "GROUP BY tenant, visitor_id"
    )


def _system(layout: Layout, table: str) -> str:
    return (
        f"system.{table}"
        if layout.cluster is None
        else f"cluster({layout.cluster}, system, {table})"
    )


def visits_mutations_pending(layout: Layout, created_until_s: int) -> Statement:
    """One row: how many ``visits`` mutations created up to that instant still run (on any
    shard)."""
    return Statement(
        f"SELECT count() FROM {_system(layout, 'mutations')} WHERE database = %(db)s"
        " AND table = %(table)s AND is_done = 0 AND create_time <= toDateTime(%(until)s)",
        {
            "db": layout.database,
            "table": _storage_name(layout, VISITS.name),
            "until": created_until_s,
        },
    )


def erased_visits_left(layout: Layout, tenant: str, visitor_id: str, at_ms: int) -> Statement:
    """One row: how many stored visits of the visitor lie at or before an erasure."""
    return Statement(
        f"SELECT count() FROM {layout.qualified(VISITS.name)} WHERE tenant = %(tenant)s"
        " AND visitor_id = %(visitor)s AND timestamp_ms <= %(at)s",
        {"tenant": tenant, "visitor": visitor_id, "at": at_ms},
    )


def top_visitors(layout: Layout, tenant: str, limit: int) -> Statement:
    """(visitor_id, visits, last seen ms) of a tenant's most frequent visitors, from the
    per-visitor summary (a few rows), never the visits table: cheap on any size."""
    return Statement(
        "SELECT visitor_id, uniqMerge(visits) AS n, maxMerge(last_seen) AS last"
        f" FROM {layout.qualified(VISITOR_SUMMARY.name)} WHERE tenant = %(tenant)s"
        " GROUP BY visitor_id ORDER BY n DESC, visitor_id LIMIT %(limit)s",
        {"tenant": tenant, "limit": limit},
    )


def _storage_name(layout: Layout, table: str) -> str:
    return layout.storage(table).split(".", 1)[1]


# -- retention (servers with TTL: the table's TTL; 18.16: whole monthly partitions) ----------


#: The tables retention keeps to ``VH_RETENTION_DAYS``, with the time their TTL counts from:
#: the visits, and v4's search index, which would otherwise point at visits long gone. Both
#: are partitioned by the same months, so the same partition ids go.
RETAINED: Final = {
    VISITS.name: "toDateTime(time)",
    EVENT_INDEX.name: "toDateTime(intDiv(timestamp_ms, 1000))",
    VISIT_PAGES.name: "toDateTime(time)",  # the API's copy of the visits (040)
}


def visits_engine(layout: Layout, table: str = VISITS.name) -> Statement:
    """One row: the ``engine_full`` of the table storing visits, or another of RETAINED
    (where its TTL shows)."""
    return Statement(
        "SELECT engine_full FROM system.tables WHERE database = %(db)s AND name = %(table)s",
        {"db": layout.database, "table": _storage_name(layout, table)},
    )


def visits_partitions(layout: Layout, table: str = VISITS.name) -> Statement:
    """The ids of the active partitions storing visits, or another of RETAINED (any shard)."""
    return Statement(
        f"SELECT DISTINCT partition FROM {_system(layout, 'parts')}"
        " WHERE database = %(db)s AND table = %(table)s AND active",
        {"db": layout.database, "table": _storage_name(layout, table)},
    )


def drop_visits_partition(layout: Layout, partition: str, table: str = VISITS.name) -> str:
    """``ALTER ... DROP PARTITION`` of a monthly partition id (digits only, checked)."""
    if not partition.isdigit():
        raise ValueError(f"partition id {partition!r} is not a YYYYMM number")
    return f"ALTER TABLE {layout.storage(table)}{layout.on_cluster} DROP PARTITION {partition}"


def set_visits_ttl(layout: Layout, days: int, table: str = VISITS.name) -> str:
    """Expire visits (or the rows of another of RETAINED) ``days`` after their time (0:
    remove the TTL). On a cluster: run it on one replica of each shard
    (``ClickHouseWriter.on_each_shard``), never ``ON CLUSTER``."""
    stored = layout.storage(table)
    if days <= 0:
        return f"ALTER TABLE {stored} REMOVE TTL"
    return f"ALTER TABLE {stored} MODIFY TTL {RETAINED[table]} + INTERVAL {int(days)} DAY"
