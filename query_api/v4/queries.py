"""SQL of the v4 routes, with bound parameters: pure, no I/O.

A search is two steps. :func:`candidates` reads ``event_index`` in the ordering of the
search's access path (visitor, linked id, IP range, URL, else the tenant's time line), with
every filter tested in the same read, and returns one page of (visitor, event, time)
triples; :func:`visit_rows`, :func:`updates` and :func:`as_of` then read just those events.
Rows read follow the answer: the index rows of one key in one window, plus the page's own
visits (``tests/query_api/test_v4_read_rows.py``). Every statement runs on 18.16 and on the
current engine (``tests/query_api/test_v4_queries_chdb.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from query_api.months import month
from query_api.queries import VISIT_COLUMNS
from query_api.v4.params import Search
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import SYNC_DISTRIBUTED, Statement
from schemas.clickhouse.tables import ERASURES, EVENT_INDEX, EVENT_UPDATES, VISIT_PAGES, VISITS

#: What v4 reads of a visit beyond v3's columns, in the order :mod:`query_api.v4.render`
#: reads them.
V4_COLUMNS: Final = (
    "client_referrer",
    "environment_id",
    "sdk_platform",
    "sdk_version",
    "asn",
    "asn_name",
    "asn_network",
    "bot",
)
ROW_COLUMNS: Final = ("visitor_id", *VISIT_COLUMNS, *V4_COLUMNS)

# An erasure hides a visitor's events up to its instant. The index rows go by mutation, later;
# until then each read filters them out. Only erasures at or after the window's start can hide
# anything in it, so the map is small: (visitor ids, instants), with a sentinel first because
# 18.16's transform() refuses empty arrays. One aggregation builds both arrays, in one order.
_ERASED_MAP = (
    "WITH (SELECT (arrayConcat([''], groupArray(visitor_id)),"
    " arrayConcat([toUInt64(0)], groupArray(erased)))"
    " FROM (SELECT visitor_id, max(erased_at_ms) AS erased FROM {erasures}"
    " WHERE tenant = %(tenant)s{erased_visitor} GROUP BY visitor_id"
    " HAVING erased >= %(start)s)) AS erased_map\n"
)
_NOT_ERASED = "timestamp_ms > transform(visitor_id, erased_map.1, erased_map.2, toUInt64(0))"

# The effective value of a field a PATCH may have changed: the newest update, else the visit's.
# The update subqueries read the shard's own updates (a visitor's index rows and updates live
# on the same shard; a Distributed table in a subquery of a Distributed query is refused).
_LATEST_UPDATES = (
    "SELECT visitor_id, request_id, argMax(tuple(linked_id, suspect), version) AS latest"
    " FROM {updates} WHERE tenant = %(tenant)s"
    " AND timestamp_ms >= %(start)s AND timestamp_ms < %(end)s"
    " GROUP BY visitor_id, request_id"
)
_LINKED = (
    "((visitor_id, request_id) IN (SELECT visitor_id, request_id FROM ({latest})"
    " WHERE latest.1 = %(linked_id)s)"
    " OR (linked_id = %(linked_id)s AND (visitor_id, request_id) NOT IN"
    " (SELECT visitor_id, request_id FROM ({latest}) WHERE latest.1 IS NOT NULL)))"
)
_SUSPECT = (
    "(visitor_id, request_id) IN (SELECT visitor_id, request_id FROM ({latest})"
    " WHERE latest.2 = %(suspect)s)"
)


def access_path(search: Search) -> tuple[str, str]:
    """The ordering a search reads: (access, condition on ``key``), the most selective first."""
    if search.visitor_id is not None:
        return "v", "key = %(visitor_id)s"
    if search.linked_id is not None:
        return "l", "key = %(linked_id)s"
    if search.ip_range is not None:
        return "i", "key >= %(ip_low)s AND key <= %(ip_high)s"
    if search.url is not None:
        return "u", "key = %(url)s"
    return "t", "key = ''"


def _filters(search: Search, layout: Layout, params: dict[str, Any]) -> list[str]:
    out = []
    if search.ip_range is not None:
        params["ip_low"], params["ip_high"] = search.ip_range
        out.append("ip_key >= %(ip_low)s AND ip_key <= %(ip_high)s")
    for name in ("visitor_id", "url", "origin", "asn"):
        value = getattr(search, name)
        if value is not None:
            params[name] = value
            out.append(f"{name} = %({name})s")
    if search.bots is not None:
        params["bots"] = tuple(search.bots)
        out.append("bot IN %(bots)s")
    if search.incognito is not None:
        params["incognito"] = int(search.incognito)
        out.append("incognito = %(incognito)s")
    latest = _LATEST_UPDATES.format(updates=layout.storage(EVENT_UPDATES.name))
    if search.linked_id is not None:
        params["linked_id"] = search.linked_id
        out.append(_LINKED.format(latest=latest))
    if search.suspect is not None:
        params["suspect"] = int(search.suspect)
        out.append(_SUSPECT.format(latest=latest))
    return out


def _cursor(search: Search, params: dict[str, Any]) -> list[str]:
    """Keyset paging on (timestamp_ms, request_id), spelled so the primary key prunes by it."""
    if search.after is None:
        return []
    params["after_ts"], params["after_id"] = search.after.timestamp_ms, search.after.request_id
    if search.reverse:
        return [
            "timestamp_ms >= %(after_ts)s",
            "(timestamp_ms > %(after_ts)s OR request_id > %(after_id)s)",
        ]
    return [
        "timestamp_ms <= %(after_ts)s",
        "(timestamp_ms < %(after_ts)s OR request_id < %(after_id)s)",
    ]


def candidates(layout: Layout, tenant: str, search: Search, *, fetch: int) -> Statement:
    """(visitor_id, request_id, timestamp_ms) of up to ``fetch`` matching events from the
    search's position on, in its order, each event once."""
    erased, select, params = _candidates(layout, tenant, search, fetch=fetch, paged=True)
    return Statement(erased + select, params)


