"""Deliveries against real HTTP receivers on loopback, dead letters in the real ClickHouse:
a hanging endpoint does not delay another; retries, then a dead letter, then a replay."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from fingerprint_server_sdk.webhook_validation import WebhookValidation

from tests.support.receiver import Receiver
from vh.main import main
from webhooks import deadletters, endpoints
from webhooks.config import WebhooksConfig
from webhooks.dispatch import Delivery, Dispatcher
from webhooks.endpoints import Endpoint
from webhooks.http import Poster
from webhooks.letter_batch import LetterBatcher
from webhooks.metrics import RecordingMetrics
from webhooks.process import wall_ms
from webhooks.schedule import RetrySchedule
from webhooks.store import ClickHouseStore


def dispatcher(
    config: WebhooksConfig, known: dict[str, Endpoint], store: ClickHouseStore, poster: Poster,
    metrics: RecordingMetrics,
) -> Dispatcher:  # fmt: skip
    async def dead(letter: deadletters.DeadLetter) -> None:
        deadletters.record(store.execute, config.clickhouse.layout, [letter])

    return Dispatcher(
        poster=poster,
        current=known.get,
        dead=dead,
        schedule=RetrySchedule(
            config.retry_initial_seconds, config.retry_max_seconds, config.retry_for_seconds
        ),
        lanes=config.concurrency,
        capacity=config.queue_size,
        grace_ms=60_000,
        metrics=metrics,
        wall_ms=wall_ms,
        random=random.random,
    )


def deliveries(endpoint: Endpoint, n: int, done: list[str]) -> list[Delivery]:
    def settle(event_id: str) -> Callable[[], None]:
        return lambda: done.append(event_id)

    return [
        Delivery(endpoint.endpoint_id, endpoint.tenant, f"e{i}", f"v{i % 5}",
                 b'{"event_id":"e%d"}' % i, wall_ms(), settle(f"e{i}"))
        for i in range(n)
    ]  # fmt: skip


async def until(check: Callable[[], bool], timeout_s: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def test_a_hanging_endpoint_does_not_delay_another(
    wh_config: WebhooksConfig, wh_store: ClickHouseStore, receivers: Callable[..., Receiver]
) -> None:
    hanging = receivers(hang=threading.Event())
    healthy = receivers()
    known = {
        "wh_hang": Endpoint("wh_hang", "t1", hanging.url, "s1"),
        "wh_ok": Endpoint("wh_ok", "t2", healthy.url, "s2"),
    }
    metrics = RecordingMetrics()

    async def go() -> tuple[float, list[str], list[str]]:
        poster = Poster(wh_config.timeout_seconds, 4096, allow_private=True)
        d = dispatcher(wh_config, known, wh_store, poster, metrics)
        stuck: list[str] = []
        fine: list[str] = []
        for delivery in deliveries(known["wh_hang"], 40, stuck):
            d.submit(delivery)
        for delivery in deliveries(known["wh_ok"], 40, fine):
            d.submit(delivery)
        took = await until(lambda: len(fine) == 40, 5.0)
        await d.close()
        await poster.aclose()
        return took, stuck, fine

    took, stuck, fine = asyncio.run(go())
    assert len(fine) == 40
    # Within one hanging attempt's timeout: the healthy tenant never waited for the other.
    assert took < wh_config.timeout_seconds
    assert len(healthy.delivered()) == 40 and stuck == []
    assert metrics.counter("vh_webhooks_delivered_total", endpoint="wh_ok") == 40
    assert metrics.counter("vh_webhooks_delivered_total", endpoint="wh_hang") == 0


def test_retries_then_a_dead_letter_then_a_replay_delivers_it(
    wh_config: WebhooksConfig,
    wh_store: ClickHouseStore,
    receivers: Callable[..., Receiver],
) -> None:
    failing = receivers(fail_first=10**6)
    layout = wh_config.clickhouse.layout
    endpoint = endpoints.add(wh_store.execute, layout, "acme", failing.url, wall_ms())
    known = {endpoint.endpoint_id: endpoint}
    metrics = RecordingMetrics()

    async def go() -> list[str]:
        poster = Poster(wh_config.timeout_seconds, 4096, allow_private=True)
        d = dispatcher(wh_config, known, wh_store, poster, metrics)
        done: list[str] = []
        for delivery in deliveries(endpoint, 3, done):
            d.submit(delivery)
        await until(lambda: len(done) == 3, 10.0)
        await d.close()
        await poster.aclose()
        return done

    assert sorted(asyncio.run(go())) == ["e0", "e1", "e2"]  # settled: dead-lettered
    labels = {"endpoint": endpoint.endpoint_id}
    assert metrics.counter("vh_webhooks_retried_total", **labels, reason="http_500") >= 3
    assert metrics.counter("vh_webhooks_dead_lettered_total", **labels, reason="http_500") == 3
    letters = deadletters.pending(wh_store.execute, layout, "acme")
    assert sorted(x.event_id for x in letters) == ["e0", "e1", "e2"]
    assert all(x.reason == "HTTP 500" and x.attempts > 1 for x in letters)
    assert failing.delivered() == []

    failing.behaviour.fail_first = 0  # the endpoint is fixed
    environ = _environ(wh_config)
    code = main(["webhooks", "replay", "--tenant", "acme"], environ)
    assert code == 0
    got = failing.delivered()
    assert sorted(r.body for r in got) == [b'{"event_id":"e%d"}' % i for i in range(3)]
    for r in got:
        header = r.headers["fpjs-event-signature"]
        assert WebhookValidation.is_valid_webhook_signature(header, r.body, endpoint.secret)
    assert deadletters.pending(wh_store.execute, layout, "acme") == []
    assert main(["webhooks", "replay", "--tenant", "acme"], environ) == 0  # nothing left
    assert len(failing.delivered()) == 3


def _environ(config: WebhooksConfig) -> dict[str, Any]:
    return {
        "VH_CLICKHOUSE_HOST": config.clickhouse.host,
        "VH_CLICKHOUSE_PORT": str(config.clickhouse.port),
        "VH_CLICKHOUSE_DATABASE": config.clickhouse.database,
        "VH_WEBHOOKS_ALLOW_PRIVATE": "on",
        "VH_LOG_LEVEL": "WARNING",
    }


def test_a_full_queue_dead_letters_the_overflow_at_once_in_few_inserts(
    wh_config: WebhooksConfig, wh_store: ClickHouseStore, receivers: Callable[..., Receiver]
) -> None:
    hanging = receivers(hang=threading.Event())
    endpoint = Endpoint("wh_full", "acme", hanging.url, "s")
    layout = wh_config.clickhouse.layout
    config = replace(wh_config, concurrency=1, queue_size=2)
    metrics = RecordingMetrics()
    inserts: list[int] = []

    def insert(batch: Sequence[deadletters.DeadLetter]) -> None:
        inserts.append(len(batch))
        deadletters.record(wh_store.execute, layout, batch)

    async def go() -> list[str]:
        poster = Poster(30.0, 4096, allow_private=True)  # the hanging POST outlives the test
        executor = ThreadPoolExecutor(1)
        running = asyncio.get_running_loop()
        batcher = LetterBatcher(
            insert, lambda work: running.run_in_executor(executor, work), random.random
        )
        d = dispatcher(config, {endpoint.endpoint_id: endpoint}, wh_store, poster, metrics)
        d.dead = batcher.store
        done: list[str] = []
        for delivery in deliveries(endpoint, 50, done):
            d.submit(delivery)
        await until(lambda: len(done) == 48, 5.0)  # 2 queued (then 1 in flight), 48 over
        await d.close()
        await poster.aclose()
        executor.shutdown()
        return done

    assert len(asyncio.run(go())) == 48
    letters = deadletters.pending(wh_store.execute, layout, "acme")
    assert len(letters) == 48 and {x.reason for x in letters} == {"queue_full"}
    assert len(inserts) <= 3 and sum(inserts) == 48
    labels = {"endpoint": "wh_full", "reason": "queue_full"}
    assert metrics.counter("vh_webhooks_dead_lettered_total", **labels) == 48
