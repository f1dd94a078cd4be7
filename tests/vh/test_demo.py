"""The demo producer's events are valid, varied, located by the GeoIP database, seeded."""

from __future__ import annotations

import random
from collections import Counter

from enrich.enricher import Enricher
from schemas.raw_event import decode_raw_visit
from tests.support.ingest import ENRICH
from vh import demo

NOW_MS = 1_700_000_000_000


def test_events_are_valid_realistic_and_deterministic() -> None:
    with Enricher.from_config(ENRICH) as enricher:
        ips = demo.known_ips(enricher.geo, 50, random.Random(1), attempts=2000)
        assert ips and all(enricher.geo.location(ip) is not None for ip in ips)

        def sample() -> list[tuple[bytes, bytes]]:
            gen = demo.DemoGenerator(
                demo.load_user_agents(), ips, visitors=500, seed=7, now_ms=lambda: NOW_MS
            )
            messages = gen.messages()
            return [next(messages) for _ in range(2000)]

        first = sample()
        assert first == sample()
        raws = [decode_raw_visit(value, now_ms=NOW_MS) for _, value in first]
        assert all(
            key == raw.visitor_id.encode() for (key, _), raw in zip(first, raws, strict=True)
        )
        visits = Counter(r.visitor_id for r in raws)
        assert 100 < len(visits) <= 500
        assert visits.most_common(1)[0][1] > 10 * (2000 / 500)  # Zipf: regulars and a tail
        assert len({r.user_agent for r in raws}) > 20
        assert all(enricher.enrich(r).ip_location is not None for r in raws[:200])


def test_located_generator_gives_visitors_addresses_the_database_locates() -> None:
    messages = demo.located_generator(ENRICH, ips=20, visitors=100, seed=3).messages()
    raws = [decode_raw_visit(next(messages)[1], now_ms=2**62) for _ in range(300)]
    with Enricher.from_config(ENRICH) as enricher:
        assert all(enricher.geo.location(r.ip) is not None for r in raws)
    assert 1 < len({r.ip for r in raws}) <= 20


def test_publish_paces_and_counts() -> None:
    sent: list[bytes] = []

    class Producer:
        def send(self, topic: str, key: bytes, value: bytes) -> None:
            sent.append(value)

        def flush(self) -> None:
            pass

    now = [0.0]
    count = demo.publish(
        Producer(),
        "t",
        iter([(b"k", b"v")] * 1000),
        rate=100,
        count=250,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert count == len(sent) == 250
    assert 2.0 <= now[0] <= 2.6  # 250 messages at 100/s
