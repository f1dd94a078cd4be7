"""Enricher: raw visit in, the seed's visit shape out; never raises on a decoded visit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.config import EnrichConfig
from enrich.enricher import Enricher
from schemas.raw_event import RawVisit, decode_raw_visit
from schemas.visit import EnrichedVisit, render_api_visit

ROOT = Path(__file__).parents[2]
DATA = Path(__file__).parent / "data"
NOW_MS = 1_700_000_100_000


@pytest.fixture(scope="module")
def enricher() -> Iterator[Enricher]:
    config = EnrichConfig.from_env({"VH_GEOIP_DATABASE": str(DATA / "GeoIP2-City-Test.mmdb")})
    with Enricher.from_config(config) as enricher:
        yield enricher


def _example(name: str) -> RawVisit:
    return decode_raw_visit((ROOT / "schemas/examples" / name).read_bytes(), now_ms=NOW_MS)


def test_seed_visit_renders_the_seeds_browser_details(enricher: Enricher) -> None:
    visit = enricher.enrich(_example("seed-visit.json"))
    rendered = json.loads(json.dumps(render_api_visit(visit)))
    assert rendered["browserDetails"] == {
        "browserName": "Chrome",
        "browserMajorVersion": "74",
        "browserFullVersion": "74.0.3729",
        "os": "Windows",
        "osVersion": "7",
        "device": "Other",
        "userAgent": (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/74.0.3729.157 Safari/537.36"
        ),
        "botProbability": 0,
    }
    assert msgspec.json.encode(visit.browser_details).endswith(b'"botProbability":0}')
    # The test database does not know the seed's IP: no ipLocation key, nothing invented.
    assert list(rendered) == ["incognito", "linkedId", "time", "url", "ip", "browserDetails"]
    assert rendered["time"] == "2019-05-21T16:40:13Z"


def test_known_ip_gets_a_location(enricher: Enricher) -> None:
    raw = msgspec.structs.replace(_example("minimal.json"), ip="81.2.69.160")
    location = enricher.enrich(raw).ip_location
    assert location is not None and location.city is not None
    assert location.city.name == "London"


def test_collector_bot_probability_wins(enricher: Enricher) -> None:
    visit = enricher.enrich(_example("tag-linked-bot.json"))
    assert visit.browser_details.bot_probability == 0.87
    assert visit.browser_details.device == "Spider"
    assert visit.tag == {"campaign": "spring", "ab": {"variant": "B", "weights": [0.5, 0.5]}}
    raw = msgspec.structs.replace(_example("seed-visit.json"), bot_probability=0.0)
    assert msgspec.json.encode(enricher.enrich(raw).browser_details).endswith(b":0}")


def test_without_collector_value_bots_are_one(enricher: Enricher) -> None:
    raw = msgspec.structs.replace(_example("tag-linked-bot.json"), bot_probability=None)
    assert enricher.enrich(raw).browser_details.bot_probability == 1


def test_enrichment_is_idempotent(enricher: Enricher) -> None:
    raw = _example("ipv6.json")
    first = enricher.enrich(raw)
    enricher.cache_clear()
    assert enricher.enrich(raw) == first
    assert msgspec.json.decode(msgspec.json.encode(first), type=EnrichedVisit) == first


@settings(max_examples=200, deadline=None)
@given(
    ip=st.one_of(st.ip_addresses().map(str), st.sampled_from(["81.2.69.160", "2001:218::1"])),
    ua=st.text(max_size=200),
    bot=st.none() | st.floats(0, 1),
    tag=st.none() | st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5)),
)
def test_enrich_never_raises(
    enricher: Enricher, ip: str, ua: str, bot: float | None, tag: dict[str, object] | None
) -> None:
    raw = msgspec.structs.replace(
        _example("minimal.json"), ip=ip, user_agent=ua, bot_probability=bot, tag=tag
    )
    visit = enricher.enrich(raw)
    json.dumps(render_api_visit(visit))
