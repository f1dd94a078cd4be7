"""Crash safety: 200k events while workers are kill -9'd, ClickHouse and Kafka restarted.

After recovery every published requestId must come back from the real API exactly once,
through its own tenant's token only, and the dead-letter topic must be empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest

from tests.faults import events
from tests.faults.pages import all_visits
from tests.faults.report import Figures
from tests.support.faults import (
    ROOT,
    Api,
    Pipeline,
    WorkerProcess,
    restart_clickhouse,
    restart_kafka,
    wait_until,
)

SECTION = "crash"
pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.clickhouse]

EVENTS = 200_000
VISITORS = 500  # ~400 visits each: one API page (limit 500) per visitor, 2 at most
PUBLISH_SECONDS = 45.0  # the producer is still publishing while the faults happen
KILL_EVERY_S = 8.0  # > the 6 s session timeout, or the group would never settle in between
CLICKHOUSE_RESTART_AT_S = 14.0
KAFKA_RESTART_AT_S = 30.0
WORKERS = 2  # two members: every kill also moves partitions between live workers


@pytest.mark.timeout(900)
def test_kill9_and_restarts_lose_and_duplicate_nothing(
    pipeline_factory: Any,
    spawn_worker: Any,
    serve_api: Any,
    figures: Figures,
) -> None:
    p: Pipeline = pipeline_factory("crash", partitions=4)
    env = p.worker_env(VH_BATCH_MAX_ROWS="5000", VH_BATCH_MAX_SECONDS="0.5")
    publisher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.faults.publisher",
            "--bootstrap",
            p.bootstrap,
            "--topic",
            p.topic,
            "--count",
            str(EVENTS),
            "--visitors",
            str(VISITORS),
            "--seconds",
            str(PUBLISH_SECONDS),
        ],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    workers: list[WorkerProcess] = [spawn_worker(env) for _ in range(WORKERS)]
    killed: list[WorkerProcess] = []
    restarts = {"ClickHouse": 0, "Kafka": 0}
    started = time.monotonic()

    # The fault schedule, while the publisher runs: a kill every KILL_EVERY_S (alternating
    # between the two workers, each replaced at once), one ClickHouse and one Kafka restart.
    next_kill = started + KILL_EVERY_S
    while publisher.poll() is None or restarts["Kafka"] == 0:
        now = time.monotonic()
        elapsed = now - started
        for w in workers:
            assert w.alive(), f"worker {w.pid} died on its own: {w.log.read_text()[-3000:]}"
        if now >= next_kill:
            victim = workers.pop(0)
            victim.kill9()
            killed.append(victim)
            workers.append(spawn_worker(env))
            next_kill = now + KILL_EVERY_S
        if restarts["ClickHouse"] == 0 and elapsed >= CLICKHOUSE_RESTART_AT_S:
            restart_clickhouse(p.stack)
            restarts["ClickHouse"] += 1
        if restarts["Kafka"] == 0 and elapsed >= KAFKA_RESTART_AT_S:
            restart_kafka(p.stack)
            restarts["Kafka"] += 1
        time.sleep(0.2)
    publish_s = time.monotonic() - started
    out, _ = publisher.communicate(timeout=300)
    assert publisher.returncode == 0
    result = json.loads(out.decode().strip().splitlines()[-1])
    figures.record(SECTION, "events published (acknowledged by Kafka)", result["acked"])
    assert result["failed"] == [], f"{len(result['failed'])} sends never acknowledged"
    assert result["acked"] == EVENTS
    figures.record(SECTION, "worker processes kill -9'd", len(killed))
    figures.record(SECTION, "ClickHouse restarts", restarts["ClickHouse"])
    figures.record(SECTION, "Kafka broker restarts", restarts["Kafka"])
    figures.record(SECTION, "seconds publishing (faults injected meanwhile)", publish_s)

    # Recovery: the surviving workers catch up (committed offsets == end offsets).
    try:
        wait_until(p.caught_up, timeout=300, what="the workers to commit every offset", every=1)
    except AssertionError as exc:
        tails = "\n".join(f"--- {w.log}\n{w.log.read_text()[-4000:]}" for w in workers)
        msg = f"{exc}; committed {p.committed()} of {p.end_offsets()}\n{tails}"
        raise AssertionError(msg) from exc
    catch_up_s = time.monotonic() - started - publish_s
    figures.record(SECTION, "seconds to catch up after publishing ended", catch_up_s)
    for w in workers:
        assert w.stop() == 0, w.log.read_text()[-3000:]
    assert all(w.proc.returncode == -9 for w in killed)

    dead_letters = sum(p.end_offsets(p.dlq_topic).values())
    figures.record(SECTION, "records in the dead-letter topic", dead_letters)

    # Every requestId through the real API, each visitor with its own tenant's token; and
    # every visitor with the other tenant's token, which must not see it.
    expected: dict[str, set[str]] = {}
    for i in range(EVENTS):
        _, visitor = events.visitor_of(i, VISITORS)
        expected.setdefault(visitor, set()).add(f"crash-{i:07d}")
    api: Api = serve_api(
        p, list(events.TENANTS), VH_API_RATE_LIMIT="100000", VH_API_RATE_BURST="100000"
    )
    seen: Counter[str] = Counter()
    misplaced = cross_tenant = requests = 0
    for visitor, ids in expected.items():
        tenant = visitor.split("-")[0]
        other = next(t for t in events.TENANTS if t != tenant)
        status, visits = all_visits(api.client, visitor, api.headers(tenant))
        requests += 1 + len(visits) // 500
        assert status == 200, (visitor, status)
        returned = [v["requestId"] for v in visits]
        seen.update(returned)
        misplaced += len(set(returned) - ids)
        foreign_status, foreign = all_visits(api.client, visitor, api.headers(other))
        requests += 1
        cross_tenant += len(foreign)
        assert foreign_status == 404, (visitor, other, foreign_status)
    published = {rid for ids in expected.values() for rid in ids}
    lost = len(published - set(seen))
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    figures.record(SECTION, "requestIds lost (published, not returned by the API)", lost)
    figures.record(SECTION, "requestIds duplicated (returned more than once)", duplicated)
    figures.record(SECTION, "visits returned under the wrong visitor", misplaced)
    figures.record(
        SECTION, "cross-tenant reads (visits seen with the other tenant's token)", cross_tenant
    )
    figures.record(SECTION, "API requests made for the check", requests)

    client = p.client()
    try:
        [(rows, distinct)] = client.execute("SELECT count(), uniqExact(request_id) FROM visits")
    finally:
        client.disconnect()
    figures.record(SECTION, "rows in `visits` before merges (redelivered copies included)", rows)
    figures.note(
        SECTION,
        f"Checked: {EVENTS:,} events with unique requestIds over {VISITORS} visitors of two "
        f"tenants, published over ~{PUBLISH_SECONDS:.0f} s to a 4-partition topic while "
        f"{WORKERS} `vh worker` processes ran; every {KILL_EVERY_S:.0f} s one of them was "
        "killed with SIGKILL and replaced; ClickHouse and the Kafka broker were each stopped "
        "and started once mid-stream. After the group committed every end offset, every "
        "visitor was read through the real API (`GET /visitors/{id}?from=0&limit=500`, "
        "following `paginationKey` to the last page) with its tenant's token: each published "
        "requestId must appear exactly once, under its visitor, and nothing else. Each visitor "
        "was also requested with the other tenant's token (404 expected, no visits). "
        f"ClickHouse held {rows:,} rows for {distinct:,} requestIds before merges "
        "(rows beyond the requestIds are redelivered copies, hidden by ReplacingMergeTree "
        "and the API's `LIMIT 1 BY request_id`).",
    )
    assert (lost, duplicated, misplaced, cross_tenant, dead_letters) == (0, 0, 0, 0, 0)
    assert distinct == EVENTS