def _candidates(
    layout: Layout, tenant: str, search: Search, *, fetch: int, paged: bool
) -> tuple[str, str, dict[str, Any]]:
    """The WITH clause (the erasure map), the SELECT, and their parameters."""
    access, key = access_path(search)
    params: dict[str, Any] = {
        "tenant": tenant,
        "access": access,
        "start": search.start_ms,
        "end": search.end_ms,
        "fetch": fetch,
    }
    where = [
        "tenant = %(tenant)s",
        "access = %(access)s",
        key,
        "timestamp_ms >= %(start)s",
        "timestamp_ms < %(end)s",
        *(_cursor(search, params) if paged else []),
        *_filters(search, layout, params),
        _NOT_ERASED,
    ]
    erased_visitor = ""
    if search.visitor_id is not None:
        erased_visitor = " AND visitor_id = %(visitor_id)s"
    order = "ASC" if search.reverse else "DESC"
    erased = _ERASED_MAP.format(
        erasures=layout.qualified(ERASURES.name), erased_visitor=erased_visitor
    )
    select = (
        f"SELECT visitor_id, request_id, timestamp_ms FROM {layout.qualified(EVENT_INDEX.name)}"
        + "\nWHERE "
        + "\n    AND ".join(where)
        + f"\nORDER BY timestamp_ms {order}, request_id {order}"
        + "\nLIMIT 1 BY request_id\nLIMIT %(fetch)s"
    )
    return erased, select, params


def total_hits(layout: Layout, tenant: str, search: Search, cap: int) -> Statement:
    """One row: how many events match the search (its whole window), counting up to ``cap``."""
    erased, select, params = _candidates(layout, tenant, search, fetch=cap, paged=False)
    return Statement(f"SELECT count() FROM ({erased}{select})", params)


def visit_rows(layout: Layout, tenant: str, events: Sequence[tuple[str, str, int]]) -> Statement:
    """(visitor_id, request_id, timestamp_ms, body) of the stored copies of these (visitor,
    request, time) events, read from ``visit_pages`` (040: the key and one body column
    instead of the 37 ROW_COLUMNS of visits; ``page_rows.decode`` gives the rest); copies of
    one event may come back more than once (the caller keeps one)."""
    times = [ts for _, _, ts in events]
    erased = _ERASED_MAP.format(
        erasures=layout.qualified(ERASURES.name), erased_visitor=" AND visitor_id IN %(visitors)s"
    )
    return Statement(
        erased + "SELECT visitor_id, request_id, timestamp_ms, body"
        f" FROM {layout.qualified(VISIT_PAGES.name)}"
        f" WHERE {_NOT_ERASED} AND tenant = %(tenant)s AND visitor_id IN %(visitors)s"
        " AND request_id IN %(requests)s"
        " AND timestamp_ms >= %(low)s AND timestamp_ms <= %(high)s"
        # The monthly partitions again, as the v3 page does (query_api.queries): whole months
        # outside the page are skipped without opening their index.
        " AND toYYYYMM(time) >= %(low_month)s AND toYYYYMM(time) <= %(high_month)s",
        {
            "tenant": tenant,
            "visitors": tuple(sorted({v for v, _, _ in events})),
            "requests": tuple(sorted({r for _, r, _ in events})),
            "low": min(times),
            "start": min(times),  # erasures before the earliest event hide none of them
            "high": max(times),
            "low_month": month(min(times)),
            "high_month": month(max(times)),
        },
    )


