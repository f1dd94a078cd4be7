"""SQL both sides run: the API when a visitor is erased, the worker when it purges visits that
slipped in after an erasure (``ingest.purge``). Pure: text plus bound parameters.

Values travel as bound parameters (``%(name)s``, escaped by the driver); the only text
spliced in is the database name, which config validated as a plain identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Statement:
    """SQL text plus the parameters bound into it."""

    sql: str
    params: dict[str, Any]


def record_erasure(database: str, tenant: str, visitor_id: str, erased_at_ms: int) -> Statement:
    """The erasures row: hides the visitor's visits up to ``erased_at_ms`` from every read at
    once and makes the worker drop replays of them."""
    return Statement(
        f"INSERT INTO {database}.erasures (tenant, visitor_id, erased_at_ms, requested_at)"
        " SELECT %(tenant)s, %(visitor)s, %(at)s, toDateTime(intDiv(%(at)s, 1000))",
        {"tenant": tenant, "visitor": visitor_id, "at": erased_at_ms},
    )


def delete_erased(
    database: str, tenant: str, visitor_id: str, erased_at_ms: int
) -> list[Statement]:
    """Delete stored data of a visitor at or before an erasure (mutations run async).

    The mutations touch only parts that exist when they are created: a visit inserted later
    (in flight during the erasure) needs these statements run again, which the worker does.
    """
    p = {"tenant": tenant, "visitor": visitor_id, "at": erased_at_ms}
    who = "tenant = %(tenant)s AND visitor_id = %(visitor)s"
    return [
        Statement(
            f"ALTER TABLE {database}.visits DELETE WHERE {who} AND timestamp_ms <= %(at)s", p
        ),
        Statement(f"ALTER TABLE {database}.visitor_summary DELETE WHERE {who}", p),
        # An aggregate state cannot lose single visits: rebuild it from what survives (visits
        # after the erasure, e.g. from a collector whose clock runs ahead). The mutation above
        # only touches parts that existed before it, so this new part is kept.
        Statement(
            f"INSERT INTO {database}.visitor_summary (tenant, visitor_id, first_seen, last_seen,"
            " visits) SELECT tenant, visitor_id, minState(timestamp_ms), maxState(timestamp_ms),"
            f" uniqState(request_id) FROM {database}.visits"
            f" WHERE {who} AND timestamp_ms > %(at)s GROUP BY tenant, visitor_id",
            p,
        ),
        Statement(
            f"ALTER TABLE {database}.request_index DELETE WHERE {who} AND timestamp_ms <= %(at)s",
            p,
        ),
    ]
