"""Several visitors' first pages in one statement, split back into each page's rows: pure.

On 18.16 a query pays for every table it opens about as much as for the rows it reads
(bench/profiling.md): the same five single-table reads of :mod:`query_api.pages`, each over
``visitor_id IN (...)``, cost about a quarter per visitor at 8 visitors of what one
visitor's page costs alone. Each branch returns the visitor a row belongs to; :func:`split`
gives every page the rows its own statement would have returned, which
:func:`query_api.pages.assemble` turns into the same answer.

Only pages that start a walk batch (``batchable``): no paginationKey, no requestId or
linkedId filter; one tenant per batch, each visitor at most once (their windows, limits and
``before`` may differ: the page branch tests each visitor's own, and keeps each one's
``limit + 1`` newest). On a cluster pages do not batch (a batch would span shards).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from query_api import queries
from query_api.months import partition_bounds
from query_api.params import VisitQuery
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement

_NONE: Final = "CAST(NULL AS Nullable(String))"
_WHO: Final = "tenant = %(tenant)s AND visitor_id IN %(visitors)s"
# Every branch: (visitor_id, kind, a, b, s, t, n1, n2); kinds as in query_api.pages.
_PAGE: Final = (
    "SELECT visitor_id, kind, a, b, s, t, n1, n2 FROM"
    " (SELECT visitor_id, toUInt8(0) AS kind, timestamp_ms AS a, toUInt64(0) AS b,"
    f" request_id AS s, body AS t, {_NONE} AS n1, {_NONE} AS n2 FROM {{db}}.visit_pages"
    f" WHERE {_WHO}{{bounds}} AND ({{windows}})"
    " ORDER BY visitor_id, timestamp_ms DESC, request_id DESC LIMIT 1 BY visitor_id, request_id)"
    " LIMIT %(fetch)s BY visitor_id"
)
_BRANCHES: Final = (
    "SELECT visitor_id, toUInt8(1), minMerge(first_seen), maxMerge(last_seen),"
    f" toString(count()), '', {_NONE}, {_NONE} FROM {{db}}.visitor_summary"
    f" WHERE {_WHO} GROUP BY visitor_id",
    "SELECT visitor_id, toUInt8(2), minMerge(first_seen), maxMerge(last_seen), '', '',"
    f" {_NONE}, {_NONE} FROM {{db}}.visitor_summary_global WHERE visitor_id IN %(visitors)s"
    " GROUP BY visitor_id",
    "SELECT visitor_id, toUInt8(3), toUInt64(max(erased_at_ms)), toUInt64(0), '', '',"
    f" {_NONE}, {_NONE} FROM {{db}}.erasures WHERE {_WHO} GROUP BY visitor_id",
    "SELECT visitor_id, toUInt8(5), toUInt64(0), toUInt64(0), request_id, '', latest.1, latest.2"
    " FROM (SELECT visitor_id, request_id, argMax(tuple(linked_id, tags), version) AS latest"
    f" FROM {{db}}.event_updates WHERE {_WHO} GROUP BY visitor_id, request_id)",
)


def batchable(layout: Layout, query: VisitQuery) -> bool:
    """Whether this page may share a statement with other visitors' pages."""
    return (
        layout.cluster is None
        and query.pagination_key is None
        and query.request_id is None
        and query.linked_id is None
    )


def statement(layout: Layout, tenant: str, batch: Sequence[VisitQuery]) -> Statement:
    """One statement for these pages (``batchable``, distinct visitors, one tenant)."""
    if len({q.visitor_id for q in batch}) != len(batch):
        raise ValueError("a batch holds each visitor once")
    params: dict[str, Any] = {
        "tenant": tenant,
        "visitors": tuple(q.visitor_id for q in batch),
        "fetch": max(q.limit for q in batch) + 1,
    }
    # The months of the union of the windows (query_api.months: whole partitions skipped).
    bounds, months = partition_bounds(min(q.from_ms for q in batch), max(q.to_ms for q in batch))
    params.update(months)
    windows = []
    for i, q in enumerate(batch):
        params[f"v{i}"], params[f"f{i}"], params[f"t{i}"] = q.visitor_id, q.from_ms, q.to_ms
        window = f"visitor_id = %(v{i})s AND timestamp_ms >= %(f{i})s AND timestamp_ms < %(t{i})s"
        if q.before_ms is not None:
            params[f"b{i}"] = q.before_ms
            window += f" AND timestamp_ms < %(b{i})s"
        windows.append(f"({window})")
    page = _PAGE.format(
        bounds="".join(" AND " + b for b in bounds), windows=" OR ".join(windows), db="{db}"
    )
    sql = "\nUNION ALL\n".join([page, *_BRANCHES])
    return Statement(queries.tables(sql, layout), params)


def split(
    rows: Sequence[Sequence[Any]], batch: Sequence[VisitQuery]
) -> list[list[tuple[Any, ...]]]:
    """Each page's rows, in batch order, as :func:`query_api.pages.statement` returns them
    (its own ``limit + 1`` newest visits at most)."""
    index = {q.visitor_id: i for i, q in enumerate(batch)}
    out: list[list[tuple[Any, ...]]] = [[] for _ in batch]
    for visitor, *rest in rows:
        out[index[str(visitor)]].append(tuple(rest))
    for q, own in zip(batch, out, strict=True):
        visits = sorted((r for r in own if r[0] == 0), key=lambda r: (r[1], r[3]), reverse=True)
        own[:] = [r for r in own if r[0] != 0] + visits[: q.limit + 1]
    return out
