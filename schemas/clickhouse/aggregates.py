"""The analysts' aggregates (``traffic_daily``, ``traffic_hourly``, migration 060) recomputed
from visits: after an erasure (the days the erased visitor was seen) and for data stored
before the views existed (``vh views backfill``). Pure: text plus bound parameters.

Every measure is a ``uniqCombined`` state, so inserting the states of visits the views
already counted changes no answer: a backfill needs no bookkeeping and can run again, and a
rebuild may overlap rows the views write meanwhile. The SELECTs are the views' own (060),
fed with the visits that survive every erasure: the erasures table is read, not the
mutations' progress, so a rebuild made before ``ALTER ... DELETE`` finished already leaves
them out.
On a cluster each shard's views count that shard's visits into its local tables; these
statements do the same, on a replica of the shard they are meant for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement, delete_erased
from schemas.clickhouse.tables import ERASURES, TRAFFIC_DAILY, TRAFFIC_HOURLY, VISITS

_NEEDED: Final = (
    "tenant, visitor_id, timestamp_ms, request_id, time, incognito, bot_probability,"
    " country_code, browser_name, os, device"
)
#: Visits matching ``{where}`` minus those erased (no erasure row: erased_at_ms is 0).
_SURVIVING: Final = (
    "(SELECT * FROM (SELECT {needed} FROM {visits} WHERE {where}) AS v"
    " ANY LEFT JOIN (SELECT tenant, visitor_id, max(erased_at_ms) AS erased_at_ms"
    " FROM {erasures} {erasures_where} GROUP BY tenant, visitor_id) AS e"
    " USING (tenant, visitor_id)"
    " WHERE timestamp_ms > erased_at_ms)"
)
_DAILY: Final = (
    "INSERT INTO {target} ({columns}) SELECT tenant, toDate(time) AS day, dim.1 AS dimension,"
    " dim.2 AS value, uniqCombinedState(request_id) AS visits, uniqCombinedState(visitor_id)"
    " AS visitors,"
    " uniqCombinedStateIf(request_id, bot_probability >= 0.5) AS bot_visits,"
    " uniqCombinedStateIf(request_id, incognito = 1) AS incognito_visits FROM {source}"
    " ARRAY JOIN [('all', ''), ('country', toString(ifNull(country_code, ''))),"
    " ('browser', toString(browser_name)), ('os', toString(os)),"
    " ('device', toString(device))] AS dim GROUP BY tenant, day, dimension, value"
)
_HOURLY: Final = (
    "INSERT INTO {target} ({columns}) SELECT tenant,"
    " toStartOfHour(toDateTime(time, 'UTC')) AS hour, uniqCombinedState(request_id) AS visits,"
    " uniqCombinedState(visitor_id) AS visitors,"
    " uniqCombinedStateIf(request_id, bot_probability >= 0.5) AS bot_visits"
    " FROM {source} GROUP BY tenant, hour"
)


def _source(layout: Layout, where: str, erasures_where: str = "") -> str:
    return _SURVIVING.format(
        needed=_NEEDED,
        visits=layout.storage(VISITS.name),
        where=where,
        erasures=layout.storage(ERASURES.name),
        erasures_where=erasures_where,
    )


def _inserts(layout: Layout, source: str) -> tuple[str, str]:
    daily = _DAILY.format(
        target=layout.storage(TRAFFIC_DAILY.name),
        columns=TRAFFIC_DAILY.column_list(),
        source=source,
    )
    hourly = _HOURLY.format(
        target=layout.storage(TRAFFIC_HOURLY.name),
        columns=TRAFFIC_HOURLY.column_list(),
        source=source,
    )
    return daily, hourly


def rebuild_days(
    layout: Layout, tenant: str, days: Sequence[str], visitor: str | None = None
) -> list[Statement]:
    """Delete a tenant's aggregate rows of ``days`` (``YYYY-MM-DD``, UTC) and insert them
    again from the surviving visits. ``visitor``: on a cluster, run on that visitor's shard
    (the erased one: its visits, so its share of those days, live there). No days: nothing.
    """
    if not days:
        return []
    p = {"tenant": tenant, "days": tuple(days)}
    daily, hourly = _inserts(
        layout,
        _source(
            layout,
            "tenant = %(tenant)s AND toDate(time) IN %(days)s",
            "WHERE tenant = %(tenant)s",
        ),
    )
    delete = "ALTER TABLE {} DELETE WHERE tenant = %(tenant)s AND {} IN %(days)s"
    return [
        # The mutations touch only the parts that exist now; the inserts after them add new
        # parts, which they leave alone.
        Statement(delete.format(layout.storage(TRAFFIC_DAILY.name), "day"), p, visitor=visitor),
        Statement(
            delete.format(layout.storage(TRAFFIC_HOURLY.name), "toDate(hour)"), p, visitor=visitor
        ),
        Statement(daily, p, visitor=visitor),
        Statement(hourly, p, visitor=visitor),
    ]


def forget(
    layout: Layout, tenant: str, visitor: str, erased_at_ms: int, days: Sequence[str]
) -> list[Statement]:
    """Everything stored of a visitor at or before an erasure goes: its visits and their
    indexes and summaries (``statements.delete_erased``), and its share of the aggregates of
    ``days`` (the :func:`erased_days` read before the deletes), rebuilt. What DELETE and the
    worker's purge of visits that slipped in both run."""
    return [
        *delete_erased(layout, tenant, visitor, erased_at_ms),
        *rebuild_days(layout, tenant, days, visitor),
    ]


#: The monthly partitions of the visits on the node asked, with their row counts.
def visit_months(layout: Layout) -> Statement:
    return Statement(
        f"SELECT toYYYYMM(time) AS month, count() FROM {layout.storage(VISITS.name)}"
        " GROUP BY month ORDER BY month",
        {},
    )


def backfill_month(layout: Layout, month: int) -> list[Statement]:
    """The aggregate states of one month (``YYYYMM``) of the visits on the node asked, into
    its aggregate tables: on a cluster, run on one replica of every shard."""
    daily, hourly = _inserts(layout, _source(layout, "toYYYYMM(time) = %(month)s"))
    return [Statement(daily, {"month": month}), Statement(hourly, {"month": month})]


def erased_days(layout: Layout, tenant: str, visitor_id: str, erased_at_ms: int) -> Statement:
    """The UTC days (``YYYY-MM-DD``) with stored visits of a visitor at or before an erasure:
    what :func:`rebuild_days` must redo. Run it before the erasure's ``ALTER ... DELETE``
    (after it, the visits may be gone)."""
    return Statement(
        f"SELECT DISTINCT toString(toDate(time)) FROM {layout.storage(VISITS.name)}"
        " WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s AND timestamp_ms <= %(at)s",
        {"tenant": tenant, "visitor": visitor_id, "at": erased_at_ms},
        visitor=visitor_id,
    )
