"""The API's SQL on the current ClickHouse engine (chdb), as it runs on the 18.16 server.

Same statements, same expectations: dedup by requestId, keyset paging with ties, erasure
filtering and the summary row that tells 404 from an empty window.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from clickhouse_driver.util.escape import escape_params

from query_api import queries, render
from query_api.params import MAX_MS, VisitQuery
from schemas.clickhouse import migrations
from schemas.visit import EnrichedVisit
from tests.conftest import ChdbSession
from tests.query_api import visits

TENANT = "acme"


class Chdb:
    """One fresh migrated database in the session's chdb; runs Statements like the pool."""

    def __init__(self, session: ChdbSession) -> None:
        self.session = session
        self.db = f"vh_chdb_{uuid.uuid4().hex[:8]}"
        migrations.apply(session.execute, self.db, log=lambda _m: None)

    def run(self, statement: queries.Statement) -> list[tuple[Any, ...]]:
        # The driver substitutes parameters client-side; do exactly that for chdb.
        return self.session.execute(statement.sql % escape_params(statement.params, None))

    def insert(self, rows: list[EnrichedVisit]) -> None:
        names = [c.strip() for c in visits.COLUMNS.split(",")]
        lines = []
        for v in rows:
            record = dict(zip(names, visits.row(v), strict=True))
            for key, value in record.items():
                if isinstance(value, datetime):
                    record[key] = value.strftime("%Y-%m-%d %H:%M:%S")
            lines.append(json.dumps(record))
        self.session.execute(
            f"INSERT INTO {self.db}.visits FORMAT JSONEachRow\n" + "\n".join(lines)
        )

    def page(self, query: VisitQuery) -> tuple[list[tuple[Any, ...]], render.Summary]:
        rows = self.run(queries.visit_page(self.db, TENANT, query))
        return rows, render.summary(rows[0])


@pytest.fixture
def chdb(chdb_session: ChdbSession) -> Iterator[Chdb]:
    db = Chdb(chdb_session)
    yield db
    chdb_session.execute(f"DROP DATABASE IF EXISTS {db.db}")


def ids(rows: list[tuple[Any, ...]]) -> list[str]:
    return [render.visit(r, render.summary(r))["requestId"] for r in rows if render.has_visit(r)]


def test_unknown_known_and_empty_window(chdb: Chdb) -> None:
    rows, about = chdb.page(VisitQuery("nobody", 0, MAX_MS, 10))
    assert (len(rows), about.known, ids(rows)) == (1, False, [])
    chdb.insert([visits.visit(TENANT, "V", 5_000, "r1")])
    rows, about = chdb.page(VisitQuery("V", 6_000, MAX_MS, 10))
    assert (about.known, ids(rows)) == (True, [])
    rows, about = chdb.page(VisitQuery("V", 0, MAX_MS, 10))
    assert (about.first_seen, about.last_seen, ids(rows)) == (5_000, 5_000, ["r1"])


def test_paging_with_ties_and_duplicates_is_exact(chdb: Chdb) -> None:
    history = [visits.visit(TENANT, "V", 1_000 + i // 3, f"q{i:03d}") for i in range(90)]
    chdb.insert(history[:50])
    chdb.insert(history[50:])
    chdb.insert(history[20:70])  # redelivered
    seen: list[str] = []
    key: str | None = None
    while True:
        rows, about = chdb.page(VisitQuery("V", 0, MAX_MS, 11, pagination_key=key))
        body = render.page("V", rows, 11, about)
        seen += [v["requestId"] for v in body["visits"]]
        if "paginationKey" not in body:
            break
        key = body["paginationKey"]
    assert seen == [
        v.request_id
        for v in sorted(history, key=lambda v: (v.timestamp, v.request_id), reverse=True)
    ]


def test_filters_and_erasure(chdb: Chdb) -> None:
    chdb.insert(
        [visits.visit(TENANT, "V", 1_000 + i, f"e{i}", linked_id=f"L{i % 2}") for i in range(6)]
    )
    rows, _ = chdb.page(VisitQuery("V", 0, MAX_MS, 10, linked_id="L1", before_ms=1_005))
    assert ids(rows) == ["e3", "e1"]
    rows, _ = chdb.page(VisitQuery("V", 0, MAX_MS, 10, request_id="e2"))
    assert ids(rows) == ["e2"]
    for statement in queries.erase(chdb.db, TENANT, "V", 1_003):
        chdb.run(statement)
    rows, about = chdb.page(VisitQuery("V", 0, MAX_MS, 10))
    assert ids(rows) == ["e5", "e4"]
    assert about.known and about.first_seen in (None, 1_004)
    state = chdb.run(queries.visitor_state(chdb.db, TENANT, "V"))
    assert int(state[0][2]) == 1_003
