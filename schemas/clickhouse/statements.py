"""SQL both sides run: the API when a visitor is erased, the worker when it purges visits that
slipped in after an erasure (``ingest.purge``). Pure: text plus bound parameters.

Values travel as bound parameters (``%(name)s``, escaped by the driver); the only text
spliced in is the database (and cluster) name, which ``Layout`` checked are plain
identifiers. On a cluster an erasure's deletes run on the visitor's shard only (its rows live
nowhere else) against the local tables; a replicated table copies an ALTER to its other
replicas itself, so none of them goes ``ON CLUSTER`` (18.16's DDL queue also wedges on
``ON CLUSTER`` ALTERs of replicated tables: "Node exists ... /executed").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.tables import (
    ERASURES,
    EVENT_INDEX,
    EVENT_UPDATES,
    REQUEST_INDEX,
    VISIT_PAGES,
    VISITOR_SUMMARY,
    VISITS,
)


@dataclass(frozen=True, slots=True)
class Statement:
    """SQL text, the parameters bound into it, query settings it needs, and where it runs.

    ``visitor``: on a cluster, the statement reads the local tables of the shard holding this
    visitor, so it must run on a replica of that shard; None: on any node.
    """

    sql: str
    params: dict[str, Any]
    settings: Mapping[str, Any] = field(default_factory=dict)
    visitor: str | None = None


#: Inserts into Distributed tables return only once every shard stored its rows.
SYNC_DISTRIBUTED: Mapping[str, Any] = {"insert_distributed_sync": 1}


def record_erasure(layout: Layout, tenant: str, visitor_id: str, erased_at_ms: int) -> Statement:
    """The erasures row: hides the visitor's visits up to ``erased_at_ms`` from every read at
    once and makes the worker drop replays of them."""
    return Statement(
        f"INSERT INTO {layout.qualified(ERASURES.name)} (tenant, visitor_id, erased_at_ms,"
        " requested_at) SELECT %(tenant)s, %(visitor)s, %(at)s, toDateTime(intDiv(%(at)s, 1000))",
        {"tenant": tenant, "visitor": visitor_id, "at": erased_at_ms},
    )


def delete_erased(
    layout: Layout, tenant: str, visitor_id: str, erased_at_ms: int
) -> list[Statement]:
    """Delete stored data of a visitor at or before an erasure (mutations run async).

    The mutations touch only parts that exist when they are created: a visit inserted later
    (in flight during the erasure) needs these statements run again, which the worker does.
    """
    p = {"tenant": tenant, "visitor": visitor_id, "at": erased_at_ms}
    who = "tenant = %(tenant)s AND visitor_id = %(visitor)s"

    def alter(table: str) -> str:
        return f"ALTER TABLE {layout.storage(table)} DELETE WHERE {who}"

    return [
        Statement(f"{alter(VISITS.name)} AND timestamp_ms <= %(at)s", p, visitor=visitor_id),
        # The API's copy of the same visits (040_visit_pages.sql); reads hide them at once
        # (the erasures row), this reclaims them like the visits.
        Statement(f"{alter(VISIT_PAGES.name)} AND timestamp_ms <= %(at)s", p, visitor=visitor_id),
        Statement(alter(VISITOR_SUMMARY.name), p, visitor=visitor_id),
        # An aggregate state cannot lose single visits: rebuild it from what survives (visits
        # after the erasure, e.g. from a collector whose clock runs ahead). The mutation above
        # only touches parts that existed before it, so this new part is kept.
        Statement(
            f"INSERT INTO {layout.storage(VISITOR_SUMMARY.name)} (tenant, visitor_id,"
            " first_seen, last_seen, visits) SELECT tenant, visitor_id, minState(timestamp_ms),"
            " maxState(timestamp_ms), uniqState(request_id)"
            f" FROM {layout.storage(VISITS.name)}"
            f" WHERE {who} AND timestamp_ms > %(at)s GROUP BY tenant, visitor_id",
            p,
            visitor=visitor_id,
        ),
        Statement(f"{alter(REQUEST_INDEX.name)} AND timestamp_ms <= %(at)s", p, visitor=visitor_id),
        Statement(f"{alter(EVENT_INDEX.name)} AND timestamp_ms <= %(at)s", p, visitor=visitor_id),
        # Updates go with their events: a visit replayed later is dropped by the worker, and
        # must not come back carrying an old PATCH either.
        Statement(f"{alter(EVENT_UPDATES.name)} AND timestamp_ms <= %(at)s", p, visitor=visitor_id),
    ]


def sync_replica(layout: Layout, table: str) -> str:
    """Wait until this replica has every entry of the table's replication log (on a cluster:
    a write made elsewhere is then visible here)."""
    return f"SYSTEM SYNC REPLICA {layout.storage(table)}"
