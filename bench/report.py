"""docs/benchmarks.md from one run's results: machine, versions, settings, figures, targets."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import bench_cluster, bench_enrich, report_reads
from bench.bench_api import ApiResults
from bench.bench_ingest import IngestResults
from bench.rss import Curve
from deploy.local.settings import KAFKA_VERSION
from ingest.config import IngestConfig

HERE = Path(__file__).resolve().parent
PROFILING = HERE / "profiling.md"
_PACKAGES = (
    "kafka-python", "crc32c", "clickhouse-driver", "msgspec", "starlette", "uvicorn", "httptools",
    "uvloop",
    "maxminddb", "ua-parser-rs",
)  # fmt: skip


@dataclass
class Machine:
    """What the figures were measured on, and how busy it was around the run."""

    cpus: int
    cpu_model: str
    memory_gib: float
    system: str
    python: str
    clickhouse: str
    loads: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def probe(cls, clickhouse_version: str) -> Machine:
        model = "unknown"
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as info:
                model = next(
                    (
                        line.split(":", 1)[1].strip()
                        for line in info
                        if line.startswith("model name")
                    ),
                    model,
                )
        except OSError:
            pass
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return cls(
            cpus=os.cpu_count() or 0,
            cpu_model=model,
            memory_gib=pages / 2**30,
            system=f"{platform.system()} {platform.release()}",
            python=sys.version.split()[0],
            clickhouse=clickhouse_version,
        )

    def note_load(self, when: str) -> None:
        """Record the load average (1/5/15 min) now: the machine is shared and noisy."""
        self.loads.append((when, " / ".join(f"{x:.2f}" for x in os.getloadavg())))


def versions() -> str:
    """Python packages that matter for these figures, with versions (or 'not installed')."""
    out = []
    for name in _PACKAGES:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} not installed")
    return ", ".join(out)


def wrk_version() -> str:
    try:
        text = subprocess.run(["wrk", "-v"], capture_output=True, check=False).stdout.decode()
    except OSError:
        return "not installed"
    return text.split("\n")[0].split(" [")[0].strip() or "unknown"


def verdict(flag: bool) -> str:
    return "met" if flag else "**missed**"


def _picture(pictures: dict[str, str] | None, name: str, alt: str) -> list[str]:
    """A blank line and the Markdown image of ``name`` if it was drawn, else nothing."""
    return ["", f"![{alt}]({pictures[name]})"] if pictures and name in pictures else []


def _runs(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


def ingest_section(res: IngestResults, pictures: dict[str, str] | None = None) -> str:
    """The ingestion table, the ratios against the baselines, and the targets; ``pictures``
    ({name: file}, bench/charts.py) adds the ingestion picture under the table."""
    s = res.settings
    med = res.median_rate
    one, two = med("workers1"), med("workers2")
    noenrich, naive, bare = med("noenrich"), med("naive"), med("bare")
    nostream = med("nostream")
    d = IngestConfig()

    def row(label: str, key: str, ratio: str) -> str:
        rates = [r.rate for r in res.runs.get(key, [])]
        return f"| {label} | {med(key):,.0f} | {_runs(rates)} | {ratio} |"

    def div(a: float, b: float) -> float:
        return a / b if b else 0.0

    lines = [
        "## Ingestion, end to end",
        "",
        f"{s.events:,} demo events (`vh.demo` generator: {s.visitors:,} Zipf visitors, real "
        f"user agents, located addresses; {res.payload_bytes / max(s.events, 1):.0f} bytes "
        f"per event on average) pre-published to one topic with {s.partitions} partitions, "
        "keyed by visitorId. Each run reads the whole topic with a fresh consumer group into "
        "an emptied database; rounds interleave the variants. Workers are real `vh worker` "
        "processes, timed from the first consumed message to the commit of the last offset; "
        f"default settings (`VH_BATCH_MAX_ROWS={d.batch_max_rows}`, "
        f"`VH_BATCH_MAX_SECONDS={d.batch_max_seconds}`, "
        f"`VH_MAX_POLL_RECORDS={d.max_poll_records}`). Median of {s.repeats} run(s).",
        "",
        "| Variant | events/s (median) | each run | ratio |",
        "|---|---|---|---|",
        row("Worker, 1 process", "workers1", "1.00"),
        row("Worker, 2 processes (one group)", "workers2", f"{div(two, one):.2f}x of 1 process"),
        row(
            "(d) worker, 1 process, without the visit_pages view (before #15)",
            "before15",
            f"1 process = {div(one, med('before15')):.2f} of (d)",
        ),
        row(
            "(a) worker, enrichment off",
            "noenrich",
            f"1 process = {div(one, noenrich):.2f} of (a)",
        ),
        row(
            "(e) worker, enriched stream off",
            "nostream",
            f"1 process = {div(one, nostream):.2f} of (e)",
        ),
        row(
            f"(b) naive loop (first {s.naive_events:,} events)",
            "naive",
            f"1 process = {div(one, naive):.1f}x (b)",
        ),
        row(
            "(c) bare kafka-python, poll only",
            "bare",
            f"1 process = {div(one, bare):.2f} of (c)",
        ),
        *_picture(pictures, "ingestion", "events/s of each variant against its baselines"),
        "",
        "Targets:",
        f"- 1 process ≥ 0.7 of (a): {div(one, noenrich):.2f} — "
        f"{verdict(div(one, noenrich) >= 0.7)}",
        f"- 1 process ≥ 10x (b): {div(one, naive):.1f}x — {verdict(div(one, naive) >= 10)}",
        f"- 2 processes ≥ 1.6x 1 process: {div(two, one):.2f}x — {verdict(div(two, one) >= 1.6)}",
        f"- fraction of (c), the client's ceiling: {div(one, bare):.2f} (reported, no target)",
        f"- 1 process within 10% of (d), before #15's view: {div(one, med('before15')):.2f} — "
        f"{verdict(div(one, med('before15')) >= 0.9)}",
        "",
        "(a) is `vh worker` with `VH_ENRICH=off`: the same worker with "
        "`ingest.processor.NoEnrichment` in place of the enricher (rows keep the raw fields; "
        "browser and location empty). (b) is `bench/baselines.py naive`: "
        "`json.loads`, `geoip2` `city()`, `user_agents.parse()` per event, a row-wise "
        "`INSERT ... VALUES` per poll, commit; it runs on the first events of the topic only. "
        "(c) is `baselines.py bare`: the worker's consumer settings, poll and touch the values. "
        "(d) is the same worker with 040's visit_pages view detached (ingestion before #15). "
        "(e) is `vh worker` with `VH_ENRICHED_STREAM=off`: the 1-process rows publish every "
        "stored visit to the enriched stream (v4 event JSON, acknowledged before the commit), "
        f"(e) does not; the stream costs {100 * (1 - div(one, nostream)):.0f}% of (e)'s "
        "events/s in this run.",
        "",
        *_cpu_table(res),
        *_bounds(res),
    ]
    return "\n".join(lines) + "\n"


def _bounds(res: IngestResults) -> list[str]:
    """What the machine and the client library allow, from this run's own figures."""
    runs = [r for r in res.runs.get("workers1", []) if r.cores and r.rate > 0]
    naive, bare = res.median_rate("naive"), res.median_rate("bare")
    one, two = res.median_rate("workers1"), res.median_rate("workers2")
    if not runs or not one:
        return []

    def us_per_event(label: str) -> float:
        return statistics.median(r.cores.get(label, 0.0) / r.rate * 1e6 for r in runs)

    worker, ch, kafka = us_per_event("workers"), us_per_event("ClickHouse"), us_per_event("Kafka")
    cores = os.cpu_count() or 1
    ceiling = cores / ((worker + ch + kafka) / 1e6)
    lines = [
        "",
        f"What bounds the targets, from the same runs: one event costs {worker:.1f} µs of "
        f"worker CPU, {ch:.1f} µs of ClickHouse and {kafka:.1f} µs of Kafka (1-process runs). "
        f"{cores} cores therefore ingest at most {ceiling:,.0f} events/s whatever the number "
        f"of workers, {ceiling / one:.2f}x one process; 2 processes reached {two:,.0f} "
        f"({two / ceiling:.0%} of that estimate, which is approximate: it takes the CPU per "
        "event of the 1-process runs).",
    ]
    if naive and bare:
        lines[-1] += (
            f" 10x (b) is {10 * naive:,.0f} events/s, {10 * naive / bare:.2f} of what "
            f"kafka-python alone delivers with nothing done per event (c): the client's "
            "decoding (pure Python per record) leaves the rest of the pipeline less room "
            "than that target needs on one core."
        )
    return lines


