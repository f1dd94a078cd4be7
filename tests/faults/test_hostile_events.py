"""Hostile events: 10,000 malformed or hostile messages, interleaved with valid ones.

Every hostile message must end exactly one way: in the dead-letter topic with its reason and
its original key and value bytes, or stored and read back through the real API unchanged
(SQL-looking text, control characters and NULs in free-text fields are valid data). The one
worker process must never exit, and its memory must stay bounded while it chews through them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from ingest.dlq import REASON, SOURCE_TOPIC, parse_headers
from schemas.raw_event import REASONS
from tests.faults import events, hostile
from tests.faults.pages import all_visits
from tests.faults.report import Figures
from tests.support.faults import Api, Pipeline, WorkerProcess, wait_until

SECTION = "hostile_events"
pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.clickhouse]

HOSTILE = 10_000
ROUNDS = 4  # round 1 warms the worker up; rounds 2-4 must not grow its memory
PARTITIONS = 4
VALID_VISITORS = 50
RSS_LIMIT_MB = 300.0
RSS_GROWTH_MB = 40.0  # allowed above the warm-up peak: a poll of 64 KiB messages differs
SAMPLE_EVERY_S = 0.5


@dataclass
class RssSampler:
    """Samples the worker's VmRSS every ``SAMPLE_EVERY_S`` in a thread, tagged with a phase."""

    worker: WorkerProcess
    phase: int = 0
    samples: list[tuple[int, float]] = field(default_factory=list)
    died: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            rss = self.worker.rss_mb()
            if rss is None or not self.worker.alive():
                self.died = True
                return
            self.samples.append((self.phase, rss))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def peak(self, phases: range) -> float:
        return max((rss for phase, rss in self.samples if phase in phases), default=0.0)


