"""The reading side of ``vh webhooks run``: enriched records -> deliveries, settled offsets
-> commits. Runs on the caller's thread (kafka-python's consumer is not thread-safe); the
deliveries run on the dispatcher's event loop, reached through ``submit``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from schemas.enriched_stream import EVENT_ID, TENANT
from webhooks import stream
from webhooks.dispatch import Delivery
from webhooks.endpoints import Registry
from webhooks.errors import StoreUnavailable
from webhooks.metrics import Metrics
from webhooks.offsets import OffsetTracker

logger = logging.getLogger(__name__)


def event_headers(record: Any) -> tuple[str, str, int]:
    """(tenant, event id, published-at ms: the record's timestamp) of an enriched record;
    empty when a header is missing."""
    found = {k: (v or b"").decode("utf-8", "replace") for k, v in (record.headers or [])}
    return found.get(TENANT, ""), found.get(EVENT_ID, ""), int(record.timestamp or 0)


class Relay:
    """Polls, hands each record to its tenant's endpoints, commits what is settled.

    Args:
        consumer: the enriched stream's consumer (``webhooks.stream``).
        registry: the endpoints by tenant.
        tracker: the offsets' outstanding deliveries.
        submit: queues a delivery (thread-safe: onto the dispatcher's loop).
        congested: whether the dispatcher wants the reader to wait.
        clock: monotonic seconds; commit_every_s: how often settled offsets are committed.
    """

    def __init__(
        self,
        *,
        consumer: Any,
        registry: Registry,
        tracker: OffsetTracker,
        submit: Callable[[Delivery], None],
        congested: Callable[[], bool],
        metrics: Metrics,
        clock: Callable[[], float],
        commit_every_s: float = 1.0,
        max_records: int = 500,
    ) -> None:
        self.consumer, self.registry, self.tracker = consumer, registry, tracker
        self.submit, self.congested, self.metrics = submit, congested, metrics
        self.clock, self.commit_every_s, self.max_records = clock, commit_every_s, max_records
        self._committed: dict[stream.Key, int] = {}
        self._last_commit = clock()
        self._paused = False

    def step(self, timeout_ms: int = 200) -> None:
        """One turn: refresh endpoints when due, read (unless congested), commit when due."""
        if self.registry.due():
            try:
                self.registry.refresh()
            except StoreUnavailable as exc:  # keep delivering to the endpoints last known
                logger.warning("endpoints not refreshed", extra={"error": str(exc)})
        self._flow_control()
        records = stream.poll(self.consumer, timeout_ms, self.max_records)
        for key, record in records:
            self._hand_out(key, record)
        if records:
            self.metrics.increment("vh_webhooks_events_consumed_total", len(records))
        if self.clock() - self._last_commit >= self.commit_every_s:
            self.commit()

    def _flow_control(self) -> None:
        # Paused again on every congested turn: partitions assigned meanwhile start fetching.
        congested = self.congested()
        if congested or self._paused:
            stream.pause(self.consumer, congested)
            self._paused = congested

    def _hand_out(self, key: stream.Key, record: Any) -> None:
        tenant, event_id, stored_at = event_headers(record)
        endpoints = self.registry.for_tenant(tenant)
        self.tracker.add(key, record.offset, len(endpoints))
        visitor = (record.key or b"").decode("utf-8", "replace")
        for endpoint in endpoints:
            self.submit(
                Delivery(
                    endpoint.endpoint_id,
                    tenant,
                    event_id,
                    visitor,
                    record.value or b"",
                    stored_at,
                    partial(self.tracker.done, key, record.offset),
                )
            )

    def commit(self) -> None:
        """Commit every partition's settled offset that moved; a refusal is retried later."""
        self._last_commit = self.clock()
        offsets = {
            k: v for k, v in self.tracker.committable().items() if self._committed.get(k) != v
        }
        if not offsets:
            return
        try:
            stream.commit(self.consumer, offsets)
        except Exception as exc:
            self.metrics.increment("vh_webhooks_commit_failures_total")
            logger.warning(
                "commit failed; retrying", extra={"error": f"{type(exc).__name__}: {exc}"}
            )
            return
        self._committed.update(offsets)
