"""Ingestion, end to end: events/s of real worker processes and of three baselines.

One topic is filled once with demo events; every measured consumer then reads all of it with
a fresh consumer group, rounds interleaved (bare, no-enrichment, 1 worker, 1 worker without
the enriched stream, 2 workers, naive)
so that drift of this noisy machine spreads over all of them. Between runs the bench
database's tables are truncated so every run inserts into the same empty state.

Worker runs are timed from the first consumed message (the worker's own
``vh_ingest_events_consumed_total`` on its metrics port) to the moment the group's committed
offsets reach the topic's end offsets (polled through the admin API every 50 ms): first
consume to last commit. Start-up (GeoIP probe, joining the group) is outside that window.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clickhouse_driver import Client

from bench import cpu, topics
from bench.rss import Curve, Sampler
from enrich.config import EnrichConfig
from schemas.clickhouse import migrations

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
VH = str(Path(PY).with_name("vh"))
_TABLES = ("visits", "visitor_summary", "visitor_summary_global", "request_index")


@dataclass(frozen=True)
class Settings:
    """Sizes of one ingestion benchmark run."""

    events: int
    partitions: int
    visitors: int
    repeats: int
    naive_events: int


# 600k events: at the ~7.5k events/s one worker does here (enriching, 2 cores shared with
# Kafka and ClickHouse) a worker run lasts about 80 s, long enough for the memory curves to
# show growth after warm-up, and 3 rounds of every variant take about 15 minutes; 2M events
# took an hour, which left no room in a session for the rest of a full run.
FULL = Settings(events=600_000, partitions=6, visitors=100_000, repeats=3, naive_events=20_000)
QUICK = Settings(events=300_000, partitions=6, visitors=50_000, repeats=1, naive_events=8_000)


@dataclass(frozen=True)
class Run:
    """One measured pass: events handled and seconds taken."""

    events: int
    seconds: float
    cores: dict[str, float] = field(default_factory=dict)  # worker runs: CPU by process

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class IngestResults:
    """Every run of every variant, the worker memory curves, and the data set's facts."""

    settings: Settings
    payload_bytes: int = 0
    fill_seconds: float = 0.0
    runs: dict[str, list[Run]] = field(default_factory=dict)
    memory: dict[str, list[Curve]] = field(default_factory=dict)
    #: {variant: [{label: cores}]} per worker run: who used the CPU meanwhile.
    cpu: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def median_rate(self, variant: str) -> float:
        rates = [r.rate for r in self.runs.get(variant, [])]
        return statistics.median(rates) if rates else 0.0


