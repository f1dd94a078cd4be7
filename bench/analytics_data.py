"""The demo data docs/analytics.md answers its questions on: two weeks of the demo traffic
(``vh produce-demo``'s generator, enriched by the worker's own processor), with what real
data has and uniform demo traffic lacks: redelivered copies, an erasure, a few visitors
roaming over addresses and countries, and one account shared by several browsers.
Deterministic: fixed seed and clock, so the document's answers only change with the code.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import msgspec

from enrich.config import EnrichConfig
from enrich.enricher import Enricher
from ingest.processor import VisitProcessor
from ingest.rows import KafkaCoordinates, Row
from vh.demo import DemoGenerator, known_ips, load_user_agents

DAY_MS: Final = 86_400_000
#: 2026-12-01T00:00:00Z: the demo's last day is 2026-11-30.
ANCHOR_MS: Final = 1_796_083_200_000
DAYS: Final = 14
TENANT: Final = "demo"
ROAMERS: Final = 3
SHARED_ACCOUNT: Final = "account-shared-1"


def _clock(rng: random.Random) -> Callable[[], int]:
    """Times over the :data:`DAYS` days before the anchor, busier by day (UTC) than by night."""

    def now() -> int:
        day = rng.randrange(DAYS)
        hour = min(23, max(0, int(rng.gauss(14, 4.5))))
        return ANCHOR_MS - (DAYS - day) * DAY_MS + hour * 3_600_000 + rng.randrange(3_600_000)

    return now


def demo_rows(
    enrich: EnrichConfig, *, millisecond_time: bool, visits: int = 30_000, seed: int = 17
) -> list[Row]:
    """The demo visits as the worker's rows, 2% of them twice (another Kafka offset)."""
    rng = random.Random(seed)
    with Enricher.from_config(enrich) as enricher:
        pool = known_ips(enricher.geo, 200, random.Random(seed))
        generator = DemoGenerator(
            load_user_agents(), pool, visitors=3_000, seed=seed, now_ms=_clock(rng)
        )
        events = [generator.event() for _ in range(visits)]
        _plant(events, pool, rng)
        processor = VisitProcessor(enricher, millisecond_time=millisecond_time)
        rows = []
        for offset, event in enumerate(events):
            where = KafkaCoordinates("visits.raw", offset % 6, offset)
            value = msgspec.json.encode(event)
            rows.append(
                processor.process(value, where, now_ms=ANCHOR_MS, ingested_at_s=ANCHOR_MS // 1000)
            )
            if rng.random() < 0.02:  # redelivered after a worker restart
                again = KafkaCoordinates("visits.raw", offset % 6, offset + visits)
                rows.append(
                    processor.process(
                        value, again, now_ms=ANCHOR_MS, ingested_at_s=ANCHOR_MS // 1000
                    )
                )
    return rows


def _plant(events: list[dict[str, Any]], pool: list[str], rng: random.Random) -> None:
    """A few roaming visitors (another address on each visit) and one shared account."""
    demo = Counter(e["visitorId"] for e in events if e["workspaceId"] == TENANT)
    busiest = sorted(demo, key=lambda v: (-demo[v], v))
    roamers, sharers = set(busiest[5 : 5 + ROAMERS]), set(busiest[20:24])
    for event in events:
        if event["visitorId"] in roamers:
            event["ip"] = rng.choice(pool)
        if event["visitorId"] in sharers:
            event["linkedId"] = SHARED_ACCOUNT


def erased_visitor(rows: list[Row]) -> str:
    """The demo visitor the document's data set erases (the 50th busiest of the tenant)."""
    counts: dict[str, int] = {}
    for row in rows:
        if row[0] == TENANT:
            counts[str(row[1])] = counts.get(str(row[1]), 0) + 1
    return sorted(counts, key=lambda v: (-counts[v], v))[49]
