"""The two ClickHouse engines the API's SQL must run on, behind one small interface.

``ServerEngine`` is the real server of the test session (Debian's 18.16 locally, whole-second
``time``); ``ChdbEngine`` is the current engine in-process (chdb, ``DateTime64(3)`` time). Both
store the rows the worker's row builder makes for them (tests/query_api/visits.py) and run the
API's :class:`~query_api.queries.Statement` objects as the API's pool would.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from clickhouse_driver.util.escape import escape_params

from query_api import pages, params, queries, render
from schemas.clickhouse import migrations
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.migrations import ServerFeatures
from schemas.visit import EnrichedVisit
from tests.query_api import visits
from tests.support.services import ChdbSession


class Engine(Protocol):
    """A migrated database on one engine: insert the worker's rows, run the API's SQL."""

    name: str
    database: str
    features: ServerFeatures

    def insert(self, rows: Sequence[EnrichedVisit]) -> None: ...

    def run(self, statement: queries.Statement) -> list[tuple[Any, ...]]: ...


class ServerEngine:
    """The session's real server, on this test's database (``ch_client``)."""

    name = "server"

    def __init__(self, client: Any, database: str) -> None:
        self.client, self.database = client, database
        self.features = visits.features_of(client.execute)

    def insert(self, rows: Sequence[EnrichedVisit]) -> None:
        visits.insert(self.client, rows)

    def run(self, statement: queries.Statement) -> list[tuple[Any, ...]]:
        return list(self.client.execute(statement.sql, statement.params))


class ChdbEngine:
    """One fresh migrated database in the session's chdb; dropped by :meth:`drop`."""

    name = "chdb"

    def __init__(self, session: ChdbSession) -> None:
        self.session = session
        self.database = f"vh_chdb_{uuid.uuid4().hex[:8]}"
        migrations.apply(session.execute, self.database, log=lambda _m: None)
        self.features = visits.features_of(session.execute)

    def insert(self, rows: Sequence[EnrichedVisit]) -> None:
        text = visits.json_each_row(visits.worker_rows(rows, self.features), self.features)
        self.session.execute(f"INSERT INTO {self.database}.visits FORMAT JSONEachRow\n{text}")

    def run(self, statement: queries.Statement) -> list[tuple[Any, ...]]:
        # clickhouse-driver substitutes parameters client-side; do exactly that for chdb.
        return self.session.execute(statement.sql % escape_params(statement.params, None))

    def drop(self) -> None:
        self.session.execute(f"DROP DATABASE IF EXISTS {self.database}")


def page(
    engine: Engine, tenant: str, query: params.VisitQuery
) -> tuple[list[tuple[Any, ...]], render.Summary]:
    """The page query's rows and the summary they carry (query_api.routes._page)."""
    return pages.load(engine.run, Layout(engine.database), tenant, query)


def get_visitors(
    engine: Engine, tenant: str, visitor: str, query: Mapping[str, str], *, now_ms: int
) -> tuple[int, dict[str, Any]]:
    """GET /visitors/{visitor}?query's status and body, as query_api.routes.get_visits
    answers them (its default limits), on this engine."""
    try:
        parsed = params.visit_query(visitor, query, now_ms=now_ms, default_limit=100, max_limit=500)
        rows, about = page(engine, tenant, parsed)
        return render.visitors(parsed, rows, about)
    except params.BadParameter as exc:
        return 400, {"error": str(exc)}


def walk(
    engine: Engine,
    tenant: str,
    visitor: str,
    query: Mapping[str, str],
    now_ms: Callable[[], int],
    *,
    key: str = "paginationKey",
) -> list[str]:
    """Every requestId of a page-by-page walk, in order. ``key`` is how each page continues:
    ``paginationKey`` (v3) or the deprecated ``before`` (the previous lastTimestamp)."""
    seen: list[str] = []
    following: dict[str, str] = {}
    while True:
        status, body = get_visitors(
            engine, tenant, visitor, {**query, **following}, now_ms=now_ms()
        )
        assert status == 200, body
        seen += [v["requestId"] for v in body["visits"]]
        if "paginationKey" not in body:
            return seen
        following = {
            key: str(body["paginationKey"] if key == "paginationKey" else body["lastTimestamp"])
        }


def erase(engine: Engine, tenant: str, visitor: str, at_ms: int, timeout: float = 30.0) -> None:
    """DELETE /visitors/{visitor}'s statements at instant ``at_ms``, then wait until the
    mutations removed the rows (the API itself never waits for them)."""
    for statement in queries.erase(Layout(engine.database), tenant, visitor, at_ms):
        engine.run(statement)
    pending = queries.Statement(
        "SELECT count() FROM system.mutations WHERE database = %(db)s AND is_done = 0",
        {"db": engine.database},
    )
    deadline = time.monotonic() + timeout
    while int(engine.run(pending)[0][0]):
        assert time.monotonic() < deadline, "mutations did not finish"
        time.sleep(0.05)


def get_event(engine: Engine, tenant: str, request_id: str) -> dict[str, Any] | None:
    """GET /events/{request_id}'s body, None for its 404: the statements of
    query_api.routes.get_event, in the same order, on this engine."""
    where = queries.locate_request(Layout(engine.database), tenant, request_id)
    found = engine.run(where)
    if not found:
        return None
    visitor, ts = str(found[0][0]), int(found[0][1])
    rows, about = page(engine, tenant, params.event_query(visitor, ts, request_id))
    return render.event(visitor, rows[0], about) if render.has_visit(rows[0]) else None
