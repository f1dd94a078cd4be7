"""``make bench`` section "analytics": each of the analysts' questions timed on the raw visits
and from the aggregates, on the API benchmark's visit table (``api_data``: 20M visits, 2M
in quick mode), and answered on the demo data (``analytics_data``) for docs/analytics.md.

Timing: one warm-up run, then the median of ``repeats`` runs, wall clock at the client
(what an analyst waits), one query at a time. Targets (issue #17): under 1 s raw, under
100 ms from the views, on this 2-core machine.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_driver import Client

from bench import analytics_data, api_data
from enrich.config import EnrichConfig
from ingest.rows import COLUMNS, to_columns
from schemas.clickhouse import aggregates, migrations, questions, statements
from schemas.clickhouse.layout import Layout

#: The benchmark table's last day when this section builds its own (its 90 days end here);
#: the window is its last 30 days. A full ``make bench`` reuses the API section's table.
ANCHOR_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WINDOW_DAYS = 30
_WINDOW = f"FROM {{db}}.visits WHERE {questions.RAW_WINDOW}"
#: What a raw answer cannot go below on this server, timed like the questions on the same
#: table: the window's rows read, their distinct requestIds, and question 1 without its
#: join to the erasures (key -> SQL; the first one's answer is the window's row count).
FLOORS: dict[str, str] = {
    "rows": f"SELECT count() {_WINDOW}",
    "distinct": f"SELECT uniqCombined(request_id) {_WINDOW}",
    "daily_no_join": "SELECT toDate(time) AS day, uniqCombined(request_id) AS visits,"
    f" uniqCombined(visitor_id) AS visitors {_WINDOW} GROUP BY day",
}


@dataclass(frozen=True)
class Settings:
    rows: int
    repeats: int


FULL = Settings(rows=20_000_000, repeats=3)
QUICK = Settings(rows=2_000_000, repeats=3)


@dataclass
class Results:
    """Times (ms, median) per question key: raw and, where it exists, from the views; the
    demo data's answers (column names, rows) per question; what was measured on."""

    rows: int
    server: str
    raw_ms: dict[str, float] = field(default_factory=dict)
    view_ms: dict[str, float] = field(default_factory=dict)
    #: The fastest run of each: on a shared machine, the query's own cost without the queue.
    raw_best_ms: dict[str, float] = field(default_factory=dict)
    view_best_ms: dict[str, float] = field(default_factory=dict)
    #: FLOORS' (median, fastest) ms, and the window's rows.
    floor_ms: dict[str, tuple[float, float]] = field(default_factory=dict)
    window_rows: int = 0
    loads: list[str] = field(default_factory=list)
    demo: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = field(default_factory=dict)
    demo_params: dict[str, Any] = field(default_factory=dict)
    bench_params: dict[str, Any] = field(default_factory=dict)
    demo_visits: int = 0
    build_s: float = 0.0


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def bench_params(anchor_ms: int = ANCHOR_MS) -> dict[str, Any]:
    last = datetime.fromtimestamp(anchor_ms / 1000, UTC) - timedelta(days=1)
    return {
        "tenant": api_data.TENANT,
        "start": (last - timedelta(days=WINDOW_DAYS - 1)).strftime("%Y-%m-%d"),
        "end": last.strftime("%Y-%m-%d"),
        "visitor": api_data.visitor_id("huge", 1),
        "least": 2,
    }


def _timed(ch: Client, statement: statements.Statement, repeats: int) -> tuple[float, float]:
    """(median, fastest) ms of ``repeats`` runs after a warm-up."""
    ch.execute(statement.sql, statement.params)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ch.execute(statement.sql, statement.params)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _build_bench(ch: Client, database: str, rows: int, step: Callable[[str], None]) -> float:
    features = migrations.ServerFeatures.from_version(str(ch.execute("SELECT version()")[0][0]))
    migrations.apply(lambda sql: ch.execute(sql), database, log=lambda _m: None)
    step(f"generating {rows:,} visits in ClickHouse (INSERT ... SELECT; the views fill)")
    start = time.perf_counter()
    ch.execute(
        api_data.insert_sql(database, rows, ANCHOR_MS, millisecond_time=features.modern_types)
    )
    _merge_views(ch, database)
    return time.perf_counter() - start


def _settle(ch: Client, step: Callable[[str], None], limit_s: float = 300.0) -> None:
    """Wait (bounded) until no merge runs: the questions are timed on a quiet server, not
    against the merges the build left behind."""
    deadline = time.monotonic() + limit_s
    while (running := int(ch.execute("SELECT count() FROM system.merges")[0][0])) > 0:
        if time.monotonic() > deadline:
            step(f"{running} merges still running after {limit_s:.0f} s: timing anyway")
            return
        time.sleep(1.0)


def _merge_views(ch: Client, database: str) -> None:
    """One part per aggregate, as a history merged in the background ends up."""
    for table in ("traffic_daily", "traffic_hourly", "visitor_summary"):
        ch.execute(f"OPTIMIZE TABLE {database}.{table} FINAL")


