"""The API's SQL on the current ClickHouse engine (chdb), as it runs on the 18.16 server.

Same statements, same expectations: dedup by requestId, keyset paging with ties, erasure
filtering and the summary row that tells 404 from an empty window. The rows are the worker's
own (``DateTime64(3)`` time with milliseconds), inserted through tests/query_api/engines.py.
"""

from __future__ import annotations

from typing import Any

from query_api import queries, render
from query_api.params import MAX_MS, VisitQuery
from schemas.clickhouse.layout import Layout
from tests.query_api import visits
from tests.query_api.engines import ChdbEngine

TENANT = "acme"
T = 1_714_550_400_123  # 2024-05-01T08:00:00.123Z: milliseconds, as collectors send them


def page(chdb: ChdbEngine, query: VisitQuery) -> tuple[list[tuple[Any, ...]], render.Summary]:
    rows = chdb.run(queries.visit_page(Layout(chdb.database), TENANT, query))
    return rows, render.summary(rows[0])


def ids(rows: list[tuple[Any, ...]]) -> list[str]:
    return [render.visit(r, render.summary(r))["requestId"] for r in rows if render.has_visit(r)]


def test_unknown_known_and_empty_window(chdb: ChdbEngine) -> None:
    rows, about = page(chdb, VisitQuery("nobody", 0, MAX_MS, 10))
    assert (len(rows), about.known, ids(rows)) == (1, False, [])
    chdb.insert([visits.visit(TENANT, "V", T, "r1")])
    rows, about = page(chdb, VisitQuery("V", T + 1, MAX_MS, 10))
    assert (about.known, ids(rows)) == (True, [])
    rows, about = page(chdb, VisitQuery("V", 0, MAX_MS, 10))
    assert (about.first_seen, about.last_seen, ids(rows)) == (T, T, ["r1"])


def test_paging_with_ties_and_duplicates_is_exact(chdb: ChdbEngine) -> None:
    history = [visits.visit(TENANT, "V", T + (i // 3) * 7, f"q{i:03d}") for i in range(90)]
    chdb.insert(history[:50])
    chdb.insert(history[50:])
    chdb.insert(history[20:70])  # redelivered
    seen: list[str] = []
    key: str | None = None
    while True:
        rows, about = page(chdb, VisitQuery("V", 0, MAX_MS, 11, pagination_key=key))
        body = render.page("V", rows, 11, about)
        seen += [v["requestId"] for v in body["visits"]]
        if "paginationKey" not in body:
            break
        key = body["paginationKey"]
    assert seen == [
        v.request_id
        for v in sorted(history, key=lambda v: (v.timestamp, v.request_id), reverse=True)
    ]


def test_filters_and_erasure(chdb: ChdbEngine) -> None:
    chdb.insert(
        [visits.visit(TENANT, "V", T + i * 250, f"e{i}", linked_id=f"L{i % 2}") for i in range(6)]
    )
    rows, _ = page(chdb, VisitQuery("V", 0, MAX_MS, 10, linked_id="L1", before_ms=T + 1_250))
    assert ids(rows) == ["e3", "e1"]
    rows, _ = page(chdb, VisitQuery("V", 0, MAX_MS, 10, request_id="e2"))
    assert ids(rows) == ["e2"]
    for statement in queries.erase(Layout(chdb.database), TENANT, "V", T + 750):
        chdb.run(statement)
    rows, about = page(chdb, VisitQuery("V", 0, MAX_MS, 10))
    assert ids(rows) == ["e5", "e4"]
    assert about.known and about.first_seen in (None, T + 1_000)
    state = chdb.run(queries.visitor_state(Layout(chdb.database), TENANT, "V"))
    assert int(state[0][2]) == T + 750