def _publish(p: Pipeline, batch: list[tuple[int, hostile.Hostile]]) -> None:
    """Each hostile message, then one valid event, to the same partition: the default DLQ cap
    (over half of the last 1000 messages) can never trip, since at most every other one is bad."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=p.bootstrap,
        acks="all",
        enable_idempotence=True,  # keeps each partition's order: hostile, valid, hostile, ...
        linger_ms=20,
        max_request_size=2 * 1024 * 1024,
    )
    try:
        futures = []
        for i, h in batch:
            partition = i % PARTITIONS
            key, value, _ = events.valid_event(i, VALID_VISITORS, prefix="ok")
            futures.append(producer.send(p.topic, key=h.key, value=h.value, partition=partition))
            futures.append(producer.send(p.topic, key=key, value=value, partition=partition))
        producer.flush(timeout=120)
        for future in futures:
            future.get(timeout=0)  # raises if Kafka refused one
    finally:
        producer.close(timeout=30)


def _dead_letters(p: Pipeline) -> list[Any]:
    """Every record of the DLQ topic, from the beginning to its current end."""
    from kafka import KafkaConsumer, TopicPartition

    ends = p.end_offsets(p.dlq_topic)
    consumer = KafkaConsumer(
        bootstrap_servers=p.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    records: list[Any] = []
    try:
        parts = [TopicPartition(p.dlq_topic, n) for n in ends]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp.partition] for tp in parts):
            assert time.monotonic() < deadline, "timed out reading the DLQ topic"
            for batch in consumer.poll(timeout_ms=1000).values():
                records += batch
    finally:
        consumer.close(autocommit=False)
    return records


def _as_returned(e: hostile.Expected) -> dict[str, Any]:
    """The fields of an API visit that must equal what was sent."""
    out: dict[str, Any] = {
        "requestId": e.request_id,
        "timestamp": e.timestamp,
        "url": e.url,
        "ip": e.ip,
        "incognito": e.incognito,
        "userAgent": e.user_agent,
        "tag": e.tag,
    }
    if e.linked_id is not None:
        out["linkedId"] = e.linked_id
    return out


def _returned(visit: dict[str, Any]) -> dict[str, Any]:
    out = {k: visit[k] for k in ("requestId", "timestamp", "url", "ip", "incognito", "tag")}
    out["userAgent"] = visit["browserDetails"]["userAgent"]
    if "linkedId" in visit:
        out["linkedId"] = visit["linkedId"]
    return out


def test_corpus_is_deterministic_and_covers_every_reason() -> None:
    first = list(hostile.corpus(HOSTILE))
    again = list(hostile.corpus(HOSTILE))
    assert [(h.key, h.value) for h in first] == [(h.key, h.value) for h in again]
    assert len({h.key for h in first}) == HOSTILE
    assert {h.reason for h in first} == REASONS | {None}
    assert {h.kind for h in first} == {kind for kind, _ in hostile.CASES}
    stored = [h.visit for h in first if h.visit is not None]
    assert len({v.request_id for v in stored}) == len(stored)


@pytest.mark.timeout(600)
def test_hostile_events_end_in_the_dlq_or_unchanged_in_the_api(
    pipeline_factory: Any, spawn_worker: Any, serve_api: Any, figures: Figures
) -> None:
    started = time.monotonic()
    corpus = list(hostile.corpus(HOSTILE))
    by_key = {h.key: h for h in corpus}
    p: Pipeline = pipeline_factory("hostile", partitions=PARTITIONS)
    # The default DLQ cap stays on (VH_DLQ_MAX_RATIO 0.5 over 1000): the interleaving keeps
    # dead letters at most half of any window, so the cap must not trip; a trip exits the
    # worker, which the test would report as a crash.
    worker: WorkerProcess = spawn_worker(p.worker_env(VH_BATCH_MAX_SECONDS="0.5"))
    sampler = RssSampler(worker)
    figures.record(SECTION, "hostile messages published", HOSTILE)
    figures.record(SECTION, "valid events interleaved (one after each hostile message)", HOSTILE)
    try:
        indexed = list(enumerate(corpus))
        for round_no in range(ROUNDS):
            sampler.phase = round_no
            _publish(p, indexed[round_no::ROUNDS])
            wait_until(p.caught_up, timeout=180, what=f"round {round_no + 1} consumed", every=0.5)
            assert worker.alive(), worker.log.read_text()[-3000:]
    finally:
        sampler.stop()
        warm_up, after = sampler.peak(range(1)), sampler.peak(range(1, ROUNDS))
        figures.record(SECTION, "worker exits during the run", 0 if worker.alive() else 1)
        figures.record(SECTION, "worker peak RSS, MB (limit 300)", max(warm_up, after))
        figures.record(
            SECTION, "worker peak RSS after warm-up minus warm-up peak, MB", after - warm_up
        )
    consumed_s = time.monotonic() - started
    assert not sampler.died and worker.alive(), worker.log.read_text()[-3000:]
    assert len(sampler.samples) >= 4, "too few RSS samples to say anything"
    assert max(warm_up, after) < RSS_LIMIT_MB
    assert after <= warm_up + RSS_GROWTH_MB, (warm_up, after)
    assert worker.stop() == 0, worker.log.read_text()[-3000:]

    # Dead letters: only hostile messages, each once, bytes and reason as expected.
    dlq_count: Counter[bytes] = Counter()
    by_reason: Counter[str] = Counter()
    wrong: list[str] = []
    for record in _dead_letters(p):
        h = by_key.get(record.key)
        headers = dict(record.headers)
        reason = headers[REASON].decode()
        by_reason[reason] += 1
        parse_headers(record.headers)  # every header present and well formed
        if h is None:
            wrong.append(f"a non-hostile message was dead-lettered: key {record.key!r}")
            continue
        dlq_count[h.key] += 1
        if record.value != h.value:
            wrong.append(f"{h.key!r} ({h.kind}): DLQ bytes differ from the original")
        if reason not in REASONS or reason != h.reason:
            wrong.append(f"{h.key!r} ({h.kind}): reason {reason!r}, expected {h.reason!r}")
        if headers[SOURCE_TOPIC].decode() != p.topic:
            wrong.append(f"{h.key!r}: source topic header {headers[SOURCE_TOPIC]!r}")
    figures.record(SECTION, "dead-lettered, by reason", dict(sorted(by_reason.items())))

    # Stored: exactly the valid events and the hostile messages that are valid data.
    client = p.client()
    try:
        stored_ids = {str(r[0]) for r in client.execute("SELECT DISTINCT request_id FROM visits")}
    finally:
        client.disconnect()
    valid_ids = {f"ok-{i:07d}" for i in range(HOSTILE)}
    expected = [h.visit for h in corpus if h.visit is not None]
    expected_ids = {v.request_id for v in expected}
    missing_valid = len(valid_ids - stored_ids)
    unexpected_rows = sorted(stored_ids - valid_ids - expected_ids)

    # Read the stored hostile visits back through the API, visitor by visitor, with each
    # tenant's token: same visitor ids exist in both tenants, so a leak would show here.
    api: Api = serve_api(
        p, list(hostile.TENANTS), VH_API_RATE_LIMIT="100000", VH_API_RATE_BURST="100000"
    )
    want: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for v in expected:
        want.setdefault((v.tenant, v.visitor_id), {})[v.request_id] = _as_returned(v)
    returned_unchanged = changed = cross_tenant = api_requests = 0
    for tenant in hostile.TENANTS:
        other_ids = {v.request_id for v in expected if v.tenant != tenant}
        for visitor in hostile.VISITORS:
            status, visits = all_visits(api.client, quote(visitor, safe=""), api.headers(tenant))
            api_requests += 1 + len(visits) // 500
            assert status in (200, 404), (tenant, visitor, status)
            mine = want.get((tenant, visitor), {})
            got = {v["requestId"]: _returned(v) for v in visits}
            cross_tenant += len(set(got) & other_ids)
            for rid, fields in mine.items():
                if got.get(rid) == fields:
                    returned_unchanged += 1
                else:
                    changed += 1
                    if len(wrong) < 20:
                        wrong.append(f"{rid!r} came back as {got.get(rid)!r}, sent {fields!r}")
            wrong += [f"{rid!r} returned but never stored here" for rid in set(got) - set(mine)]

    dead = sum(dlq_count.values())
    dead_expected = sum(1 for h in corpus if h.reason is not None)
    twice = sum(1 for n in dlq_count.values() if n > 1)
    unaccounted = sum(
        1
        for h in corpus
        if (h.reason is not None and dlq_count[h.key] != 1)
        or (h.visit is not None and (dlq_count[h.key] or h.visit.request_id not in stored_ids))
    )
    figures.record(SECTION, "stored and read back through the API unchanged", returned_unchanged)
    figures.record(SECTION, "stored but changed on the way", changed)
    figures.record(SECTION, "hostile messages not accounted for exactly once", unaccounted)
    figures.record(SECTION, "dead letters delivered more than once", twice)
    figures.record(SECTION, "valid events missing from ClickHouse", missing_valid)
    figures.record(
        SECTION, "cross-tenant reads (visits of the other tenant returned)", cross_tenant
    )
    figures.record(SECTION, "API requests made for the check", api_requests)
    figures.record(SECTION, "seconds publishing and consuming (4 rounds)", consumed_s)
    kinds = Counter(h.kind for h in corpus)
    figures.note(
        SECTION,
        f"Checked: {HOSTILE:,} hostile messages from a seeded generator (`tests/faults/hostile.py`"
        f", {len(kinds)} kinds: {', '.join(sorted(kinds))}), each followed by a valid event on "
        f"the same partition of a {PARTITIONS}-partition topic, published in {ROUNDS} rounds to "
        "one `vh worker` with the default DLQ cap (0.5 over 1000 messages; the interleaving "
        "keeps dead letters at most half of any window). Each message's expected outcome is "
        "written in the generator from the contract: a dead letter (compared byte for byte "
        "with the original key and value, reason header from `schemas.raw_event.REASONS`), or "
        "a visit read back through the real API with both tenants' tokens and compared field "
        "by field (requestId, timestamp, url, ip, incognito, userAgent, linkedId, tag). The "
        "worker's VmRSS was sampled every 0.5 s: round 1 is the warm-up; rounds 2-4 may not "
        f"exceed its peak by more than {RSS_GROWTH_MB:.0f} MB, nor {RSS_LIMIT_MB:.0f} MB at all.",
    )
    assert wrong == [], "\n".join(wrong[:40])
    assert dead == dead_expected
    assert unexpected_rows == [], unexpected_rows[:20]
    assert (unaccounted, twice, changed, missing_valid, cross_tenant) == (0, 0, 0, 0, 0)
    assert returned_unchanged == len(expected)
