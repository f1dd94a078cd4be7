"""Every statement the ingest side runs, as text plus bound parameters. Pure.

The API's are in ``query_api.queries``; those both sides run (an erasure's deletes) in
``schemas.clickhouse.statements``. Values travel as bound parameters; the only names spliced
in are the database (checked a plain identifier by the writer) and fixed table names.
"""

from __future__ import annotations

from schemas.clickhouse.statements import Statement
from schemas.clickhouse.tables import ERASURES, VISITOR_SUMMARY, VISITS, identifier


def insert_visits(database: str) -> str:
    """The INSERT of a columnar ``visits`` block (rows in ``VISITS.columns`` order)."""
    return f"INSERT INTO {database}.{VISITS.name} ({VISITS.column_list()}) VALUES"


def table_exists(database: str, table: str) -> Statement:
    """One row: 1 when ``database.table`` exists, else 0."""
    return Statement(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(table)s",
        {"db": database, "table": table},
    )


def erasures(database: str) -> str:
    """The erasure snapshot: (tenant, visitor_id, latest erased_at_ms) per erased visitor."""
    return (
        f"SELECT tenant, visitor_id, max(erased_at_ms) FROM {database}.{ERASURES.name} "
        "GROUP BY tenant, visitor_id"
    )


def visits_mutations_pending(database: str, created_until_s: int) -> Statement:
    """One row: how many ``visits`` mutations created up to that instant still run."""
    return Statement(
        "SELECT count() FROM system.mutations WHERE database = %(db)s"
        f" AND table = '{VISITS.name}' AND is_done = 0 AND create_time <= toDateTime(%(until)s)",
        {"db": database, "until": created_until_s},
    )


def erased_visits_left(database: str, tenant: str, visitor_id: str, at_ms: int) -> Statement:
    """One row: how many stored visits of the visitor lie at or before an erasure."""
    return Statement(
        f"SELECT count() FROM {database}.{VISITS.name} WHERE tenant = %(tenant)s"
        " AND visitor_id = %(visitor)s AND timestamp_ms <= %(at)s",
        {"tenant": tenant, "visitor": visitor_id, "at": at_ms},
    )


def top_visitors(database: str, tenant: str, limit: int) -> Statement:
    """(visitor_id, visits, last seen ms) of a tenant's most frequent visitors, from the
    per-visitor summary (a few rows), never the visits table: cheap on any size."""
    return Statement(
        "SELECT visitor_id, uniqMerge(visits) AS n, maxMerge(last_seen) AS last"
        f" FROM {database}.{VISITOR_SUMMARY.name} WHERE tenant = %(tenant)s"
        " GROUP BY visitor_id ORDER BY n DESC, visitor_id LIMIT %(limit)s",
        {"tenant": tenant, "limit": limit},
    )


# -- retention (servers with TTL: the table's TTL; 18.16: whole monthly partitions) ----------


def visits_engine(database: str) -> Statement:
    """One row: the ``engine_full`` of ``visits`` (where its TTL shows)."""
    return Statement(
        "SELECT engine_full FROM system.tables WHERE database = %(db)s AND name = %(table)s",
        {"db": database, "table": VISITS.name},
    )


def visits_partitions(database: str) -> Statement:
    """The ids of the active partitions of ``visits``."""
    return Statement(
        "SELECT DISTINCT partition FROM system.parts"
        " WHERE database = %(db)s AND table = %(table)s AND active",
        {"db": database, "table": VISITS.name},
    )


def drop_visits_partition(database: str, partition: str) -> str:
    """``ALTER ... DROP PARTITION`` of a monthly partition id (digits only, checked)."""
    if not partition.isdigit():
        raise ValueError(f"partition id {partition!r} is not a YYYYMM number")
    return f"ALTER TABLE {identifier(database)}.{VISITS.name} DROP PARTITION {partition}"


def set_visits_ttl(database: str, days: int) -> str:
    """Expire visits ``days`` after their time (0: remove the TTL)."""
    if days <= 0:
        return f"ALTER TABLE {identifier(database)}.{VISITS.name} REMOVE TTL"
    return (
        f"ALTER TABLE {identifier(database)}.{VISITS.name}"
        f" MODIFY TTL toDateTime(time) + INTERVAL {int(days)} DAY"
    )
