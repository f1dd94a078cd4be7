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


def test_v4_fields_asn_bot_and_lineage() -> None:
    config = EnrichConfig.from_env(
        {
            "VH_GEOIP_DATABASE": str(DATA / "GeoIP2-City-Test.mmdb"),
            "VH_GEOIP_ASN_DATABASE": str(DATA / "GeoLite2-ASN-Test.mmdb"),
        }
    )
    with Enricher.from_config(config) as enricher:
        visit = enricher.enrich(_example("v4-fields.json"))
        plain = enricher.enrich(_example("tag-linked-bot.json"))
    assert (visit.asn, visit.asn_name, visit.asn_network) == (
        1221,
        "Telstra Pty Ltd",
        "1.128.0.0/11",
    )
    assert (visit.origin, visit.client_referrer, visit.environment_id) == (
        "https://shop.example.com",
        "https://www.example.org/blog",
        "ae_47abaca3db2c7c43",
    )
    assert (visit.sdk_platform, visit.sdk_version, visit.bot) == ("js", "3.11.10", "not_detected")
    # Googlebot with the collector's 0.87: the known crawler's user agent decides.
    assert plain.bot == "good" and plain.asn == 0 and plain.origin == ""
    assert visit.geoip_build == 1_770_245_369  # the City test database's metadata
    assert visit.asn_build == 1_770_245_369 and plain.asn_build == 1_770_245_369
    assert visit.ua_rules.startswith("ua-parser ") and visit.ua_rules.endswith("; bots-1")


def test_without_an_asn_database_there_is_no_asn(enricher: Enricher) -> None:
    visit = enricher.enrich(_example("v4-fields.json"))
    assert (visit.asn, visit.asn_name, visit.asn_network, visit.asn_build) == (0, "", "", 0)
    assert visit.browser_details.device == "Mac"  # v3 keeps ua-parser's family; v4 says Other
