"""Deliveries per endpoint: bounded queues, lanes, retries, dead letters (on one event loop).

Each endpoint has ``lanes`` lanes (its concurrency limit), each a bounded queue drained by
one task, one delivery at a time. A visitor's events always take the same lane
(:func:`lane_of`), so they arrive in order wherever the endpoint is healthy; a delivery
being retried holds its lane (and that lane's later events: order), never another lane, and
never another endpoint's. A full lane does not block the reader (that would delay every
other endpoint): the event is dead-lettered at once with reason ``queue_full`` and can be
replayed. So memory is bounded by ``lanes x capacity`` deliveries per endpoint. To keep a
backlog (a restart, a burst) from overflowing endpoints that are merely behind, the reader
stops fetching while a *healthy* endpoint (its last attempt a 2xx within :data:`SLOW_S`)
has a lane half full (:meth:`Dispatcher.congested`); a failing, hanging or slow endpoint
never holds the reader back: it overflows into dead letters instead.

A delivery is done (its offset may be committed) once a 2xx answered it or its dead letter
is stored; a dead letter ClickHouse does not take is retried until it does.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from webhooks.deadletters import DeadLetter
from webhooks.endpoints import Endpoint
from webhooks.errors import TargetRefused
from webhooks.http import Attempt
from webhooks.metrics import Metrics
from webhooks.schedule import RetrySchedule
from webhooks.signing import HEADER, signature_header
from webhooks.targets import shown

logger = logging.getLogger(__name__)

QUEUE_FULL = "queue_full"
#: An endpoint answering slower than this is treated as unhealthy: it no longer holds the
#: reader back (every other endpoint would wait for it).
SLOW_S = 1.0


class Post(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt: ...


@dataclass(slots=True)
class Delivery:
    """One event for one endpoint; ``done`` is called once, when it is settled."""

    endpoint_id: str
    tenant: str
    event_id: str
    visitor_id: str
    body: bytes
    stored_at_ms: int
    done: Callable[[], None]


def reason_kind(reason: str) -> str:
    """A failed attempt's or a dead letter's reason as a metric label (few values):
    queue_full, target_refused, http_<status>, timeout or network."""
    if reason == QUEUE_FULL:
        return QUEUE_FULL
    if reason.startswith("target refused"):
        return "target_refused"
    if reason.startswith("HTTP "):
        return "http_" + reason.split()[1]
    return "timeout" if reason.startswith("timed out") else "network"


def lane_of(visitor_id: str, lanes: int) -> int:
    """The lane of a visitor's events: stable across processes (CRC-32, not ``hash``)."""
    return zlib.crc32(visitor_id.encode()) % lanes


def headers_for(
    endpoint: Endpoint, body: bytes, event_id: str, secrets: list[str]
) -> dict[str, str]:
    """What a POST carries: the JSON type, the signature(s), the event id (idempotence)."""
    return {
        "content-type": "application/json",
        HEADER: signature_header(secrets, body),
        "vh-event-id": event_id,
        "user-agent": "visit-history-webhooks/1",
    }


