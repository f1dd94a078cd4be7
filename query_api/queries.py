"""SQL text and bound parameters for every read and write the API makes: pure, no I/O.

Values always travel as bound parameters (``%(name)s``, escaped by the driver); the only
text spliced in is the database name, which config validated as a plain identifier, and
fixed fragments chosen here. Every statement runs on ClickHouse 18.16 and on current
releases (tests run them on both).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from query_api.months import LAST_DATETIME_MS, month, partition_bounds
from query_api.params import VisitQuery
from schemas.clickhouse import aggregates, statements
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement
from schemas.clickhouse.tables import REQUEST_INDEX

__all__ = ["PING", "Statement", "erase", "locate_request", "page_conditions", "tables",
           "visit_page", "visitor_state"]  # fmt: skip

#: Columns of a visit row, in the order :mod:`query_api.render` reads them.
VISIT_COLUMNS: Final = (
    "request_id",
    "timestamp_ms",
    "url",
    "ip",
    "incognito",
    "linked_id",
    "tag",
    "bot_probability",
    "browser_name",
    "browser_major_version",
    "browser_full_version",
    "os",
    "os_version",
    "device",
    "user_agent",
    "has_location",
    "accuracy_radius",
    "latitude",
    "longitude",
    "postal_code",
    "timezone",
    "city_name",
    "continent_code",
    "continent_name",
    "country_code",
    "country_name",
    "subdivision_iso_codes",
    "subdivision_names",
)
#: Columns before the visit columns in every row of :func:`visit_page`.
SUMMARY_COLUMNS: Final = (
    "first_seen",
    "last_seen",
    "visit_count",
    "global_first_seen",
    "global_last_seen",
    "erased_at",
    "key_found",
)

_TABLE: Final = re.compile(r"\{db\}\.(\w+)")


_ERASED = (
    "(SELECT max(erased_at_ms) FROM {db}.erasures"
    " WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s)"
)
_KEY_TS = (
    "(SELECT max(timestamp_ms) FROM {db}.visits WHERE tenant = %(tenant)s"
    " AND visitor_id = %(visitor)s AND request_id = %(key)s)"
)

# `visit_count` is only ever compared with 0 (render.summary): the number of summary rows is
# > 0 exactly when the distinct-visit count is (each row's state holds at least one visit), and
# count() spares ClickHouse deserialising the uniq states of every row in the granules it reads
# (docs/benchmarks.md: about 2.5x cheaper on the summary side).
# The partition bounds repeat the window on the partition key (toYYYYMM(time)), so ClickHouse
# skips whole monthly partitions outside the window: without them every partition
# contributes at least one granule per page, and the rows read would grow with the table's
# history instead of the visitor's (docs/benchmarks.md). See query_api.months.
# One round trip per page. The left side is an aggregate without GROUP BY, so it is always
# exactly one row (the visitor's summary, zeros when never seen); the right side is the page.
# ALL LEFT JOIN on a constant gives one row per visit, or the summary alone (with default,
# empty visit columns) when the window is empty: that is how 404 differs from `visits: []`.
# 18.16 allows one JOIN per SELECT, hence scalar subqueries for the other small lookups.
_PAGE = """
SELECT {summary}, {visit}
FROM
(
    SELECT 1 AS k,
        minMerge(first_seen) AS first_seen,
        maxMerge(last_seen) AS last_seen,
        count() AS visit_count,
        (SELECT minMerge(first_seen) FROM {db}.visitor_summary_global
            WHERE visitor_id = %(visitor)s) AS global_first_seen,
        (SELECT maxMerge(last_seen) FROM {db}.visitor_summary_global
            WHERE visitor_id = %(visitor)s) AS global_last_seen,
        {erased} AS erased_at,
        {key_found} AS key_found
    FROM {db}.visitor_summary
    WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s
) AS summary
ALL LEFT JOIN
(
    SELECT 1 AS k, {visit_effective}
    FROM
    (
        SELECT {visit_stored}
        FROM {db}.visits
        WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s
            AND timestamp_ms >= %(from)s AND timestamp_ms < %(to)s{partition_bounds}
            AND timestamp_ms > {erased}{filters}
    ) AS stored
    ALL LEFT JOIN
    (
        SELECT request_id, argMax(tuple(linked_id, tags), version) AS latest
        FROM {db}.event_updates
        WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s
        GROUP BY request_id
    ) AS changed USING request_id
    WHERE 1{effective_filters}
    ORDER BY timestamp_ms DESC, request_id DESC
    LIMIT 1 BY request_id
    LIMIT %(fetch)s
) AS page USING k
ORDER BY timestamp_ms DESC, request_id DESC
"""

# A PATCH /v4/events (event_updates) shows on every read: the stored visit's linked_id and
# tag, unless an update overrides them (argMax per event: never depends on merges; a replay
# of the visit rewrites only the stored side). A visit without update joins the default
# tuple (NULL, NULL), so ifNull keeps its own values.
_STORED: Final = {"linked_id": "linked_id AS stored_linked_id", "tag": "tag AS stored_tag"}
_EFFECTIVE: Final = {
    "linked_id": "ifNull(latest.1, stored_linked_id) AS linked_id",
    "tag": "ifNull(latest.2, stored_tag) AS tag",
}


def _paging(query: VisitQuery, params: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Where a page continues a walk: its conditions, and the regions "ahead" of it (the
    ones its earlier pages covered), one per condition. Binds what they need into ``params``.
    """
    resume, ahead = [], []
    if query.before_ms is not None:
        params["before"] = query.before_ms
        resume.append("timestamp_ms < %(before)s")
        ahead.append("timestamp_ms >= %(before)s")
        if query.before_ms <= LAST_DATETIME_MS:
            resume.append("toYYYYMM(time) <= %(before_month)s")  # see query_api.months
            params["before_month"] = month(max(query.before_ms - 1, 0))
    if query.pagination_key is not None:
        # Keyset paging on the sort key: resumes exactly after that visit, ties included.
        resume.append(f"(timestamp_ms, request_id) < ({_KEY_TS}, %(key)s)")
        # Spelled out rather than as a tuple comparison, so the primary key prunes by it.
        ahead.append(
            f"(timestamp_ms > {_KEY_TS} OR (timestamp_ms = {_KEY_TS} AND request_id >= %(key)s))"
        )
    return resume, ahead


