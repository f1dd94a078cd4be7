"""The API benchmark's v4 searches and its serial floors (issue 15).

``run``: GET /v4/events by visitor id, linked id, IP range and time window, each a short
closed-loop wrk run on the same table, tokens and server as the v3 runs. ``serial_reads``:
one visitor at a time, no load, the cheapest single-visitor read ClickHouse can do on this
table (one column by primary key), today's page statement and the one before #15 (the JOIN
over 28 columns of visits): the ClickHouse side of the figures, as ratios in one run.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import api_data
from query_api import pages, params, queries
from schemas.clickhouse.layout import Layout

Load = Callable[[Path], Any]


def _paths(rows: int, anchor_ms: int, count: int = 2_000) -> dict[str, list[str]]:
    rng = random.Random(31)
    t = api_data.Tiers(rows)
    hour = 3_600_000

    def small() -> int:
        return rng.randrange(t.small)

    return {
        "visitor_id": [
            f"/v4/events?visitor_id={api_data.visitor_id('small', small())}&limit=10"
            for _ in range(count)
        ],
        "linked_id": [f"/v4/events?linked_id=user-{small()}&limit=10" for _ in range(count)],
        "ip range (/24)": [
            f"/v4/events?ip_address={rng.choice(api_data.PLACE_IPS).rsplit('.', 1)[0]}.0/24"
            "&limit=10"
            for _ in range(count)
        ],
        "time window (1 h)": [
            f"/v4/events?start={(s := anchor_ms - rng.randrange(1, 24 * 89) * hour)}"
            f"&end={s + hour}&limit=10"
            for _ in range(count)
        ],
    }


def run(
    var: Path,
    run_id: str,
    secret: str,
    rows: int,
    anchor_ms: int,
    load: Load,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """{search: wrk run}; the scripts are removed with the run's other files."""
    out = {}
    for i, (name, paths) in enumerate(_paths(rows, anchor_ms).items()):
        path_file = var / f"bench-{run_id}-v4-{i}.txt"
        path_file.write_text("".join(p + "\n" for p in paths), encoding="utf-8")
        script = var / f"bench-{run_id}-v4-{i}.lua"
        script.write_text(api_data.wrk_script(str(path_file), secret, bearer=True), "utf-8")
        out[name] = result = load(script)
        progress(
            f"v4 by {name}: {result.rps:,.0f} req/s, p99 {result.p99:.1f} ms,"
            f" {result.kinds} {result.non2xx} non-2xx"
        )
    return out


def serial_reads(
    ch: Any, database: str, anchor_ms: int, visitors: int = 200
) -> dict[str, tuple[float, float]]:
    """{statement: (median client ms, median ClickHouse CPU ms)} over small visitors'
    default pages, one at a time."""
    layout = Layout(database)
    ids = [
        str(v)
        for (v,) in ch.execute(
            f"SELECT any(visitor_id) FROM {database}.visitor_summary"
            f" GROUP BY cityHash64(visitor_id) % {visitors}"
        )
    ]

    def query(v: str) -> params.VisitQuery:
        return params.visit_query(
            v, {}, now_ms=anchor_ms + 60_000, default_limit=100, max_limit=500
        )

    candidates: dict[str, Callable[[str], tuple[str, dict[str, Any]]]] = {
        "SELECT 1": lambda v: ("SELECT 1", {}),
        "one column by primary key (visit_pages)": lambda v: (
            f"SELECT request_id FROM {database}.visit_pages"
            " WHERE tenant = %(t)s AND visitor_id = %(v)s",
            {"t": api_data.TENANT, "v": v},
        ),
        "page statement (pages.statement)": lambda v: _sql(
            pages.statement(layout, api_data.TENANT, query(v))
        ),
        "page statement before #15 (queries.visit_page)": lambda v: _sql(
            queries.visit_page(layout, api_data.TENANT, query(v))
        ),
    }
    # Each branch of today's page alone: where its CPU goes (a table opened costs about as
    # much as the rows read from it).
    for n, branch in enumerate(("page", "summary", "global", "erased", "updates")):
        candidates[f"  its branch {n}: {branch} alone"] = _branch(layout, query, n)
    out: dict[str, tuple[float, float]] = {}
    tag = f"serial{uuid.uuid4().hex[:8]}"
    for k, (name, make) in enumerate(candidates.items()):
        times = []
        for i, v in enumerate(ids):
            sql, bound = make(v)
            start = time.perf_counter()
            ch.execute(sql, bound, query_id=f"{tag}-{k}-{i}")
            times.append((time.perf_counter() - start) * 1000)
        out[name] = (statistics.median(times), 0.0)
    # ClickHouse's own CPU per query (user + system time of its threads, which 18.16's
    # query_log has among its ProfileEvents): what the server spends, whatever else runs on
    # the machine meanwhile.
    ch.execute("SYSTEM FLUSH LOGS")
    cpu = ch.execute(
        f"SELECT extract(query_id, '-([0-9]+)-') AS k, quantileExact(0.5)({_CPU_US})"
        " FROM system.query_log WHERE type = 2 AND event_date >= yesterday()"
        " AND query_id LIKE %(like)s GROUP BY k",
        {"like": f"{tag}-%"},
    )
    names = list(candidates)
    for k, us in cpu:
        name = names[int(k)]
        out[name] = (out[name][0], float(us) / 1000)
    return out


_CPU_US = (
    "arraySum(arrayMap((n, v) -> if(n IN ('UserTimeMicroseconds', 'SystemTimeMicroseconds'),"
    " v, 0), ProfileEvents.Names, ProfileEvents.Values))"
)


def _branch(
    layout: Layout, query: Callable[[str], params.VisitQuery], n: int
) -> Callable[[str], tuple[str, dict[str, Any]]]:
    def make(v: str) -> tuple[str, dict[str, Any]]:
        statement = pages.statement(layout, api_data.TENANT, query(v))
        return statement.sql.split("\nUNION ALL\n")[n], statement.params

    return make


def _sql(statement: queries.Statement) -> tuple[str, dict[str, Any]]:
    return statement.sql, statement.params
