"""Build and insert visit rows for the API tests, as the ingest worker would store them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from enrich.config import EnrichConfig
from enrich.enricher import Enricher
from schemas.raw_event import RawVisit
from schemas.visit import BrowserDetails, EnrichedVisit

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "schemas" / "examples"
TEST_MMDB = REPO / "tests" / "enrich" / "data" / "GeoIP2-City-Test.mmdb"
KNOWN_IP = "81.2.69.160"  # in the MaxMind test database (London, GB)

COLUMNS = (
    "tenant, visitor_id, timestamp_ms, request_id, time, url, ip, incognito, linked_id, tag,"
    " bot_probability, browser_name, browser_major_version, browser_full_version, os,"
    " os_version, device, user_agent, has_location, accuracy_radius, latitude, longitude,"
    " postal_code, timezone, city_name, continent_code, continent_name, country_code,"
    " country_name, subdivision_iso_codes, subdivision_names, ingested_at, kafka_topic,"
    " kafka_partition, kafka_offset"
)

CHROME = BrowserDetails(
    browser_name="Chrome",
    browser_major_version="74",
    browser_full_version="74.0.3729",
    os="Windows",
    os_version="7",
    device="Other",
    user_agent="Mozilla/5.0 (Windows NT 6.1; Win64; x64) Chrome/74.0.3729.157",
    bot_probability=0,
)


def enricher() -> Enricher:
    return Enricher.from_config(EnrichConfig.from_env({"VH_GEOIP_DATABASE": str(TEST_MMDB)}))


def example(name: str, **changes: Any) -> RawVisit:
    raw = msgspec.json.decode((EXAMPLES / name).read_bytes(), type=RawVisit)
    return msgspec.structs.replace(raw, **changes) if changes else raw


def visit(
    tenant: str,
    visitor_id: str,
    timestamp: int,
    request_id: str,
    *,
    linked_id: str | None = None,
    tag: dict[str, Any] | None = None,
) -> EnrichedVisit:
    """A plain visit without location (like a private IP)."""
    return EnrichedVisit(
        workspace_id=tenant,
        request_id=request_id,
        visitor_id=visitor_id,
        timestamp=timestamp,
        url=f"https://example.com/{request_id}",
        ip="10.0.0.1",
        incognito=False,
        browser_details=CHROME,
        linked_id=linked_id,
        tag=tag,
    )


def row(v: EnrichedVisit) -> tuple[Any, ...]:
    """The visits-table row of an enriched visit (column order: COLUMNS)."""
    b, loc = v.browser_details, v.ip_location
    subdivisions = (loc.subdivisions or ()) if loc else ()
    return (
        v.workspace_id,
        v.visitor_id,
        v.timestamp,
        v.request_id,
        datetime.fromtimestamp(v.timestamp // 1000, tz=UTC),
        v.url,
        v.ip,
        int(v.incognito),
        v.linked_id,
        json.dumps(v.tag if v.tag is not None else {}),
        float(b.bot_probability),
        b.browser_name,
        b.browser_major_version,
        b.browser_full_version,
        b.os,
        b.os_version,
        b.device,
        b.user_agent,
        int(loc is not None),
        loc.accuracy_radius if loc else None,
        loc.latitude if loc else None,
        loc.longitude if loc else None,
        loc.postal_code if loc else None,
        loc.timezone if loc else None,
        loc.city.name if loc and loc.city else None,
        loc.continent.code if loc and loc.continent else None,
        loc.continent.name if loc and loc.continent else None,
        loc.country.code if loc and loc.country else None,
        loc.country.name if loc and loc.country else None,
        [s.iso_code for s in subdivisions],
        [s.name for s in subdivisions],
        datetime.now(tz=UTC).replace(microsecond=0),
        "test",
        0,
        0,
    )


def insert(client: Any, visits: list[EnrichedVisit]) -> None:
    """One INSERT (one part) of these visits through clickhouse-driver."""
    client.execute(f"INSERT INTO visits ({COLUMNS}) VALUES", [row(v) for v in visits])


def iso_ms(timestamp_ms: int) -> str:
    """Epoch ms as ISO 8601 with milliseconds (the API's firstSeenAt form when ms != 0)."""
    from query_api.render import seen_at

    text = seen_at(timestamp_ms)
    assert text is not None
    return text
