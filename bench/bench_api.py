"""API: GET /visitors/{id} under 64 concurrent clients (wrk), over a large skewed table.

Set-up (not timed): a bench database migrated like production, N visits generated
server-side (``api_data``), a token for the bench tenant, ``python -m query_api`` (one
uvicorn process, default client pool) with the rate limit lifted. Then a warm-up and
``repeats`` measured wrk runs of a fixed duration, each followed by a look at
``system.query_log``: how many rows each page query read, by visitor tier.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from clickhouse_driver import Client
from prometheus_client.parser import text_string_to_metric_families

from bench import api_data, bench_v4, cpu
from bench.rss import Curve, Sampler
from query_api import params, queries, tokens
from schemas.clickhouse import migrations
from schemas.clickhouse.layout import Layout

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
PORT = 18_731


@dataclass(frozen=True)
class Settings:
    """Sizes of one API benchmark run."""

    rows: int
    seconds: int
    repeats: int
    connections: int = 64
    threads: int = 2
    #: The paced run offers this share of the measured saturation req/s (same connections).
    paced_fraction: float = 0.5
    #: The latency-throughput curve: paced runs offering these shares of the saturation req/s.
    curve: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0)
    #: Seconds of each paced, floor and v4 run.
    paced_seconds: int = 10


FULL = Settings(rows=20_000_000, seconds=20, repeats=3)
QUICK = Settings(rows=2_000_000, seconds=10, repeats=1)


@dataclass(frozen=True)
class LoadRun:
    """One wrk run's figures (latencies in ms)."""

    requests: int
    seconds: float
    errors: int
    non2xx: int
    p50: float
    p95: float
    p99: float
    max: float
    #: CPU cores (CPU seconds per second) of the API, ClickHouse and the machine meanwhile.
    cores: dict[str, float] = field(default_factory=dict)
    #: wrk's socket errors by kind (connect, read, write, timeout: no answer within 5 s).
    kinds: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    #: The API's non-2xx answers by status code, from its own /metrics before and after the
    #: run (wrk counts them but cannot say which); None when /metrics could not be read.
    statuses: dict[str, int] | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class ReadRows:
    """Rows read per page query for one visitor tier (from ``system.query_log``)."""

    tier: str
    queries: int
    visits_per_visitor: float
    median: float
    p95: float
    max: int
    median_ms: float


@dataclass
class ApiResults:
    settings: Settings
    visitors: int = 0
    summary_rows: int = 0
    insert_seconds: float = 0.0
    merge_seconds: float = 0.0
    parts: int = 0
    runs: list[LoadRun] = field(default_factory=list)
    #: 64 clients with think time, offering ``paced_fraction`` of the saturation req/s.
    paced: LoadRun | None = None
    paced_offered_rps: float = 0.0
    read_rows: list[ReadRows] = field(default_factory=list)
    memory: list[Curve] = field(default_factory=list)
    pool_size: int = 8
    #: {table rows: {tier: rows read per query}}: the same requests on two table sizes.
    scaling: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    probe_requests: int = 0
    #: {columns read: median ms} of one visitor's newest page, serially (cost per column).
    column_cost: dict[int, float] = field(default_factory=dict)
    #: (share of capacity offered, req/s offered, the run): the latency-throughput curve.
    curve: list[tuple[float, float, LoadRun]] = field(default_factory=list)
    #: The API's own floor: a constant route (/health) under the same closed-loop load.
    floor_api: LoadRun | None = None
    #: {statement: (median client ms, median ClickHouse CPU ms), serially}: the cheapest
    #: single-visitor read ClickHouse can do (one column by primary key), today's page
    #: statement, and the one before #15.
    serial_ms: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: {v4 search: closed-loop run}.
    v4: dict[str, LoadRun] = field(default_factory=dict)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs) if self.runs else 0.0


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the API exited at start (see var/bench-api.log)")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not become ready")


