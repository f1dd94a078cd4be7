"""GET /visitors' page as one UNION ALL of single-table reads, joined here: pure.

Why (docs/benchmarks.md, bench/profiling.md): on 18.16 the page query's cost was the column
files it opened (28 per part touched) and its joins (the updates JOIN alone about doubled
it). Here every branch reads one table by its primary key, and the page branch reads
``visit_pages`` (040: the sort key plus one ``body`` column) instead of 28 columns of visits:

- ``0`` the page: (timestamp_ms, request_id, body), newest first, each requestId once;
- ``1`` the tenant's summary of the visitor (visitor_summary), ``2`` the global one;
- ``3`` the visitor's latest erasure instant; ``4`` whether the paginationKey is a visit of
  the visitor (only when one is given);
- ``5`` the newest PATCH of each of the visitor's events (linked id, tags).

What the one-query page did in SQL happens in :func:`assemble`, with the same results:

- the erasure filter (``timestamp_ms > erased``) is applied after ``LIMIT``: the page is
  newest first and the filter keeps exactly the visits newer than one instant, so the rows
  it keeps are the first ones of the filtered history: the same page, and a dropped extra
  row means nothing older survives either;
- a PATCH overrides the stored linked id and tag where it sets them (``ifNull``).

A page filtered by linkedId tests the effective (patched) value before LIMIT, which needs
the JOIN: it keeps :func:`query_api.queries.visit_page`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from query_api import page_rows, queries, render
from query_api.params import VisitQuery
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement

Run = Callable[[Statement], list[tuple[Any, ...]]]

_NONE: Final = "CAST(NULL AS Nullable(String))"
# Every branch: (kind, a, b, s, t, n1, n2), typed alike (18.16's UNION ALL wants equal types).
_BRANCHES: Final = {
    "page": (
        "SELECT toUInt8(0) AS kind, timestamp_ms AS a, toUInt64(0) AS b, request_id AS s,"
        f" body AS t, {_NONE} AS n1, {_NONE} AS n2 FROM {{db}}.visit_pages"
        " WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s"
        " AND timestamp_ms >= %(from)s AND timestamp_ms < %(to)s{filters}"
        " ORDER BY timestamp_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT %(fetch)s"
    ),
    "summary": (
        "SELECT toUInt8(1), minMerge(first_seen), maxMerge(last_seen), toString(count()), '',"
        f" {_NONE}, {_NONE} FROM {{db}}.visitor_summary"
        " WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s"
    ),
    "global": (
        "SELECT toUInt8(2), minMerge(first_seen), maxMerge(last_seen), '', '',"
        f" {_NONE}, {_NONE} FROM {{db}}.visitor_summary_global WHERE visitor_id = %(visitor)s"
    ),
    "erased": (
        "SELECT toUInt8(3), toUInt64(max(erased_at_ms)), toUInt64(0), '', '',"
        f" {_NONE}, {_NONE} FROM {{db}}.erasures"
        " WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s"
    ),
    "key": (
        "SELECT toUInt8(4), count(), toUInt64(0), '', '',"
        f" {_NONE}, {_NONE} FROM {{db}}.visit_pages"
        " WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s AND request_id = %(key)s"
    ),
    "updates": (
        "SELECT toUInt8(5), toUInt64(0), toUInt64(0), request_id, '', latest.1, latest.2"
        " FROM (SELECT request_id, argMax(tuple(linked_id, tags), version) AS latest"
        " FROM {db}.event_updates WHERE tenant = %(tenant)s AND visitor_id = %(visitor)s"
        " GROUP BY request_id)"
    ),
}
_ON_PAGES: Final = ("{db}.visits ", "{db}.visit_pages ")
_LINKED: Final = queries.VISIT_COLUMNS.index("linked_id")
_TAG: Final = queries.VISIT_COLUMNS.index("tag")
_STORED: Final = len(queries.VISIT_COLUMNS) - 2  # body fields v3 reads, after request, time
#: The visit columns of the summary-only row (no visit in the page): render skips it.
_NO_VISIT: Final = ("", 0, *([None] * _STORED))


def served(query: VisitQuery) -> bool:
    """Whether this module serves the page (all but linkedId-filtered pages)."""
    return query.linked_id is None


def statement(layout: Layout, tenant: str, query: VisitQuery) -> Statement:
    """The page's one statement (``served(query)`` must hold); rows for :func:`assemble`."""
    params, filters, _effective, bounds = queries.page_conditions(query)
    params["tenant"] = tenant
    # The stored-row conditions (paging) name visits; visit_pages has the same rows, key
    # and time column, and is where the page is read.
    conditions = [c.replace(*_ON_PAGES) for c in (*bounds, *filters)]
    page = _BRANCHES["page"].format(filters="".join(" AND " + c for c in conditions), db="{db}")
    names = ["summary", "global", "erased", "updates"]
    if query.pagination_key is not None:
        names.append("key")
    sql = "\nUNION ALL\n".join([page, *(_BRANCHES[n] for n in names)])
    return Statement(queries.tables(sql, layout), params, visitor=query.visitor_id)


def assemble(
    rows: Sequence[Sequence[Any]], query: VisitQuery
) -> tuple[list[tuple[Any, ...]], render.Summary]:
    """The UNION's rows as the one-query page's: SUMMARY_COLUMNS + VISIT_COLUMNS per visit
    (one summary-only row when none), newest first; and its summary.

    Raises:
        page_rows.DamagedBody: a body that does not decode.
    """
    seen = [0, 0, 0, 0, 0]  # first, last, count, global first, global last
    erased_at = 0
    key_found = 1 if query.pagination_key is None else 0
    updates: dict[str, tuple[str | None, str | None]] = {}
    page: list[tuple[int, str, str]] = []
    for kind, a, b, s, t, n1, n2 in rows:
        if kind == 0:
            page.append((int(a), str(s), str(t)))
        elif kind == 1:
            seen[0], seen[1], seen[2] = int(a), int(b), int(s)
        elif kind == 2:
            seen[3], seen[4] = int(a), int(b)
        elif kind == 3:
            erased_at = int(a)
        elif kind == 4:
            key_found = int(a)
        else:
            updates[str(s)] = (n1, n2)
    head = (seen[0], seen[1], seen[2], seen[3], seen[4], erased_at, key_found)
    page.sort(reverse=True)  # the branch's order; the UNION need not keep it
    out = []
    for ts, request_id, body in page:
        if ts <= erased_at:
            break  # newest first: every later row is as old
        fields = page_rows.decode(body)
        visit = [request_id, ts, *fields[:_STORED]]
        linked, tags = updates.get(request_id, (None, None))
        if linked is not None:
            visit[_LINKED] = linked
        if tags is not None:
            visit[_TAG] = tags
        out.append((*head, *visit))
    if not out:
        out.append((*head, *_NO_VISIT))
    return out, render.summary(out[0])


def load(
    run: Run, layout: Layout, tenant: str, query: VisitQuery
) -> tuple[list[tuple[Any, ...]], render.Summary]:
    """A page's rows and summary through ``run`` (the pool, or chdb in tests): one statement
    either way."""
    if not served(query):
        rows = run(queries.visit_page(layout, tenant, query))
        if not rows:
            raise page_rows.DamagedBody("page query returned no summary row")
        return rows, render.summary(rows[0])
    return assemble(run(statement(layout, tenant, query)), query)