class Env:
    """Names and endpoints of this run's ingestion resources."""

    def __init__(self, run_id: str, bootstrap: str, ch_host: str, ch_port: int) -> None:
        self.run_id = run_id
        self.bootstrap = bootstrap
        self.topic = f"bench_{run_id}_raw"
        self.dlq = f"bench_{run_id}_dlq"
        self.enriched = f"bench_{run_id}_enriched"
        self.database = f"bench_{run_id}_ingest"
        self.ch = Client(ch_host, port=ch_port)
        self.ch_host, self.ch_port = ch_host, ch_port
        self._groups = 0

    def group(self, variant: str) -> str:
        self._groups += 1
        return f"bench-{self.run_id}-{variant}-{self._groups}"

    def worker_env(self, group: str, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "VH_KAFKA_BOOTSTRAP": self.bootstrap,
            "VH_KAFKA_TOPIC": self.topic,
            "VH_KAFKA_DLQ_TOPIC": self.dlq,
            "VH_KAFKA_ENRICHED_TOPIC": self.enriched,
            "VH_KAFKA_GROUP": group,
            "VH_CLICKHOUSE_HOST": self.ch_host,
            "VH_CLICKHOUSE_PORT": str(self.ch_port),
            "VH_CLICKHOUSE_DATABASE": self.database,
            "VH_METRICS_PORT": str(port),
            "VH_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }

    def truncate(self) -> None:
        for table in _TABLES:
            self.ch.execute(f"TRUNCATE TABLE IF EXISTS {self.database}.{table}")

    def stored(self) -> int:
        return int(self.ch.execute(f"SELECT count() FROM {self.database}.visits")[0][0])


def _consumed(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("vh_ingest_events_consumed_total "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def run_workers(
    env: Env,
    command: list[str],
    processes: int,
    variant: str,
    total: int,
    status: Callable[[str], None],
    extra_env: dict[str, str] | None = None,
) -> tuple[Run, list[Curve]]:
    """Start ``processes`` copies of ``command`` in one fresh group; time first consume to
    last commit of all ``total`` messages; stop them with SIGTERM.

    Raises:
        RuntimeError: a worker exited early, or the topic was not committed in time.
    """
    group = env.group(variant)
    ports = [19470 + i for i in range(processes)]
    logs = [open(ROOT / "var" / f"bench-{variant}-{i}.log", "wb") for i in range(processes)]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            command, env=env.worker_env(group, port) | (extra_env or {}), stdout=log, stderr=log
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    watcher = topics.CommitWatcher(env.bootstrap, env.topic)
    deadline = time.monotonic() + 120 + total / 2_000
    first = last = 0.0
    window = cpu.CpuWindow(
        {"workers": [p.pid for p in procs]}
        | {k: [v] for k, v in cpu.service_pids(ROOT / "var").items()}
    )
    try:
        with Sampler({p.pid: f"{variant} #{i + 1}" for i, p in enumerate(procs)}) as sampler:
            while True:
                codes = [p.poll() for p in procs]
                if any(code is not None for code in codes):
                    raise RuntimeError(
                        f"{variant}: a worker exited early, exit codes {codes} "
                        f"(see var/bench-{variant}-*.log)"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{variant}: topic not committed in time")
                if not first:
                    if any(_consumed(port) > 0 for port in ports):
                        first = time.perf_counter()
                        window.start()
                    time.sleep(0.02)
                    continue
                done = watcher.committed(group)
                if done >= total:
                    last = time.perf_counter()
                    window.stop()
                    break
                status(f"{variant}: {done:,}/{total:,} committed")
                time.sleep(0.05)
            curves = list(sampler.curves.values())
    finally:
        watcher.close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    return Run(total, last - first, window.cores or {}), curves


def run_baseline(env: Env, results: IngestResults, mode: str, limit: int) -> Run:
    """Run ``bench.baselines`` as a process; its JSON line is the result.

    The process's memory is sampled too (kafka-python's own share of a worker's RSS).
    """
    group = env.group(mode)
    proc = subprocess.Popen(
        [PY, "-m", "bench.baselines", mode, "--topic", env.topic, "--group", group,
         "--limit", str(limit), "--database", env.database],
        env=env.worker_env(group, 0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    with Sampler({proc.pid: f"{mode} #1"}) as sampler:
        out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} baseline failed: {err.decode()[-2000:]}")
    results.memory.setdefault(mode, []).extend(sampler.curves.values())
    result = json.loads(out.decode().strip().splitlines()[-1])
    return Run(int(result["events"]), float(result["seconds"]))


def run(
    env: Env,
    settings: Settings,
    enrich: EnrichConfig,
    progress: Callable[[str], None],
    status: Callable[[str], None],
) -> IngestResults:
    """Fill the topic, then the interleaved rounds. Resources are dropped by :func:`cleanup`."""
    results = IngestResults(settings)
    (ROOT / "var").mkdir(exist_ok=True)
    migrations.apply(lambda sql: env.ch.execute(sql), env.database, log=lambda _m: None)
    topics.create_topic(env.bootstrap, env.topic, settings.partitions)
    topics.create_topic(env.bootstrap, env.dlq, 1)
    topics.create_topic(env.bootstrap, env.enriched, settings.partitions)
    progress(f"publishing {settings.events:,} demo events to {settings.partitions} partitions")
    results.payload_bytes, results.fill_seconds = topics.fill(
        env.bootstrap,
        env.topic,
        settings.events,
        enrich,
        visitors=settings.visitors,
        progress=lambda n: status(f"published {n:,}/{settings.events:,}"),
    )
    total = sum(topics.end_offsets(env.bootstrap, env.topic).values())
    off = {"VH_ENRICH": "off"}
    # The same worker, same run, without publishing to the enriched stream: its cost.
    no_stream = {"VH_ENRICHED_STREAM": "off"}
    for r in range(settings.repeats):
        tag = f"round {r + 1}/{settings.repeats}"
        plan: list[tuple[str, Callable[[], Run]]] = [
            ("bare", lambda: run_baseline(env, results, "bare", total)),
            ("noenrich", lambda: _workers(env, results, 1, "noenrich", total, status, off)),
            ("workers1", lambda: _workers(env, results, 1, "workers1", total, status)),
            ("nostream", lambda: _workers(env, results, 1, "nostream", total, status, no_stream)),
            ("workers2", lambda: _workers(env, results, 2, "workers2", total, status)),
            (
                "before15",
                lambda: _without_view(
                    env,
                    "visit_pages_mv",
                    lambda: _workers(env, results, 1, "before15", total, status),
                ),
            ),
            ("naive", lambda: run_baseline(env, results, "naive", settings.naive_events)),
        ]
        for variant, measure in plan:
            env.truncate()
            result = measure()
            if variant != "bare":
                stored = env.stored()
                expected = result.events
                if stored < expected:
                    raise RuntimeError(f"{variant}: {stored:,} rows stored of {expected:,}")
            results.runs.setdefault(variant, []).append(result)
            progress(
                f"{tag} {variant:>9}: {result.rate:>9,.0f} events/s "
                f"({result.events:,} in {result.seconds:.1f} s)"
            )
    env.truncate()
    return results


def _workers(
    env: Env,
    results: IngestResults,
    processes: int,
    variant: str,
    total: int,
    status: Callable[[str], None],
    extra_env: dict[str, str] | None = None,
) -> Run:
    """``processes`` copies of ``vh worker``: (a) is the same command with ``VH_ENRICH=off``."""
    measured, curves = run_workers(
        env, [VH, "worker"], processes, variant, total, status, extra_env
    )
    results.memory.setdefault(variant, []).extend(curves)
    return measured


def _without_view(env: Env, view: str, measure: Callable[[], Run]) -> Run:
    """``measure`` with a materialized view detached: the ingestion before it existed (#15's
    visit_pages view, 040), in the same run and database as the others."""
    env.ch.execute(f"DETACH TABLE {env.database}.{view}")
    try:
        return measure()
    finally:
        env.ch.execute(f"ATTACH TABLE {env.database}.{view}")


def cleanup(env: Env) -> None:
    """Drop the run's database and topics (best effort)."""
    try:
        env.ch.execute(f"DROP DATABASE IF EXISTS {env.database}")
    finally:
        env.ch.disconnect()
        topics.delete_topics(env.bootstrap, [env.topic, env.dlq, env.enriched])