def _answers() -> dict[str, int] | None:
    """The API's responses so far by status code (``vh_api_responses_total`` on /metrics,
    every route); None if the API did not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    out: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "vh_api_responses":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    status = sample.labels["status"]
                    out[status] = out.get(status, 0) + int(sample.value)
    return out


def _non2xx(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int] | None:
    if before is None or after is None:
        return None
    grown = {k: v - before.get(k, 0) for k, v in after.items() if not k.startswith("2")}
    return {k: n for k, n in sorted(grown.items()) if n > 0}


def _wrk(
    script: Path,
    settings: Settings,
    seconds: int,
    cpu_of: dict[str, int] | None = None,
    connections: int | None = None,
) -> LoadRun:
    connections = connections or settings.connections
    threads = min(settings.threads, connections)
    window = cpu.CpuWindow({k: [v] for k, v in (cpu_of or {}).items()})
    before = _answers()
    window.start()
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
         "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{PORT}"],
        capture_output=True, check=True, timeout=seconds + 60,
    )  # fmt: skip
    window.stop()
    statuses = _non2xx(before, _answers())
    line = next(x for x in out.stdout.decode().splitlines() if x.startswith("WRK_JSON "))
    d = json.loads(line.removeprefix("WRK_JSON "))
    return LoadRun(
        requests=d["requests"],
        seconds=d["duration_us"] / 1e6,
        errors=d["connect"] + d["read"] + d["write"] + d["timeout"],
        non2xx=d["non2xx"],
        p50=d["p50_us"] / 1000,
        p95=d["p95_us"] / 1000,
        p99=d["p99_us"] / 1000,
        max=d["max_us"] / 1000,
        cores=window.cores or {},
        kinds={k: int(d[k]) for k in ("connect", "read", "write", "timeout")},
        connections=connections,
        statuses=statuses,
    )


def _read_rows(ch: Client, database: str, since: int, tiers: api_data.Tiers) -> list[ReadRows]:
    """Rows read by the page queries that finished since ``since`` (epoch s), by tier."""
    ch.execute("SYSTEM FLUSH LOGS")
    rows = ch.execute(
        "SELECT extract(query, 'visitor_id = \\'([hms])') AS tier, count(),"
        " quantileExact(0.5)(read_rows), quantileExact(0.95)(read_rows), max(read_rows),"
        " quantileExact(0.5)(query_duration_ms)"
        " FROM system.query_log"
        " WHERE event_time >= toDateTime(%(since)s) AND type = 2"
        " AND query LIKE %(like)s AND query LIKE '%%visitor_summary_global%%'"
        # One visitor's page each: a batch of waiting pages (query_api.coalesce) reads
        # several visitors' rows in one query, which would say nothing of one visitor.
        " AND query NOT LIKE '%%visitor_id IN%%'"
        " GROUP BY tier ORDER BY tier",
        {"since": since, "like": f"%{database}.visitor_summary%"},
    )
    names = {"s": "small", "m": "medium", "h": "huge"}
    out = [
        ReadRows(
            names[t], n, tiers.visits_per(names[t]), float(p50), float(p95), int(mx), float(ms)
        )
        for t, n, p50, p95, mx, ms in rows
        if t in names
    ]
    order = ["small", "medium", "huge"]
    return sorted(out, key=lambda r: order.index(r.tier))


def run(
    ch_host: str,
    ch_port: int,
    run_id: str,
    settings: Settings,
    progress: Callable[[str], None],
    *,
    keep: bool = False,
) -> tuple[ApiResults, api_data.Table | None]:
    """Build the data set, serve it, load it; the database is dropped at the end, unless
    ``keep``: then it is returned for the next section, which drops it."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    results = ApiResults(settings)
    database = f"bench_{run_id}_api"
    ch = Client(ch_host, port=ch_port, send_receive_timeout=900)
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    api: subprocess.Popen[bytes] | None = None
    kept: api_data.Table | None = None  # set once everything measured here succeeded
    log = open(var / "bench-api.log", "wb")  # noqa: SIM115
    try:
        anchor = time.time_ns() // 1_000_000 - 60_000
        results.insert_seconds, results.merge_seconds = _build(
            ch, database, settings.rows, anchor, progress
        )
        results.visitors = int(ch.execute(f"SELECT uniq(visitor_id) FROM {database}.visits")[0][0])
        results.parts = int(
            ch.execute(
                "SELECT count() FROM system.parts WHERE database = %(db)s AND table = 'visits'"
                " AND active",
                {"db": database},
            )[0][0]
        )
        results.summary_rows = int(
            ch.execute(f"SELECT count() FROM {database}.visitor_summary")[0][0]
        )
        _token_id, secret = tokens.create(
            lambda sql, params: ch.execute(sql, params), database, api_data.TENANT, "bench"
        )
        paths = var / f"bench-{run_id}-paths.txt"
        mix = api_data.request_mix(settings.rows, anchor, 20_000)
        paths.write_text("".join(r.path + "\n" for r in mix), encoding="utf-8")
        script = var / f"bench-{run_id}.lua"
        script.write_text(api_data.wrk_script(str(paths), secret), encoding="utf-8")
        env = {
            **os.environ,
            "VH_CLICKHOUSE_HOST": ch_host,
            "VH_CLICKHOUSE_PORT": str(ch_port),
            "VH_CLICKHOUSE_DATABASE": database,
            "VH_API_PORT": str(PORT),
            "VH_API_RATE_LIMIT": "1000000",
            "VH_API_RATE_BURST": "1000000",
            "VH_API_TOKEN_REFRESH_SECONDS": "1",
            "PYTHONPATH": str(ROOT),
        }
        results.pool_size = int(env.get("VH_API_POOL_SIZE", "8") or 8)
        api = subprocess.Popen([PY, "-m", "query_api"], env=env, stdout=log, stderr=log)
        _wait_ready(PORT, api)
        time.sleep(1.5)  # the token refresh picks up the new token within a second
        progress("warm-up: 5 s of load")
        _wrk(script, settings, 5)
        cpu_of = {"API": api.pid} | cpu.service_pids(var)
        with Sampler({api.pid: "API (uvicorn)"}) as sampler:
            for r in range(settings.repeats):
                since = int(time.time())
                time.sleep(1.0)  # whole seconds: the query_log window starts after `since`
                load = _wrk(script, settings, settings.seconds, cpu_of)
                results.runs.append(load)
                progress(
                    f"run {r + 1}/{settings.repeats}: {load.rps:,.0f} req/s, p50 {load.p50:.1f}"
                    f" ms, p95 {load.p95:.1f} ms, p99 {load.p99:.1f} ms,"
                    f" {load.errors + load.non2xx} errors"
                )
                if r == settings.repeats - 1:
                    results.read_rows = _read_rows(
                        ch, database, since, api_data.Tiers(settings.rows)
                    )
            # Below saturation: the same clients, each waiting a random think time between
            # requests, so together they offer a set share of what the server sustained.
            capacity = results.median("rps")
            for share in settings.curve:
                offered = share * capacity
                # Few enough clients that each waits under 2 s on average (at most 4 s):
                # uvicorn closes a connection idle for 5 s (its keep-alive timeout), which
                # wrk counts as a read error on the next request (#15's unexplained errors
                # of the paced run: 64 clients at 18 req/s each waited 0-7 s).
                clients = max(1, min(settings.connections, int(offered * 2)))
                think_ms = clients / max(offered, 1.0) * 1000
                paced = var / f"bench-{run_id}-paced.lua"
                paced.write_text(
                    api_data.wrk_script(str(paths), secret, think_ms), encoding="utf-8"
                )
                load = _wrk(paced, settings, settings.paced_seconds, cpu_of, clients)
                results.curve.append((share, offered, load))
                progress(
                    f"paced {share:.0%} (~{offered:,.0f} req/s offered): {load.rps:,.0f} req/s,"
                    f" p50 {load.p50:.1f} ms, p99 {load.p99:.1f} ms, {load.kinds}"
                    f" {load.non2xx} non-2xx"
                )
                if share == settings.paced_fraction:
                    results.paced, results.paced_offered_rps = load, offered
            floor = var / f"bench-{run_id}-floor.lua"
            floor.write_text(api_data.constant_script(), encoding="utf-8")
            results.floor_api = _wrk(floor, settings, settings.paced_seconds, cpu_of)
            progress(f"API floor (/health): {results.floor_api.rps:,.0f} req/s")
            results.v4 = bench_v4.run(
                var, run_id, secret, settings.rows, anchor,
                lambda script: _wrk(script, settings, settings.paced_seconds, cpu_of), progress,
            )  # fmt: skip
            results.memory = list(sampler.curves.values())
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=20)
        progress("cost per column read: one page, 2 vs all columns")
        results.column_cost = probe_column_cost(ch, database)
        results.serial_ms = bench_v4.serial_reads(ch, database, anchor)
        _scaling(ch, database, settings.rows, anchor, results, progress)
        if keep:
            build_s = results.insert_seconds + results.merge_seconds
            kept = api_data.Table(database, settings.rows, anchor, build_s)
    finally:
        if api is not None and api.poll() is None:
            api.send_signal(signal.SIGTERM)
            try:
                api.wait(timeout=20)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait()
        log.close()
        for leftover in var.glob(f"bench-{run_id}*"):
            leftover.unlink()  # the paths file and wrk script (they hold the token)
        for db in (database + "_small",) if kept else (database, database + "_small"):
            ch.execute(f"DROP DATABASE IF EXISTS {db}")
        ch.disconnect()
    return results, kept