def _build_demo(ch: Client, database: str, enrich: EnrichConfig) -> tuple[int, dict[str, Any]]:
    """The demo data set, its erasure included; (visits inserted, the questions' params)."""
    features = migrations.ServerFeatures.from_version(str(ch.execute("SELECT version()")[0][0]))
    migrations.apply(lambda sql: ch.execute(sql), database, log=lambda _m: None)
    rows = analytics_data.demo_rows(enrich, millisecond_time=features.modern_types)
    ch.execute(
        f"INSERT INTO {database}.visits ({', '.join(COLUMNS)}) VALUES",
        to_columns(rows),
        columnar=True,
    )
    layout, tenant = Layout(database), analytics_data.TENANT
    erased = analytics_data.erased_visitor(rows)
    at = analytics_data.ANCHOR_MS - 3 * analytics_data.DAY_MS
    days = [str(r[0]) for r in _run(ch, aggregates.erased_days(layout, tenant, erased, at))]
    for statement in (
        statements.record_erasure(layout, tenant, erased, at),
        *statements.delete_erased(layout, tenant, erased, at),
        *aggregates.rebuild_days(layout, tenant, days, erased),
    ):
        _run(ch, statement)
    top = _run(ch, questions.BY_KEY["top_visitors"].statements(layout, demo_window())[0])
    return len(rows), {**demo_window(), "visitor": str(top[0][0])}


def demo_window() -> dict[str, Any]:
    last = analytics_data.ANCHOR_MS - analytics_data.DAY_MS
    first = analytics_data.ANCHOR_MS - analytics_data.DAYS * analytics_data.DAY_MS
    return {"tenant": analytics_data.TENANT, "start": _day(first), "end": _day(last), "least": 2}


def _run(ch: Client, statement: statements.Statement) -> list[tuple[Any, ...]]:
    return list(ch.execute(statement.sql, statement.params))


def run(
    ch_host: str,
    ch_port: int,
    run_id: str,
    settings: Settings,
    enrich: EnrichConfig,
    step: Callable[[str], None],
    table: api_data.Table | None = None,
) -> Results:
    """Build the demo data set and, unless ``table`` is given, the benchmark's; answer and
    time every question; drops the databases it made (and ``table``'s: it is handed over)."""
    ch = Client(ch_host, port=ch_port, send_receive_timeout=1800)
    bench_db = table.database if table else f"bench_{run_id}_analytics"
    demo_db = f"bench_{run_id}_demo"
    rows = table.rows if table else settings.rows
    results = Results(rows, str(ch.execute("SELECT version()")[0][0]))
    try:
        step("demo data: two weeks of demo traffic, copies, an erasure")
        results.demo_visits, results.demo_params = _build_demo(ch, demo_db, enrich)
        for q in questions.QUESTIONS:
            statement = q.statements(Layout(demo_db), results.demo_params)[-1]
            rows, columns = ch.execute(statement.sql, statement.params, with_column_types=True)
            results.demo[q.key] = ([c[0] for c in columns], [tuple(r) for r in rows])
        if table is None:
            results.build_s = _build_bench(ch, bench_db, settings.rows, step)
            results.bench_params = bench_params()
        else:
            step(f"the API section's {table.rows:,} visits; merging the views (OPTIMIZE FINAL)")
            start = time.perf_counter()
            _merge_views(ch, bench_db)
            results.build_s = table.build_s + time.perf_counter() - start
            results.bench_params = bench_params(table.anchor_ms)
        _settle(ch, step)
        results.loads.append(f"before timing {_load()}")
        floors = {
            key: statements.Statement(sql.format(db=bench_db), results.bench_params)
            for key, sql in FLOORS.items()
        }
        results.window_rows = int(_run(ch, floors["rows"])[0][0])
        for key, floor in floors.items():
            results.floor_ms[key] = _timed(ch, floor, settings.repeats)
        step(f"floors: {', '.join(f'{k} {v[0]:.0f} ms' for k, v in results.floor_ms.items())}")
        for q in questions.QUESTIONS:
            timed = q.statements(Layout(bench_db), results.bench_params)
            results.raw_ms[q.key], results.raw_best_ms[q.key] = _timed(
                ch, timed[0], settings.repeats
            )
            if len(timed) > 1:
                results.view_ms[q.key], results.view_best_ms[q.key] = _timed(
                    ch, timed[1], settings.repeats
                )
            view = f", views {results.view_ms[q.key]:.0f} ms" if q.key in results.view_ms else ""
            step(f"{q.key}: raw {results.raw_ms[q.key]:.0f} ms{view}")
        results.loads.append(f"after timing {_load()}")
    finally:
        for db in (bench_db, demo_db):
            ch.execute(f"DROP DATABASE IF EXISTS {db}")
        ch.disconnect()
    return results