def tables(sql: str, layout: Layout) -> str:
    """``{db}.<table>`` placeholders as the tables a visitor's shard stores (on one server,
    the tables themselves): every per-visitor read runs on the visitor's shard."""
    return _TABLE.sub(lambda m: layout.storage(m.group(1)), sql)


def page_conditions(query: VisitQuery) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    """What a page of ``query`` binds and tests: (params, conditions on the stored rows,
    conditions on the effective ones (after updates), partition bounds). The stored-row
    conditions name ``{db}.visits``; they hold as written on ``visit_pages`` too (same sort
    key, same ``time``). Pure."""
    filters: list[str] = []
    bounds, month_params = partition_bounds(query.from_ms, query.to_ms)
    params: dict[str, Any] = {
        "visitor": query.visitor_id,
        "from": query.from_ms,
        "to": query.to_ms,
        "fetch": query.limit + 1,
        "key": query.pagination_key or "",
        **month_params,
    }
    if query.request_id is not None:
        filters.append("request_id = %(request_id)s")
        params["request_id"] = query.request_id
    effective = []
    stored_linked = []
    if query.linked_id is not None:
        # The page filters on the effective linked id; the "ahead" region (copies of one
        # requestId, see above) on the stored one, which it reads without the updates.
        effective.append("linked_id = %(linked_id)s")
        stored_linked.append("linked_id = %(linked_id)s")
        params["linked_id"] = query.linked_id
    resume, ahead = _paging(query, params)
    if ahead:
        window = " AND ".join(
            [
                "tenant = %(tenant)s AND visitor_id = %(visitor)s",
                "timestamp_ms >= %(from)s AND timestamp_ms < %(to)s",
                *bounds,
                f"timestamp_ms > {_ERASED}",
                *filters,
                *stored_linked,
            ]
        )
        resume.append(
            f"request_id NOT IN (SELECT request_id FROM {{db}}.visits WHERE {window}"
            f" AND ({' OR '.join(ahead)}))"
        )
    filters += resume
    return params, filters, effective, bounds


