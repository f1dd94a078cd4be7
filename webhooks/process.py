"""``vh webhooks run``: opens what the process needs, wires it, runs until stopped.

Two threads: the caller's reads Kafka and commits (``webhooks.relay``); an event loop
thread runs every delivery (``webhooks.dispatch``) with one HTTP connection pool, and a
one-thread executor stores dead letters (a ClickHouse client is never shared between
threads: the relay refreshes endpoints with its own).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from webhooks import deadletters, endpoints, stream
from webhooks.config import WebhooksConfig
from webhooks.dispatch import Dispatcher
from webhooks.endpoints import Registry
from webhooks.errors import WebhooksError
from webhooks.http import Poster
from webhooks.letter_batch import LetterBatcher
from webhooks.metrics import Metrics
from webhooks.offsets import OffsetTracker
from webhooks.relay import Relay
from webhooks.schedule import RetrySchedule
from webhooks.store import ClickHouseStore

logger = logging.getLogger(__name__)
T = TypeVar("T")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class NotReady(WebhooksError):
    """A service the process needs is missing; the message says what to run."""


class LoopThread:
    """An asyncio event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def run(self, work: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout_s)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


def open_store(config: WebhooksConfig) -> ClickHouseStore:
    """A store whose server answers and has the webhook tables. Raises NotReady."""
    store = ClickHouseStore(config.clickhouse)
    try:
        found = store.execute(
            "SELECT count() FROM system.tables WHERE database = %(db)s"
            " AND name IN ('webhook_endpoints', 'webhook_dead_letters')",
            {"db": config.clickhouse.database},
        )
    except WebhooksError as exc:
        store.close()
        raise NotReady(f"{exc}: run `make up`") from exc
    if int(found[0][0]) != 2:
        store.close()
        raise NotReady(
            f"database {config.clickhouse.database!r} has no webhook tables: run `vh migrate`"
        )
    return store


@contextmanager
def open_process(
    config: WebhooksConfig, metrics: Metrics
) -> Iterator[Callable[[threading.Event], int]]:
    """A ready process: call it with a stop event; everything closes on exit.

    Raises:
        NotReady: ClickHouse or Kafka unreachable, or the schema not migrated.
    """
    with ExitStack() as stack:
        reads = stack.enter_context(open_store(config))
        letters = stack.enter_context(open_store(config))
        layout = config.clickhouse.layout
        registry = Registry(
            lambda: endpoints.load(reads.execute, layout), config.refresh_seconds, time.monotonic
        )
        registry.refresh()
        executor = ThreadPoolExecutor(1, thread_name_prefix="vh-webhooks-letters")
        stack.callback(executor.shutdown)
        loop = LoopThread()
        stack.callback(loop.stop)

        async def start() -> tuple[Poster, Dispatcher]:
            running = asyncio.get_running_loop()
            batcher = LetterBatcher(
                lambda batch: deadletters.record(letters.execute, layout, batch),
                lambda work: running.run_in_executor(executor, work),
                random.random,
            )
            poster = Poster(config.timeout_seconds, config.response_max_bytes, config.allow_private)
            return poster, Dispatcher(
                poster=poster,
                current=registry.current,
                dead=batcher.store,
                schedule=RetrySchedule(
                    config.retry_initial_seconds, config.retry_max_seconds, config.retry_for_seconds
                ),
                lanes=config.concurrency,
                capacity=config.queue_size,
                grace_ms=int(config.rotation_grace_seconds * 1000),
                metrics=metrics,
                wall_ms=wall_ms,
                random=random.random,
            )

        poster, dispatcher = loop.run(start())

        async def stop_deliveries() -> None:
            await dispatcher.close()
            await poster.aclose()

        stack.callback(lambda: loop.run(stop_deliveries()))
        tracker = OffsetTracker()

        def revoked(keys: list[stream.Key]) -> None:
            for key in keys:
                tracker.forget(key)

        try:
            consumer = stream.open_consumer(
                config.kafka_bootstrap, config.group, config.enriched.topic, revoked
            )
        except Exception as exc:
            raise NotReady(
                f"Kafka at {config.kafka_bootstrap} is not reachable: run `make up` ({exc})"
            ) from exc
        stack.callback(stream.close, consumer)
        relay = Relay(
            consumer=consumer,
            registry=registry,
            tracker=tracker,
            submit=lambda delivery: loop.call(dispatcher.submit, delivery),
            congested=dispatcher.congested,
            metrics=metrics,
            clock=time.monotonic,
            max_records=max(1, min(500, config.queue_size // 2)),
        )

        def run(stop: threading.Event) -> int:
            logger.info(
                "webhooks running",
                extra={"topic": config.enriched.topic, "group": config.group},
            )
            while not stop.is_set():
                relay.step()
            relay.commit()  # what is settled; the rest is delivered again after a restart
            return 0

        yield run
