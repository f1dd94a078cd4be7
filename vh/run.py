"""``vh run`` (``make run``): the whole pipeline on this machine, until Ctrl-C.

Assumes ``vh stack up`` has started Kafka and ClickHouse. Creates the topics, migrates the
schema, creates a demo API token, registers a demo webhook endpoint (a loopback receiver in
this process that prints what it gets), then runs four processes side by side — the ingest
worker, the query API, ``vh webhooks run`` and the demo traffic source — with their output
prefixed by name. Ctrl-C (or
SIGTERM) stops all three gracefully: the worker flushes and commits before it exits. Every
address it prints comes from the same settings objects the processes read.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from ingest.config import IngestConfig
from ingest.kafka_clients import ensure_topics
from query_api.config import ApiConfig
from schemas import env
from vh import demo_receiver
from vh.commands import Subparsers, command
from vh.settings import RunSettings

VH = [sys.executable, "-m", "vh"]
DEMO_TENANT = "demo"


def register(sub: Subparsers) -> None:
    command(
        sub,
        "run",
        run,
        "the whole pipeline here: worker, API and demo traffic (Ctrl-C stops)",
        "Create the topics, migrate, create a demo token, then run `vh worker`, `vh api` "
        "and `vh produce-demo` side by side until Ctrl-C. Needs `vh stack up` first.",
    )


def _prefix(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:<8}| {line.decode(errors='replace')}")
        sys.stdout.flush()


def _run_once(argv: list[str], environ: dict[str, str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=environ)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"`{' '.join(argv)}` failed (exit {result.returncode})")
    return result.stdout


def _announce(environ: dict[str, str], token: str, api: ApiConfig, ingest: IngestConfig) -> None:
    """Once the first visits are stored, print how to read one back through the API."""
    base = f"http://{api.host}:{api.port}"
    visitor = "VISITOR_ID"
    for _ in range(30):
        time.sleep(2)
        found = subprocess.run(
            [*VH, "visitors", "--tenant", DEMO_TENANT, "--limit", "1"],
            capture_output=True,
            text=True,
            check=False,
            env=environ,
        ).stdout.split()
        if found:
            visitor = found[0]
            break
    print(
        "\n== The pipeline runs. In another terminal:\n"
        f"  curl -s -H 'Auth-Token: {token}' {base}/visitors/{visitor} | python3 -m json.tool\n"
        f"  .venv/bin/vh visitors --tenant {DEMO_TENANT}      # more visitor ids\n"
        f"  curl -s {base}/metrics | head                     # API metrics\n"
        f"  curl -s http://127.0.0.1:{ingest.metrics_port}/metrics | grep vh_"
        "    # worker metrics\n"
        f"  .venv/bin/vh webhooks list --tenant {DEMO_TENANT}"
        "   # the demo endpoint: its deliveries print as `webhook |` lines\n"
        f"  clickhouse-client --port {ingest.clickhouse.port} "
        f"-d {ingest.clickhouse.database}  # SQL\n"
        f"  .venv/bin/vh report --tenant {DEMO_TENANT} --days 1 --out report.html"
        "   # a traffic report: open report.html in a browser (file://)\n"
        "Ctrl-C stops the worker, the API and the demo traffic; `make down` stops the stack.\n",
        flush=True,
    )


def _ensure_topics(ingest: IngestConfig) -> None:
    """Create the raw and dead-letter topics (4 and 1 partitions) unless they exist, so the
    worker never starts on a missing topic. Production creates topics with its own tooling."""
    ensure_topics(
        ingest.kafka_bootstrap,
        {ingest.topic: 4, ingest.dlq_topic: 1, ingest.enriched.topic: 4},
        replication=ingest.kafka_replication_factor,
        min_insync=ingest.kafka_min_insync_replicas,
    )


def _demo_webhook(environ: dict[str, str], port: int) -> dict[str, str]:
    """Register this run's loopback receiver for the demo tenant (replacing an earlier
    run's), start it; the environment of ``vh webhooks run``, which may post to loopback."""
    url = f"http://127.0.0.1:{port}/demo-webhook"
    subprocess.run(
        [*VH, "webhooks", "remove", "--tenant", DEMO_TENANT, "--url", url],
        capture_output=True, check=False, env=environ,
    )  # fmt: skip
    added = _run_once([*VH, "webhooks", "add", "--tenant", DEMO_TENANT, "--url", url], environ)
    secret = next(line.split()[-1] for line in added.splitlines() if line.startswith("secret:"))
    demo_receiver.start(port, secret)
    return {**environ, "VH_WEBHOOKS_ALLOW_PRIVATE": "on"}


def run(args: argparse.Namespace) -> int:
    environ: dict[str, str] = args.environ
    ingest = IngestConfig.from_env(environ)
    api = ApiConfig.from_env(environ)
    demo = env.load(RunSettings, environ, error=ValueError)
    print("creating topics and migrating the ClickHouse schema ...", flush=True)
    _ensure_topics(ingest)
    _run_once([*VH, "migrate"], environ)
    created = _run_once(
        [*VH, "tokens", "create", "--tenant", DEMO_TENANT, "--name", "make-run"], environ
    )
    token = next(line.split()[-1] for line in created.splitlines() if line.startswith("secret:"))
    hook_env = _demo_webhook(environ, demo.demo_webhook_port)

    commands = {
        "worker": ([*VH, "worker"], environ),
        "api": ([*VH, "api"], environ),
        "webhooks": ([*VH, "webhooks", "run"], hook_env),
        "demo": ([*VH, "produce-demo", "--rate", str(demo.demo_rate)], environ),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, (argv, proc_env) in commands.items():
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=proc_env
        )
        assert proc.stdout is not None
        threading.Thread(target=_prefix, args=(name, proc.stdout), daemon=True).start()
        procs[name] = proc

    threading.Thread(target=_announce, args=(environ, token, api, ingest), daemon=True).start()

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.is_set():
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the rest", flush=True)
                    stopping.set()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    # Demo traffic first, so the worker's final flush sees everything that was published.
    for name in ("demo", "api", "webhooks", "worker"):
        proc = procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0
