"""Where the enriched stream is: the one setting the worker (which publishes it) and
``vh webhooks`` (which reads it) share, and the record headers both sides name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.env import setting

#: Headers of an enriched record: the event id (idempotent consumers) and the tenant (the v4
#: event body has none). When the worker published it is the record's own timestamp
#: (CreateTime): no third header, each costs kafka-python ~10 µs per record to write.
EVENT_ID: Final = "vh-event-id"
TENANT: Final = "vh-tenant"


@dataclass(frozen=True, slots=True)
class EnrichedStreamSettings:
    """The enriched stream: the worker publishes every stored visit to it as v4 event JSON
    (``ingest.enriched``); ``vh webhooks`` reads it (``webhooks``)."""

    topic: str = setting(
        "VH_KAFKA_ENRICHED_TOPIC",
        "visits.enriched",
        "topic of the stored visits as v4 events (keyed by visitor; read by `vh webhooks`)",
    )
    enabled: bool = setting(
        "VH_ENRICHED_STREAM",
        True,
        "publish each stored visit to that topic before its offset is committed",
    )
