"""From one server to a cluster, keeping the data: the statements, in order. Pure.

The single server becomes one of the cluster's nodes, with its data. On that node, in its
database: the single-node tables are renamed ``<name>_single`` and its views dropped (they
read the renamed tables); the cluster schema is created beside them (``migrations.apply``
with the cluster); then every visit is copied through the Distributed ``visits``, which
sends each row to its visitor's shard (where the views fill the per-visitor tables, as for
visits the worker writes), month by month; the tokens and erasures are copied into their
replicated tables. The ``_single`` tables stay until the operator drops them
(:func:`drop_old`), after checking the counts. Nothing is read again from Kafka. The worker
and the API are stopped meanwhile (docs/scaling.md).
"""

from __future__ import annotations

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import SYNC_DISTRIBUTED, Statement
from schemas.clickhouse.tables import API_TOKENS, ERASURES, EVENT_UPDATES, TABLES, VISITS

#: Views of the single-node schema (they read tables that are renamed).
VIEWS = (
    "visitor_summary_mv",
    "visitor_summary_global_mv",
    "request_index_mv",
    "event_index_mv",
    "traffic_daily_mv",
    "traffic_hourly_mv",
)
#: Tables whose rows are copied; the others are derived from visits by the views.
COPIED = (VISITS, ERASURES, API_TOKENS, EVENT_UPDATES)
SUFFIX = "_single"


def existing_tables(layout: Layout) -> Statement:
    """(name, engine) of the database's tables on the node asked."""
    return Statement(
        "SELECT name, engine FROM system.tables WHERE database = %(db)s",
        {"db": layout.database},
    )


def set_aside(layout: Layout, present: set[str]) -> list[str]:
    """Drop the views, rename each single-node table ``<name>_single`` (this node only)."""
    db = layout.database
    out = [f"DROP TABLE IF EXISTS {db}.{view}" for view in VIEWS if view in present]
    out += [
        f"RENAME TABLE {db}.{t.name} TO {db}.{t.name}{SUFFIX}" for t in TABLES if t.name in present
    ]
    return out


def visit_months(layout: Layout) -> Statement:
    """The monthly partitions of the old visits, with their row counts."""
    return Statement(
        f"SELECT toYYYYMM(time) AS month, count() FROM {layout.database}.{VISITS.name}{SUFFIX}"
        " GROUP BY month ORDER BY month",
        {},
    )


def copy_visits(layout: Layout, month: int) -> Statement:
    """One month of old visits into the Distributed table, synchronously."""
    columns = VISITS.column_list()
    return Statement(
        f"INSERT INTO {layout.qualified(VISITS.name)} ({columns}) SELECT {columns}"
        f" FROM {layout.database}.{VISITS.name}{SUFFIX} WHERE toYYYYMM(time) = %(month)s"
        # In the table's order: a copy run again sends the same blocks to each shard, and the
        # replicated tables drop them as duplicates.
        " ORDER BY tenant, visitor_id, timestamp_ms, request_id",
        {"month": month},
        SYNC_DISTRIBUTED,
    )


def copy_small(layout: Layout) -> list[Statement]:
    """The tokens, erasures and event updates into their cluster tables (updates through
    their Distributed table, synchronously, to their visitor's shard)."""
    return [
        Statement(
            f"INSERT INTO {layout.qualified(t.name)} ({t.column_list()}) SELECT"
            f" {t.column_list()} FROM {layout.database}.{t.name}{SUFFIX}",
            {},
            SYNC_DISTRIBUTED if layout.sharded(t.name) else {},
        )
        for t in COPIED
        if t is not VISITS
    ]


def counts(layout: Layout, table: str) -> Statement:
    """One row: (rows in the old table, rows in the cluster's table)."""
    return Statement(
        f"SELECT (SELECT count() FROM {layout.database}.{table}{SUFFIX}),"
        f" (SELECT count() FROM {layout.qualified(table)})",
        {},
    )


def drop_old(layout: Layout, present: set[str]) -> list[str]:
    """Drop the ``_single`` tables once the copies are checked."""
    return [
        f"DROP TABLE IF EXISTS {layout.database}.{name}"
        for name in sorted(present)
        if name.endswith(SUFFIX)
    ]
