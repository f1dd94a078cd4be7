"""`make run`: the whole pipeline on this machine, until Ctrl-C.

Assumes `make up` has started Kafka and ClickHouse. Migrates the schema, creates a demo API
token, then runs three processes side by side — the ingest worker, the query API and the demo
traffic source — with their output prefixed by name. Ctrl-C (or SIGTERM) stops all three
gracefully: the worker flushes and commits before it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

VENV_BIN = Path(sys.executable).parent
DEMO_TENANT = "demo"


def _prefix(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:<8}| {line.decode(errors='replace')}")
        sys.stdout.flush()


def _run_once(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"`{' '.join(argv)}` failed (exit {result.returncode})")
    return result.stdout


def _announce(env: dict[str, str], token: str) -> None:
    """Once the first visits are stored, print how to read one back through the API."""
    api = f"http://127.0.0.1:{env.get('VH_API_PORT', '8000')}"
    visitor = "VISITOR_ID"
    for _ in range(30):
        time.sleep(2)
        found = subprocess.run(
            [str(VENV_BIN / "vh"), "visitors", "--tenant", DEMO_TENANT, "--limit", "1"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if found:
            visitor = found[0]
            break
    print(
        "\n== The pipeline runs. In another terminal:\n"
        f"  curl -s -H 'Auth-Token: {token}' {api}/visitors/{visitor} | python3 -m json.tool\n"
        f"  .venv/bin/vh visitors --tenant {DEMO_TENANT}      # more visitor ids\n"
        f"  curl -s {api}/metrics | head                     # API metrics\n"
        f"  curl -s http://127.0.0.1:{env.get('VH_METRICS_PORT', '9464')}/metrics | grep vh_"
        "    # worker metrics\n"
        f"  clickhouse-client --port {env.get('VH_CLICKHOUSE_PORT', '19000')} "
        "-d visit_history  # SQL\n"
        "Ctrl-C stops the worker, the API and the demo traffic; `make down` stops the stack.\n",
        flush=True,
    )


def _ensure_topics(env: dict[str, str]) -> None:
    """Create the raw and dead-letter topics (4 and 1 partitions) unless they exist, so the
    worker never starts on a missing topic. Production creates topics with its own tooling."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=env.get("VH_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    try:
        existing = set(admin.list_topics())
        for name, partitions in (
            (env.get("VH_KAFKA_TOPIC", "visits.raw"), 4),
            (env.get("VH_KAFKA_DLQ_TOPIC", "visits.dlq"), 1),
        ):
            if name not in existing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def main() -> int:
    env = dict(os.environ)
    print("creating topics and migrating the ClickHouse schema ...", flush=True)
    _ensure_topics(env)
    _run_once([str(VENV_BIN / "vh"), "migrate"])
    created = _run_once(
        [
            sys.executable,
            "-m",
            "query_api.tokens",
            "create",
            "--tenant",
            DEMO_TENANT,
            "--name",
            "make-run",
        ]
    )
    token = next(line.split()[-1] for line in created.splitlines() if line.startswith("secret:"))

    commands = {
        "worker": [str(VENV_BIN / "vh"), "worker"],
        "api": [sys.executable, "-m", "query_api"],
        "demo": [
            str(VENV_BIN / "vh"),
            "produce-demo",
            "--rate",
            env.get("VH_DEMO_RATE", "200"),
        ],
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, argv in commands.items():
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        assert proc.stdout is not None
        threading.Thread(target=_prefix, args=(name, proc.stdout), daemon=True).start()
        procs[name] = proc

    threading.Thread(target=_announce, args=(env, token), daemon=True).start()

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
    for name in ("demo", "api", "worker"):
        proc = procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