def _cpu_table(res: IngestResults) -> list[str]:
    """Median cores used per process group during the worker runs (the 2-core budget)."""
    labels = ("workers", "ClickHouse", "Kafka", "other", "machine")
    rows = []
    for key, name in (
        ("workers1", "1 worker"), ("workers2", "2 workers"), ("noenrich", "(a)"),
        ("before15", "(d)"), ("nostream", "(e)"),
    ):  # fmt: skip
        runs = [r.cores for r in res.runs.get(key, []) if r.cores]
        if runs:
            cells = [statistics.median(c.get(label, 0.0) for c in runs) for label in labels]
            rows.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    if not rows:
        return []
    return [
        "CPU during the worker runs, in cores (CPU seconds per second, median over runs; "
        "`other` is everything else on the machine, `machine` all busy cores of "
        f"{os.cpu_count()}):",
        "",
        "| Run | workers | ClickHouse | Kafka | other | machine |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def api_section(res: ApiResults, pictures: dict[str, str] | None = None) -> str:
    """The load table, the rows-read table, and the targets; ``pictures`` (bench/charts.py)
    adds the CPU-per-request and the latency-throughput pictures."""
    s = res.settings
    worst_p99 = max((r.p99 for r in res.runs), default=0.0)
    lines = [
        "## API: GET /visitors/{id} under load",
        "",
        f"Table: {s.rows:,} visits of {res.visitors:,} visitors (one tenant) generated "
        f"server-side in {res.insert_seconds:.0f} s, then merged (`OPTIMIZE ... FINAL`, "
        f"{res.merge_seconds:.0f} s; {res.parts} parts of `visits` remain, one per month): "
        "40 huge visitors (1% of the rows, thousands of visits each), medium ones (4%, "
        "hundreds), and the rest hashed over small ones (~13 visits each), 90 days of history. "
        f"Load: wrk, {s.connections} connections, {s.threads} threads, {s.seconds} s per run "
        f"after a 5 s warm-up, median of {s.repeats} run(s); each request picks one of 20,000 "
        "prepared paths at random (60% small, 30% medium, 10% huge visitors; default 10-day, "
        "full 90-day or one-week windows; `limit` 10/50/100; a third page with `before`). "
        "Server: one `python -m query_api` process (uvicorn with httptools and uvloop, one "
        f"event loop, Starlette's thread pool), ClickHouse client pool of {res.pool_size}, "
        "first pages that wait for a client sent together (`query_api.coalesce`), pages "
        "read from `visit_pages` (040), rate limit lifted. wrk, "
        "uvicorn and ClickHouse share the same 2 cores.",
        "",
        "| Run | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | non-2xx |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(res.runs, 1):
        lines.append(
            f"| {i} | {r.rps:,.0f} | {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} | {r.max:.0f} "
            f"| {r.errors} | {r.non2xx} |"
        )
    if res.runs:
        lines.append(
            f"| **median** | **{res.median('rps'):,.0f}** | **{res.median('p50'):.1f}** "
            f"| **{res.median('p95'):.1f}** | **{res.median('p99'):.1f}** | "
            f"{res.median('max'):.0f} | | |"
        )
    if res.paced is not None:
        pr = res.paced
        lines.append(
            f"| {pr.connections} clients paced to ~{res.paced_offered_rps:,.0f} req/s "
            f"({s.paced_fraction:.0%} of the median) | {pr.rps:,.0f} | {pr.p50:.1f} "
            f"| {pr.p95:.1f} | {pr.p99:.1f} | {pr.max:.0f} | {pr.errors} | {pr.non2xx} |"
        )
    lines += [
        "",
        "Runs 1-3 are closed-loop: each client sends its next request as soon as the last "
        "answer arrives, so once the server saturates, latency is clients / throughput by "
        "construction (Little's law). The paced run (50% below) has its clients wait a "
        "random think time between requests, offering a set share of the measured "
        "throughput: the latency an application sees when the service is not overloaded.",
        "",
        *_api_cpu(res),
        *_picture(pictures, "cpu", "CPU ms per request by process"),
        "",
        "Rows read per page query (`system.query_log.read_rows`, every one-visitor page query "
        "of the last run, all its branches together; batches of waiting pages, which read "
        "several visitors, left out), by visitor tier:",
        "",
        "| Tier | visits per visitor | queries | median rows read | p95 | max "
        "| median ms (server) |",
        "|---|---|---|---|---|---|---|",
    ]
    for rr in res.read_rows:
        lines.append(
            f"| {rr.tier} | {rr.visits_per_visitor:,.0f} | {rr.queries:,} | {rr.median:,.0f} "
            f"| {rr.p95:,.0f} | {rr.max:,} | {rr.median_ms:.0f} |"
        )
    ratio = max((rr.max for rr in res.read_rows), default=0) / max(s.rows, 1)
    lines += ["", *_scaling_table(res)]
    grows = _follows_visitor(res)
    lines += [
        "",
        "Targets:",
        f"- p99 under 20 ms (64 closed-loop clients): median p99 {res.median('p99'):.1f} ms"
        f" (worst run {worst_p99:.1f}) — {verdict(res.median('p99') < 20)}",
        *(
            [
                f"  (paced to {s.paced_fraction:.0%} of capacity, for reference: p99 "
                f"{res.paced.p99:.1f} ms)"
            ]
            if res.paced is not None
            else []
        ),
        f"- rows read follow the visitor, not the table: the most any query under load read "
        f"is {ratio:.3%} of the table; on a 10x larger table small visitors read "
        f"{grows[0]:.2f}x the rows, huge visitors (10x the visits) {grows[1]:.2f}x — "
        f"{verdict(ratio < 0.01 and grows[0] < 2)}",
        "",
        report_reads.section(res, pictures),
    ]
    return "\n".join(lines) + "\n"


def _api_cpu(res: ApiResults) -> list[str]:
    """CPU per request in the saturated runs, and what the p99 target would take."""
    runs = [r for r in res.runs if r.cores and r.rps > 0]
    if not runs:
        return []

    def per_request_ms(label: str) -> float:
        return statistics.median(r.cores.get(label, 0.0) / r.rps * 1000 for r in runs)

    def cores(label: str) -> float:
        return statistics.median(r.cores.get(label, 0.0) for r in runs)

    labels = [("API", "API process"), ("ClickHouse", "ClickHouse"), ("other", "other (wrk)")]
    lines = [
        "CPU during the closed-loop runs (median; cores = CPU seconds per second, of 2):",
        "",
        "| Process | cores | CPU ms per request |",
        "|---|---|---|",
        *(f"| {name} | {cores(k):.2f} | {per_request_ms(k):.2f} |" for k, name in labels),
        f"| machine | {cores('machine'):.2f} | {per_request_ms('machine'):.2f} |",
    ]
    needed = res.settings.connections / 0.020  # req/s at which 64 clients wait 20 ms each
    server_ms = per_request_ms("API") + per_request_ms("ClickHouse")
    lines += [
        "",
        f"For {res.settings.connections} back-to-back clients to see 20 ms, the service must "
        f"answer {needed:,.0f} req/s; at the measured {server_ms:.1f} CPU ms per request "
        f"(API + ClickHouse) that is about {needed * server_ms / 1000:.0f} cores, against the "
        "2 this machine shares with wrk.",
    ]
    if len(res.column_cost) == 2:
        (few, few_ms), (all_, all_ms) = sorted(res.column_cost.items())
        lines += [
            "",
            f"ClickHouse's share is mostly a fixed cost per column read: one page of a small "
            f"visitor, serially, took {few_ms:.1f} ms reading {few} columns and {all_ms:.1f} ms "
            f"reading all {all_} the page needs, about {(all_ms - few_ms) / (all_ - few):.2f} "
            "ms per column whatever the rows (by hand, index granularity 256 instead of 2048 "
            "changed it by under 10%).",
        ]
    return lines


def _median(values: list[int]) -> float:
    return statistics.median(values) if values else 0.0


def _scaling_table(res: ApiResults) -> list[str]:
    """Median rows read per tier for the same requests on the two table sizes."""
    if len(res.scaling) < 2:
        return []
    sizes = sorted(res.scaling)
    out = [
        f"The same {res.probe_requests} requests run one by one (no load) on this table and on "
        f"a 10x smaller one built the same way (every visitor exists in both; small and medium "
        "visitors have as many visits in either, huge ones 10x more in the big one). Median "
        "rows read per page query:",
        "",
        "| Tier | " + " | ".join(f"{n:,} rows" for n in sizes) + " | ratio |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    for tier in ("small", "medium", "huge"):
        small, big = (_median(res.scaling[n].get(tier, [])) for n in sizes)
        out.append(f"| {tier} | {small:,.0f} | {big:,.0f} | {big / small if small else 0:.2f}x |")
    return out


def _follows_visitor(res: ApiResults) -> tuple[float, float]:
    """(growth of small visitors' rows read, growth of huge ones') from the small table."""
    if len(res.scaling) < 2:
        return (0.0, 0.0)
    lo, hi = sorted(res.scaling)
    out = []
    for tier in ("small", "huge"):
        a, b = _median(res.scaling[lo].get(tier, [])), _median(res.scaling[hi].get(tier, []))
        out.append(b / a if a else 0.0)
    return out[0], out[1]


def _curve_row(curve: Curve) -> str:
    first, second = curve.halves()
    points = " → ".join(f"{p:.0f}" for p in curve.points(5))
    return (
        f"| {curve.label} | {curve.peak:.0f} | {curve.peak_anon:.0f} | {first:.0f} "
        f"| {second:.0f} | {points} |"
    )


def memory_section(ingest: IngestResults | None, api: ApiResults | None) -> str:
    """Peak RSS per process, and whether it still grows after warm-up."""
    lines = [
        "## Memory",
        "",
        "Sampled from `/proc/<pid>/status` every 0.5 s during the runs above, default cache "
        "sizes (`VH_GEOIP_CACHE_SIZE=100000`, `VH_UA_CACHE_SIZE=20000`), MiB. VmRSS is what "
        "the target is judged on; RssAnon is its private part (the rest is mostly the mmap'd "
        "GeoIP database, shared through the page cache). Growth check: the peak in the first "
        "and in the second half of each run after a warm-up of its first quarter (batches "
        "fill and flush, so single samples saw-tooth). Curve: five samples spread over the run "
        "(the first is the process starting).",
        "",
        "| Process | peak VmRSS | peak RssAnon | peak 1st half | peak 2nd half | curve |",
        "|---|---|---|---|---|---|",
    ]
    curves: list[Curve] = []
    if ingest is not None:
        for variant in ("workers1", "workers2", "noenrich", "bare"):
            per_run = 2 if variant == "workers2" else 1
            for i, curve in enumerate(ingest.memory.get(variant, [])):
                curve.label = f"{curve.label} (run {i // per_run + 1})"
                curves.append(curve)
    if api is not None:
        curves += api.memory
    lines += [_curve_row(c) for c in curves]
    judged = [c for c in curves if not c.label.startswith("bare")]
    peak = max((c.peak for c in judged), default=0.0)
    growth = max((c.halves()[1] - c.halves()[0] for c in judged), default=0.0)
    lines += [
        "",
        "Targets (workers and API; the bare consumer is shown for what kafka-python alone holds):",
        f"- under 300 MB per worker and per API process: highest peak VmRSS {peak:.0f} MiB — "
        f"{verdict(peak < 300)}",
        f"- flat after warm-up: largest rise from the first to the second half {growth:+.0f} "
        f"MiB — {verdict(growth < 30)} (runs last about a minute each; `make soak` watches "
        "one worker for 20 minutes: docs/soak.md)",
    ]
    return "\n".join(lines) + "\n"


def render(
    machine: Machine,
    quick: bool,
    elapsed_s: float,
    ingest: IngestResults | None,
    api: ApiResults | None,
    enrich: bench_enrich.EnrichResults | None,
    clustered: bench_cluster.ClusterResults | None = None,
    pictures: dict[str, str] | None = None,
) -> str:
    """The whole document; ``pictures`` ({name: file}) are embedded where they belong."""
    command = "python -m bench" + (" --quick" if quick else "")
    loads = "; ".join(f"{when} {value}" for when, value in machine.loads)
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` (`make bench{'-quick' if quick else ''}`) in "
        f"{elapsed_s / 60:.1f} min; every figure below comes from that one run. Do not edit "
        "by hand: edit `bench/` (the profiling notes live in "
        "`bench/profiling.md`).",
        "",
        f"- Machine: {machine.cpus} CPUs ({machine.cpu_model}), {machine.memory_gib:.1f} GiB "
        f"RAM, {machine.system}; shared with Kafka, ClickHouse and other work — load average "
        f"(1/5/15 min): {loads}",
        f"- Python {machine.python}; {versions()}",
        f"- Kafka {KAFKA_VERSION}, ClickHouse {machine.clickhouse}, {wrk_version()}; the local "
        "stack (`deploy/local`) on loopback",
        f"- Mode: {'quick (smaller data, fewer repeats)' if quick else 'full'}",
        "",
    ]
    for section, done in (
        (ingest_section(ingest, pictures) if ingest else "", ingest),
        (
            bench_cluster.render(clustered, ingest.median_rate("workers1") if ingest else 0.0)
            if clustered
            else "",
            clustered,
        ),
        (api_section(api, pictures) if api else "", api),
        (bench_enrich.render(enrich) if enrich else "", enrich),
    ):
        if done is not None:
            parts.append(section)
    if ingest is not None or api is not None:
        parts.append(memory_section(ingest, api))
    if PROFILING.exists():
        parts.append(PROFILING.read_text(encoding="utf-8"))
    return "\n".join(parts).rstrip() + "\n"