def visit_page(layout: Layout, tenant: str, query: VisitQuery) -> Statement:
    """Summary plus one page of a visitor's visits, newest first, ``limit + 1`` rows at most.

    The extra row only says that more remain. Each result row is SUMMARY_COLUMNS followed by
    VISIT_COLUMNS; a lone row with an empty request_id means "no visit in this page".

    A requestId is one event even when it was stored twice with different timestamps (the
    sort key holds timestamp_ms, so such copies never collapse): every page shows it once,
    as its newest copy in the window. LIMIT 1 BY does that within a page. A page that
    continues a walk also leaves out every requestId with a copy ahead of it (in the window,
    passing the same filters), which its earlier pages showed already, or left out as not
    its newest. That IN-subquery (18.16 allows one JOIN per SELECT) reads the visitor's
    rows from the page's position up to ``to`` a second time; first pages, most requests,
    need none of it and get none.
    """
    params, filters, effective, bounds = page_conditions(query)
    params["tenant"] = tenant
    key_found = (
        "(SELECT count() FROM {db}.visits WHERE tenant = %(tenant)s"
        " AND visitor_id = %(visitor)s AND request_id = %(key)s)"
        if query.pagination_key is not None
        else "toUInt64(1)"
    )
    sql = _PAGE.format(
        summary=", ".join(SUMMARY_COLUMNS),
        visit=", ".join(VISIT_COLUMNS),
        visit_stored=", ".join(_STORED.get(c, c) for c in VISIT_COLUMNS),
        visit_effective=", ".join(_EFFECTIVE.get(c, c) for c in VISIT_COLUMNS),
        erased=_ERASED,
        key_found=key_found,
        filters="".join("\n            AND " + f for f in filters),
        effective_filters="".join(" AND " + f for f in effective),
        partition_bounds="".join("\n            AND " + b for b in bounds),
        db="{db}",
    )
    return Statement(tables(sql, layout), params, visitor=query.visitor_id)


def locate_request(layout: Layout, tenant: str, request_id: str) -> Statement:
    """(visitor_id, timestamp_ms) of a tenant's request id; no rows when unknown. On a
    cluster through the Distributed table: the request's visitor, so its shard, is what this
    finds out."""
    return Statement(
        f"SELECT visitor_id, timestamp_ms FROM {layout.qualified(REQUEST_INDEX.name)}"
        " WHERE tenant = %(tenant)s AND request_id = %(request_id)s LIMIT 1",
        {"tenant": tenant, "request_id": request_id},
    )


def visitor_state(layout: Layout, tenant: str, visitor_id: str) -> Statement:
    """One row: (distinct visits, last seen ms, erased-at ms) of a tenant's visitor."""
    sql = (
        f"SELECT uniqMerge(visits), maxMerge(last_seen), {_ERASED}"
        " FROM {db}.visitor_summary WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s"
    )
    return Statement(
        tables(sql, layout), {"tenant": tenant, "visitor": visitor_id}, visitor=visitor_id
    )


#: The days an erasure's rebuild of the aggregates covers (run before :func:`erase`'s deletes).
erased_days: Final = aggregates.erased_days


def erase(
    layout: Layout, tenant: str, visitor_id: str, erased_at_ms: int, days: Sequence[str] = ()
) -> list[Statement]:
    """Record an erasure, then delete stored data at or before it (mutations run async) and
    rebuild the analysts' aggregates of ``days`` (``aggregates.erased_days``, read before).

    The erasures row alone hides the data at once (every read filters on it) and makes the
    ingest worker drop replays; the ALTERs reclaim the storage afterwards (the worker runs
    them again for visits that were in flight, see ``ingest.purge``).
    """
    return [
        statements.record_erasure(layout, tenant, visitor_id, erased_at_ms),
        *aggregates.forget(layout, tenant, visitor_id, erased_at_ms, days),
    ]


PING: Final = Statement("SELECT 1", {})