def _scaling(
    ch: Client,
    database: str,
    rows: int,
    anchor: int,
    results: ApiResults,
    progress: Callable[[str], None],
) -> None:
    """The same requests against the table and a 10x smaller one built the same way.

    Visitor ids are drawn from the smaller table's ranges, so every visitor exists in both:
    a small visitor has as many visits in either (the visitor count scales with the rows),
    a huge one 10x more in the big table. Rows read should follow that, not the table size.
    """
    small_db, small_rows = database + "_small", rows // 10
    _build(ch, small_db, small_rows, anchor, progress)
    mix = api_data.request_mix(small_rows, anchor, 300, seed=23)
    results.probe_requests = len(mix)
    now = anchor + 60_000
    progress(f"rows read: {len(mix)} requests on {small_rows:,} and {rows:,} rows")
    for db, n in ((small_db, small_rows), (database, rows)):
        results.scaling[n] = probe_read_rows(ch, db, mix, now, f"probe{uuid.uuid4().hex[:8]}")


def _build(
    ch: Client, database: str, rows: int, anchor: int, progress: Callable[[str], None]
) -> tuple[float, float]:
    """Migrate ``database`` and fill it with ``rows`` visits, merged; (insert s, merge s)."""
    features = migrations.ServerFeatures.from_version(str(ch.execute("SELECT version()")[0][0]))
    migrations.apply(lambda sql: ch.execute(sql), database, log=lambda _m: None)
    progress(f"generating {rows:,} visits in ClickHouse (INSERT ... SELECT)")
    start = time.perf_counter()
    ch.execute(api_data.insert_sql(database, rows, anchor, millisecond_time=features.modern_types))
    return time.perf_counter() - start, _merge(ch, database, progress)