class Dispatcher:
    """Lanes of every endpoint, on the running event loop; :meth:`submit` from that loop.

    Args:
        poster: POSTs one attempt (``webhooks.http.Poster``).
        current: the endpoint as now registered (rotated secrets, None once removed).
        dead: stores a dead letter, returning once it is (``letter_batch.LetterBatcher``).
        schedule: retry delays and the retry window.
        lanes, capacity: per endpoint, lanes and each lane's queue size.
        grace_ms: how long a rotated-out secret still signs.
        wall_ms: epoch milliseconds; random: uniform [0, 1) (jitter); sleep: asyncio's.
    """

    def __init__(
        self,
        *,
        poster: Post,
        current: Callable[[str], Endpoint | None],
        dead: Callable[[DeadLetter], Awaitable[None]],
        schedule: RetrySchedule,
        lanes: int,
        capacity: int,
        grace_ms: int,
        metrics: Metrics,
        wall_ms: Callable[[], int],
        random: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.poster, self.current, self.dead, self.schedule = poster, current, dead, schedule
        self.lanes, self.capacity, self.grace_ms = lanes, capacity, grace_ms
        self.metrics, self.wall_ms, self.random, self.sleep = metrics, wall_ms, random, sleep
        self._queues: dict[str, list[asyncio.Queue[Delivery]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._queued: dict[str, int] = {}
        self._healthy: dict[str, bool] = {}

    def submit(self, delivery: Delivery) -> None:
        """Queue a delivery on its endpoint's lane, or dead-letter it when that lane is full."""
        queues = self._queues.get(delivery.endpoint_id)
        if queues is None:
            queues = self._queues[delivery.endpoint_id] = [
                asyncio.Queue(self.capacity) for _ in range(self.lanes)
            ]
            for queue in queues:
                self._spawn(self._lane(delivery.endpoint_id, queue))
        try:
            queues[lane_of(delivery.visitor_id, self.lanes)].put_nowait(delivery)
        except asyncio.QueueFull:
            self._spawn(self._give_up(delivery, QUEUE_FULL, 0, 0))
            return
        self._count(delivery.endpoint_id, +1)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # Held until finished: the loop keeps only weak references to tasks.
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _count(self, endpoint_id: str, change: int) -> None:
        self._queued[endpoint_id] = self._queued.get(endpoint_id, 0) + change
        self.metrics.gauge(
            "vh_webhooks_queued", self._queued[endpoint_id], {"endpoint": endpoint_id}
        )

    async def _lane(self, endpoint_id: str, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(delivery)
            except Exception:  # a bug must not silently stop a lane: log, settle nothing
                logger.exception("delivery failed unexpectedly", extra={"endpoint": endpoint_id})
            finally:
                self._count(endpoint_id, -1)

    async def _deliver(self, d: Delivery) -> None:
        labels = {"endpoint": d.endpoint_id}
        attempts, first_ms = 0, 0
        while True:
            endpoint = self.current(d.endpoint_id)
            if endpoint is None:  # removed meanwhile: nothing to deliver to
                logger.info("endpoint removed; delivery dropped", extra=labels)
                d.done()
                return
            now = self.wall_ms()
            first_ms = first_ms or now
            attempts += 1
            secrets = endpoint.signing_secrets(now, self.grace_ms)
            try:
                attempt = await self.poster.post(
                    endpoint.url, d.body, headers_for(endpoint, d.body, d.event_id, secrets)
                )
            except TargetRefused as exc:
                await self._give_up(d, f"target refused: {exc.reason}", attempts, first_ms)
                return
            self.metrics.timing("vh_webhooks_attempt_seconds", attempt.seconds, labels)
            self._healthy[d.endpoint_id] = attempt.delivered and attempt.seconds < SLOW_S
            if attempt.delivered:
                self.metrics.increment("vh_webhooks_delivered_total", labels=labels)
                lag = max(self.wall_ms() - d.stored_at_ms, 0) / 1000
                self.metrics.timing("vh_webhooks_delivery_lag_seconds", lag, labels)
                d.done()
                return
            elapsed = (self.wall_ms() - first_ms) / 1000
            delay = self.schedule.next_delay(attempts, elapsed, self.random)
            if delay is None:
                await self._give_up(d, attempt.reason, attempts, first_ms)
                return
            # The kind tells a receiver's refusals (http_5xx) from attempts with no answer
            # (timeout, network), which may have been delivered all the same: the duplicates.
            self.metrics.increment(
                "vh_webhooks_retried_total",
                labels={**labels, "reason": reason_kind(attempt.reason)},
            )
            logger.warning(
                "webhook attempt failed; retrying",
                extra={"endpoint": d.endpoint_id, "url": shown(endpoint.url),
                       "event_id": d.event_id, "reason": attempt.reason, "attempt": attempts,
                       "retry_in_s": round(delay, 3)},
            )  # fmt: skip
            await self.sleep(delay)

    async def _give_up(self, d: Delivery, reason: str, attempts: int, first_ms: int) -> None:
        letter = DeadLetter(
            d.tenant, d.endpoint_id, d.event_id, d.visitor_id, d.body, reason, attempts,
            first_ms, self.wall_ms(),
        )  # fmt: skip
        await self.dead(letter)  # returns once stored (``letter_batch`` retries)
        self.metrics.increment(
            "vh_webhooks_dead_lettered_total",
            labels={"endpoint": d.endpoint_id, "reason": reason_kind(reason)},
        )
        logger.warning(
            "webhook delivery dead-lettered",
            extra={"endpoint": d.endpoint_id, "event_id": d.event_id, "reason": reason,
                   "attempts": attempts},
        )  # fmt: skip
        d.done()

    def congested(self) -> bool:
        """Whether a healthy endpoint has a lane half full: the reader should wait. Safe to
        call from another thread (reads sizes only)."""
        half = max(self.capacity // 2, 1)
        for endpoint_id, queues in list(self._queues.items()):
            if self._healthy.get(endpoint_id, True) and any(q.qsize() >= half for q in queues):
                return True
        return False

    def queued(self) -> int:
        return sum(self._queued.values())

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
