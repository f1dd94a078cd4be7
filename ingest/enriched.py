"""The enriched stream: every visit the worker stored, as its v4 event JSON, on a Kafka topic.

Order of effects (``ingest.store``): ClickHouse acknowledges the block, then its visits are
published here and the producer's acknowledgements awaited, and only then may the block's
offsets be committed. A publish Kafka does not acknowledge is handled like a dead letter it
did not take: the batches are dropped and their ranges read again (``ingest.recovery``); the
second insert of the same visits is a no-op for readers (insert deduplication, the
ReplacingMergeTree, ``LIMIT 1 BY``), and the stream gets the events again: at least once,
never a commit past an unpublished visit.

A record: key the visitor id (a visitor's events stay in order on one partition: CRC-32 of
the key modulo the partitions, not kafka-python's murmur2, see
:meth:`EnrichedStream.publish`), value the v4 ``Event`` JSON (``schemas.v4_event``, what
``GET /v4/events/{id}`` renders), headers ``vh-event-id`` (for idempotent consumers) and
``vh-tenant`` (the workspace: the event body has none); the record's timestamp (CreateTime)
says when the worker published it.

Cost: kafka-python's ``send`` is pure Python, ~45 µs per record plus ~10 µs per header on
this machine under load, the rendering ~30 µs (measured, docs/benchmarks.md has the
worker's events/s with and without the stream).

What differs from the API's answer: ``identification``'s ``visitor_found``,
``first_seen_at`` and ``last_seen_at`` are as of the event *within the stored block*: the
worker does not read the visitor's history back for each event (one lookup per event would
cost more than the insert). A visitor whose earlier visits are in the same block is found;
one whose earlier visits were stored before shows ``visitor_found: false`` here and ``true``
from the API. PATCHes come after storage, so they are never in the stream (docs/webhooks.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from ingest.errors import EnrichedStreamError
from ingest.rows import REQUEST_ID, TENANT, TIMESTAMP_MS, VISITOR_ID, Row
from schemas.clickhouse.tables import VISITS
from schemas.enriched_stream import EVENT_ID
from schemas.enriched_stream import TENANT as TENANT_HEADER
from schemas.v4_event import AsOf, EventRenderer

_RENDERER: Final = EventRenderer(VISITS.columns)
_ENCODER: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def as_of_in_block(rows: Sequence[Row]) -> list[AsOf | None]:
    """Per row: the visitor's earlier visits (same tenant, earlier time, another event) among
    ``rows``; None when there is none. Pure."""
    by_visitor: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for row in rows:
        key = (row[TENANT], row[VISITOR_ID])
        by_visitor.setdefault(key, []).append((int(row[TIMESTAMP_MS]), row[REQUEST_ID]))
    out: list[AsOf | None] = []
    for row in rows:
        seen = by_visitor[(row[TENANT], row[VISITOR_ID])]
        if len(seen) == 1:  # the common case: one visit of this visitor in the block
            out.append(None)
            continue
        ts, request = int(row[TIMESTAMP_MS]), row[REQUEST_ID]
        earlier = [t for t, r in seen if t < ts and r != request]
        out.append(AsOf(len(earlier), min(earlier), max(earlier)) if earlier else None)
    return out


def records(rows: Sequence[Row]) -> list[Record]:
    """The stream's records of stored ``rows`` (``rows.COLUMNS`` order), in their order."""
    out = []
    for row, as_of in zip(rows, as_of_in_block(rows), strict=True):
        event = _RENDERER.event(row, None, as_of)
        headers = [
            (EVENT_ID, str(row[REQUEST_ID]).encode()),
            (TENANT_HEADER, str(row[TENANT]).encode()),
        ]
        out.append(Record(str(row[VISITOR_ID]).encode(), _ENCODER.encode(event), headers))
    return out


class EnrichedStream:
    """Publishes stored visits to ``topic`` through ``producer`` (a KafkaProducer, not owned,
    ``acks=all``) and waits for the acknowledgements.

    Args:
        producer: the producer (kafka-python's interface: ``send``, ``flush``).
        topic: ``VH_KAFKA_ENRICHED_TOPIC``.
        confirm_timeout_s: how long :meth:`publish` waits for acknowledgements.
    """

    def __init__(
        self,
        producer: Any,
        topic: str,
        confirm_timeout_s: float = 30.0,
    ) -> None:
        self.producer, self.topic = producer, topic
        self.confirm_timeout_s = confirm_timeout_s

    def publish(self, rows: Sequence[Row]) -> int:
        """Send every row's event and wait until Kafka acknowledged all; return how many.

        Raises:
            EnrichedStreamError: a send was refused, or not acknowledged within the timeout
                (Kafka away): none of these rows may be committed.
        """
        if not rows:
            return 0
        try:
            # Our own partitioner: kafka-python's murmur2 is pure Python, 13% of a send
            # (profiled); CRC-32 is C. A visitor's events share a partition while the topic
            # keeps its partition count, which is what the stream promises.
            partitions = sorted(self.producer.partitions_for(self.topic))
            n = len(partitions)
            futures = [
                self.producer.send(
                    self.topic,
                    key=r.key,
                    value=r.value,
                    headers=r.headers,
                    partition=partitions[zlib.crc32(r.key) % n],
                )
                for r in records(rows)
            ]
            self.producer.flush(timeout=self.confirm_timeout_s)
            for future in futures:
                future.get(timeout=0)
        except Exception as exc:
            raise EnrichedStreamError(
                f"enriched events not acknowledged by topic {self.topic!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return len(futures)