def probe_read_rows(
    ch: Client, database: str, mix: list[api_data.Request], now_ms: int, tag: str
) -> dict[str, list[int]]:
    """Run each request's page query once, serially, and read its ``read_rows`` back.

    The statements are the API's own (``params.visit_query`` + ``queries.visit_page``); going
    around HTTP keeps each query's id known, so query_log rows map back to their tier.
    """
    for i, req in enumerate(mix):
        path, _, qs = req.path.partition("?")
        query = params.visit_query(
            path.rsplit("/", 1)[1], dict(parse_qsl(qs)), now_ms=now_ms, default_limit=100,
            max_limit=500,
        )  # fmt: skip
        statement = queries.visit_page(Layout(database), api_data.TENANT, query)
        ch.execute(statement.sql, statement.params, query_id=f"{tag}-{req.tier}-{i}")
    ch.execute("SYSTEM FLUSH LOGS")
    found = ch.execute(
        "SELECT query_id, read_rows FROM system.query_log WHERE type = 2"
        " AND event_date >= yesterday() AND query_id LIKE %(like)s",
        {"like": f"{tag}-%"},
    )
    out: dict[str, list[int]] = {}
    for query_id, read in found:
        out.setdefault(str(query_id).split("-")[1], []).append(int(read))
    return out


def probe_column_cost(ch: Client, database: str, visitors: int = 200) -> dict[int, float]:
    """Median ms of one page of a small visitor's visits, reading 2 or all page columns.

    Serial, no load: what ClickHouse spends per column read, whatever the rows.
    """
    ids = [
        str(v)
        for (v,) in ch.execute(
            f"SELECT any(visitor_id) FROM {database}.visitor_summary"
            f" GROUP BY cityHash64(visitor_id) % {visitors}"
        )
    ]
    out = {}
    for n in (2, len(queries.VISIT_COLUMNS)):
        sql = (
            f"SELECT {', '.join(queries.VISIT_COLUMNS[:n])} FROM {database}.visits"
            " WHERE tenant = %(t)s AND visitor_id = %(v)s"
            " ORDER BY timestamp_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT 11"
        )
        times = []
        for v in ids:
            start = time.perf_counter()
            ch.execute(sql, {"t": api_data.TENANT, "v": v})
            times.append((time.perf_counter() - start) * 1000)
        out[n] = statistics.median(times)
    return out


def _merge(ch: Client, database: str, progress: Callable[[str], None]) -> float:
    """Merge the freshly inserted parts (``OPTIMIZE ... FINAL``); returns the seconds taken.

    A deployment's history is mostly merged (ClickHouse merges in the background; past months
    end up one part each), while a table filled seconds ago is dozens of parts, each adding a
    granule to every page read. Measuring the latter would price a transient state.
    """
    start = time.perf_counter()
    for table in ("visits", "visitor_summary", "visitor_summary_global", "visit_pages"):
        progress(f"merging {table} (OPTIMIZE FINAL)")
        ch.execute(f"OPTIMIZE TABLE {database}.{table} FINAL")
    return time.perf_counter() - start
