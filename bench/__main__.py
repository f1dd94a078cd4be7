"""``python -m bench [--quick] [--only ingest,api,enrich,analytics,webhooks]``: rewrite
docs/benchmarks.md (and docs/analytics.md with the analytics section). A run of a subset of
the sections writes its report to var/bench-partial.md instead (``--out`` to choose).

Runs on the local stack (``make up``; Kafka at ``VH_KAFKA_BOOTSTRAP``, ClickHouse at
``VH_CLICKHOUSE_HOST``/``VH_CLICKHOUSE_PORT``), with a progress display, in this order:
ingestion (workers and baselines), the cluster, API under load, the analysts' questions (on
the API's table when both run), enrichment, webhooks (deliveries/s, publish-to-webhook
latency);
memory is sampled during the first two. Everything it creates is named ``bench_<run id>``
and dropped at the end.
``--quick`` takes about 8 minutes on 2 cores. Full mode took 39 minutes on a quiet machine
(2026-12-04: ingestion, 3 rounds of 600k events per worker variant, 11 minutes; the cluster
6; the 20M-visit table, built once for the API and then timed by the analysts' questions,
12 to build and merge; the API's runs, the analytics, enrichment and webhooks the rest) and
about twice that on a day the machine was shared (the ingestion rounds alone 37 minutes).
Not a test: nothing here asserts on timing; targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import uuid
from pathlib import Path

from clickhouse_driver import Client

from bench import (
    analytics_doc,
    api_data,
    bench_analytics,
    bench_api,
    bench_cluster,
    bench_enrich,
    bench_ingest,
    bench_webhooks,
    charts,
    report,
)
from enrich.config import EnrichConfig
from ingest.config import IngestConfig

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks.md"
PARTIAL_OUT = ROOT / "var" / "bench-partial.md"
ANALYTICS_OUT = OUT.with_name("analytics.md")
SECTIONS = ("ingest", "cluster", "api", "enrich", "analytics", "webhooks")


class Display:
    """Step lines with the elapsed time, plus one status line rewritten in place on a tty."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.section = ""
        self._tty = sys.stdout.isatty()
        self._last_status = 0.0

    def _stamp(self) -> str:
        s = int(time.monotonic() - self.start)
        return f"[{s // 60:02d}:{s % 60:02d}]"

    def step(self, message: str) -> None:
        if self._tty:
            print("\r\033[K", end="")
        print(f"{self._stamp()} {self.section}: {message}", flush=True)

    def status(self, message: str) -> None:
        now = time.monotonic()
        if self._tty:
            print(f"\r\033[K{self._stamp()} {self.section}: {message}", end="", flush=True)
        elif now - self._last_status >= 15:  # logs (CI): a line now and then, not a flood
            self._last_status = now
            print(f"{self._stamp()} {self.section}: {message}", flush=True)


def report_path(only: set[str], out: Path | None) -> Path:
    """``out`` if given; else docs/benchmarks.md for a run of every section, and
    var/bench-partial.md for a subset (the document says every figure comes from one run:
    a subset must not replace the sections it did not run)."""
    if out is not None:
        return out
    return OUT if only == set(SECTIONS) else PARTIAL_OUT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repeats")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help="comma-separated subset of: " + ",".join(SECTIONS),
    )
    parser.add_argument(
        "--analytics-out",
        type=Path,
        default=ANALYTICS_OUT,
        help=f"where the analytics section's document goes (default {ANALYTICS_OUT.name})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where the report goes (default {OUT.name} for a run of every section,"
        f" {PARTIAL_OUT.relative_to(ROOT)} for a subset)",
    )
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the finally blocks stop the
    # workers and drop the run's database and topics.
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(143))
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if not only <= set(SECTIONS):
        parser.error(f"--only takes {','.join(SECTIONS)}")
    args.out = report_path(only, args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    # Where Kafka and ClickHouse are, read as a worker reads it (same variables, same rules).
    stack = IngestConfig.from_env(os.environ)
    bootstrap, ch_host, ch_port = (
        stack.kafka_bootstrap,
        stack.clickhouse.host,
        stack.clickhouse.port,
    )
    display = Display()
    display.section = "bench"
    ch = Client(ch_host, port=ch_port)
    machine = report.Machine.probe(str(ch.execute("SELECT version()")[0][0]))
    ch.disconnect()
    machine.note_load("start")
    display.step(f"run {run_id}, {'quick' if args.quick else 'full'} mode, sections {args.only}")
    ingest = api = enrich = None
    shared: api_data.Table | None = None  # the API's visit table, timed again by analytics
    clustered: bench_cluster.ClusterResults | None = None
    if "ingest" in only:
        display.section = "ingest"
        env = bench_ingest.Env(run_id, bootstrap, ch_host, ch_port)
        try:
            ingest = bench_ingest.run(
                env,
                bench_ingest.QUICK if args.quick else bench_ingest.FULL,
                EnrichConfig.from_env(os.environ),
                display.step,
                display.status,
            )
        finally:
            bench_ingest.cleanup(env)
        machine.note_load("after ingestion")
    if "cluster" in only:
        display.section = "cluster"
        settings = bench_ingest.QUICK if args.quick else bench_ingest.FULL
        clustered = bench_cluster.run(
            run_id, settings.events, EnrichConfig.from_env(os.environ), display.step,
            display.status,
        )  # fmt: skip
        machine.note_load("after the cluster")
    if "api" in only:
        display.section = "api"
        api, shared = bench_api.run(
            ch_host,
            ch_port,
            run_id,
            bench_api.QUICK if args.quick else bench_api.FULL,
            display.step,
            keep="analytics" in only,
        )
        machine.note_load("after API")
    analytics = None
    if "analytics" in only:
        display.section = "analytics"
        analytics = bench_analytics.run(
            ch_host, ch_port, run_id,
            bench_analytics.QUICK if args.quick else bench_analytics.FULL,
            EnrichConfig.from_env(os.environ), display.step, shared,
        )  # fmt: skip
        args.analytics_out.write_text(analytics_doc.render(analytics, args.quick), "utf-8")
        display.step(f"written to {args.analytics_out}")
        machine.note_load("after analytics")
    if "enrich" in only:
        display.section = "enrich"
        enrich = bench_enrich.measure(args.quick, display.step)
        machine.note_load("end")
    hooks = None
    if "webhooks" in only:
        display.section = "webhooks"
        hooks = bench_webhooks.run(
            bootstrap, ch_host, ch_port, run_id,
            bench_webhooks.QUICK if args.quick else bench_webhooks.FULL, display.step,
        )  # fmt: skip
        machine.note_load("after webhooks")
    display.section = "bench"
    pictures = charts.write(args.out, ingest, api)
    text = report.render(
        machine, args.quick, time.monotonic() - display.start, ingest, api, enrich, clustered,
        pictures,
    )  # fmt: skip
    if analytics is not None:
        text += (
            "\n## Analytics\n\nThe analysts' questions (docs/analytics.md) on the raw visits"
            " and from the views:\n\n" + analytics_doc.summary(analytics)
        )
    if hooks is not None:
        text += "\n" + bench_webhooks.render(hooks)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    display.step(f"written to {args.out}" + "".join(f", {f}" for f in pictures.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
