"""Row building is pure and idempotent: the same visit gives the same row, twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enrich.enricher import Enricher
from ingest.processor import VisitProcessor
from ingest.rows import COLUMNS, KafkaCoordinates, build_row, time_value, to_columns
from schemas.raw_event import decode_raw_visit
from tests.support.ingest import ENRICH

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "schemas/examples").glob("*.json"))
NOW_MS = 1_700_000_100_000
WHERE = KafkaCoordinates("visits.raw", 3, 42)


@pytest.fixture(scope="module")
def enricher() -> Iterator[Enricher]:
    with Enricher.from_config(ENRICH) as enricher:
        yield enricher


def test_columns_match_the_migrated_table(ch_client: Any) -> None:
    described = tuple(row[0] for row in ch_client.execute("DESCRIBE TABLE visits"))
    assert described == COLUMNS


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("millis", [True, False])
def test_building_twice_gives_the_same_row(enricher: Enricher, path: Path, millis: bool) -> None:
    processor = VisitProcessor(enricher, millisecond_time=millis)
    first = processor.process(path.read_bytes(), WHERE, now_ms=NOW_MS, ingested_at_s=1)
    enricher.cache_clear()
    second = processor.process(path.read_bytes(), WHERE, now_ms=NOW_MS, ingested_at_s=1)
    assert first == second
    assert len(first) == len(COLUMNS)


def test_seed_visit_row_values(enricher: Enricher) -> None:
    raw = decode_raw_visit((ROOT / "schemas/examples/seed-visit.json").read_bytes(), now_ms=NOW_MS)
    row = dict(
        zip(
            COLUMNS,
            build_row(enricher.enrich(raw), WHERE, ingested_at_s=7, millisecond_time=True),
            strict=True,
        )
    )
    assert row["tenant"] == "demo" and row["visitor_id"] == "Ibk1527CUFmcnjLwIs4A9"
    assert row["timestamp_ms"] == row["time"] == 1_558_456_813_000
    assert (row["incognito"], row["linked_id"], row["tag"]) == (1, "somelinkedId", "{}")
    assert (row["browser_name"], row["browser_major_version"], row["os"]) == (
        "Chrome",
        "74",
        "Windows",
    )
    assert row["has_location"] == 0 and row["city_name"] is None
    assert row["subdivision_iso_codes"] == row["subdivision_names"] == []
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == (
        "visits.raw",
        3,
        42,
    )
    assert row["ingested_at"] == 7


def test_location_and_tag_columns(enricher: Enricher) -> None:
    data = json.loads((ROOT / "schemas/examples/tag-linked-bot.json").read_bytes())
    data["ip"] = "81.2.69.160"
    data["tag"] = {"z": 1, "a": {"y": 2, "b": 3}}
    raw = decode_raw_visit(json.dumps(data).encode(), now_ms=NOW_MS)
    row = dict(
        zip(
            COLUMNS,
            build_row(enricher.enrich(raw), WHERE, ingested_at_s=7, millisecond_time=False),
            strict=True,
        )
    )
    assert row["tag"] == '{"a":{"b":3,"y":2},"z":1}'  # sorted: same tag, same text
    assert row["time"] == data["timestamp"] // 1000
    assert (row["has_location"], row["city_name"], row["country_code"]) == (1, "London", "GB")
    assert row["subdivision_iso_codes"] == ["ENG"]
    assert row["subdivision_names"] == ["England"]
    assert row["bot_probability"] == 0.87


def test_time_value_per_server() -> None:
    assert time_value(1_558_456_813_999, millisecond_time=True) == 1_558_456_813_999
    assert time_value(1_558_456_813_999, millisecond_time=False) == 1_558_456_813


def test_to_columns_transposes() -> None:
    assert to_columns([(1, "a"), (2, "b")]) == [[1, 2], ["a", "b"]]
    assert to_columns([]) == [[] for _ in COLUMNS]