def updates(layout: Layout, tenant: str, events: Sequence[tuple[str, str]]) -> Statement:
    """(visitor_id, request_id, linked_id, tags, suspect, version) of the newest update of
    each of these (visitor, request) events that has one."""
    return Statement(
        "SELECT visitor_id, request_id, latest.1, latest.2, latest.3, newest FROM"
        " (SELECT visitor_id, request_id, argMax(tuple(linked_id, tags, suspect), version)"
        f" AS latest, max(version) AS newest FROM {layout.qualified(EVENT_UPDATES.name)}"
        " WHERE tenant = %(tenant)s AND visitor_id IN %(visitors)s"
        " AND request_id IN %(requests)s GROUP BY visitor_id, request_id)",
        {
            "tenant": tenant,
            "visitors": tuple(sorted({v for v, _ in events})),
            "requests": tuple(sorted({r for _, r in events})),
        },
    )


def as_of(layout: Layout, tenant: str, events: Sequence[tuple[str, str, int]]) -> Statement:
    """Per event i: (i, earlier visits, first, last seen ms among them) of its visitor,
    before the event and after the visitor's latest erasure: v4's ``visitor_found``,
    ``first_seen_at`` and ``last_seen_at`` as they were at that event.

    One branch per event, each reading only that visitor's earlier rows (primary key
    tenant, visitor_id, timestamp_ms)."""
    visits, erasures = layout.qualified(VISITS.name), layout.qualified(ERASURES.name)
    params: dict[str, Any] = {"tenant": tenant}
    branches = []
    for i, (visitor, request, ts) in enumerate(events):
        params[f"v{i}"], params[f"r{i}"], params[f"t{i}"] = visitor, request, ts
        branches.append(
            f"SELECT toUInt32({i}) AS i, count() AS n, min(timestamp_ms) AS first,"
            f" max(timestamp_ms) AS last FROM {visits}"
            f" WHERE tenant = %(tenant)s AND visitor_id = %(v{i})s AND timestamp_ms < %(t{i})s"
            f" AND request_id != %(r{i})s AND timestamp_ms > (SELECT max(erased_at_ms)"
            f" FROM {erasures} WHERE tenant = %(tenant)s AND visitor_id = %(v{i})s)"
        )
    return Statement("\nUNION ALL\n".join(branches), params)


def record_update(
    layout: Layout,
    tenant: str,
    event: tuple[str, str, int],
    state: tuple[str | None, str | None, int | None],
    version: int,
) -> Statement:
    """The update row holding an event's whole override state after a PATCH
    (linked_id, tags as JSON text, suspect as 0/1; None: not overridden)."""
    visitor, request, ts = event
    linked, tags, suspect = state
    return Statement(
        f"INSERT INTO {layout.qualified(EVENT_UPDATES.name)}"
        " (tenant, visitor_id, request_id, timestamp_ms, linked_id, tags, suspect, version)"
        " SELECT %(tenant)s, %(visitor)s, %(request)s, toUInt64(%(ts)s),"
        " CAST(%(linked)s AS Nullable(String)), CAST(%(tags)s AS Nullable(String)),"
        " CAST(%(suspect)s AS Nullable(UInt8)), toUInt64(%(version)s)",
        {
            "tenant": tenant,
            "visitor": visitor,
            "request": request,
            "ts": ts,
            "linked": linked,
            "tags": tags,
            "suspect": suspect,
            "version": version,
        },
        SYNC_DISTRIBUTED if layout.cluster else {},
    )


def index_linked(
    layout: Layout, tenant: str, event: tuple[str, str, int], linked: str
) -> Statement:
    """The ``l`` index row that lets a search by the linked id a PATCH set find the event: a
    copy of the event's ``v`` row under the new key."""
    visitor, request, ts = event
    columns = [c for c in EVENT_INDEX.columns if c not in ("access", "key")]
    return Statement(
        f"INSERT INTO {layout.qualified(EVENT_INDEX.name)} (access, key, {', '.join(columns)})"
        f" SELECT 'l', %(linked)s, {', '.join(columns)} FROM {layout.qualified(EVENT_INDEX.name)}"
        " WHERE tenant = %(tenant)s AND access = 'v' AND key = %(visitor)s"
        " AND timestamp_ms = %(ts)s AND request_id = %(request)s LIMIT 1",
        {"tenant": tenant, "linked": linked, "visitor": visitor, "ts": ts, "request": request},
        SYNC_DISTRIBUTED if layout.cluster else {},
    )
