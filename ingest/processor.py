"""Kafka message value -> ``visits`` row, or the reason it can never be one. No I/O.

The processor contract (snuba's): decoded payload + metadata -> row, and nothing else. It
decodes and validates (``schemas.raw_event``), enriches (``enrich``), and builds the row
(``ingest.rows``). Bad input raises :class:`~schemas.raw_event.InvalidEvent`; the consumer
turns that into a dead letter.
"""

from __future__ import annotations

from typing import Protocol

from ingest.rows import KafkaCoordinates, Row, build_row
from schemas.raw_event import RawVisit, decode_raw_visit
from schemas.visit import BrowserDetails, EnrichedVisit, enriched


class Enrich(Protocol):
    def enrich(self, raw: RawVisit) -> EnrichedVisit: ...


class NoEnrichment:
    """Enrichment switched off: rows keep the raw fields, browser and location stay empty.

    ``browserDetails`` carries only the user agent as sent and the collector's (or a zero)
    bot probability; ``ipLocation`` is absent. ``VH_ENRICH=off`` gives it to the worker
    instead of ``enrich.Enricher``; the ingestion benchmark's baseline (a) runs that to price
    enrichment inside the worker (docs/benchmarks.md).
    """

    def enrich(self, raw: RawVisit) -> EnrichedVisit:
        """The visit with empty enrichment fields. Pure; never raises on a decoded visit."""
        probability = raw.bot_probability
        return enriched(
            raw,
            BrowserDetails(
                "", "", "", "", "", "", raw.user_agent, 0 if probability is None else probability
            ),
            None,
        )


class VisitProcessor:
    """Turns message values into rows.

    Args:
        enricher: ``enrich.Enricher`` (never raises on a decoded visit).
        millisecond_time: the server's ``time`` column is DateTime64(3) (``ServerFeatures``).
    """

    def __init__(self, enricher: Enrich, *, millisecond_time: bool) -> None:
        self.enricher = enricher
        self.millisecond_time = millisecond_time

    def process(
        self, value: bytes | None, where: KafkaCoordinates, *, now_ms: int, ingested_at_s: int
    ) -> Row:
        """One message's row.

        Args:
            value: the message value (None, a tombstone, is treated as empty bytes).
            where: its Kafka coordinates (lineage columns).
            now_ms: the wall clock, for the timestamp sanity check.
            ingested_at_s: the ``ingested_at`` column (epoch seconds).
        Raises:
            InvalidEvent: the message can never become a visit (``reason`` says why).
        """
        raw = decode_raw_visit(value or b"", now_ms=now_ms)
        return build_row(
            self.enricher.enrich(raw),
            where,
            ingested_at_s=ingested_at_s,
            millisecond_time=self.millisecond_time,
        )
