"""Build and insert visit rows for the API tests, exactly as the ingest worker stores them.

Tests may import ``ingest`` (only the ``query_api`` package itself must not): the rows come
from the worker's own row builder, so a column the worker fills differently per server (the
``time`` column: seconds on 18.16, milliseconds on current servers) is what the API reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from enrich.config import EnrichConfig
from enrich.enricher import Enricher
from ingest.rows import COLUMNS, KafkaCoordinates, Row, build_row, to_columns
from schemas.clickhouse.migrations import ServerFeatures
from schemas.raw_event import RawVisit
from schemas.visit import BrowserDetails, EnrichedVisit

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "schemas" / "examples"
TEST_MMDB = REPO / "tests" / "enrich" / "data" / "GeoIP2-City-Test.mmdb"
KNOWN_IP = "81.2.69.160"  # in the MaxMind test database (London, GB)

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


def worker_rows(
    visits: Sequence[EnrichedVisit], features: ServerFeatures, *, ingested_at_s: int | None = None
) -> list[Row]:
    """The rows the ingest worker writes for these visits on a server with ``features``.

    ``ingest.rows.build_row`` itself, so the API is tested against what production stores:
    a ``time`` column of whole seconds (18.16) or of milliseconds (current servers).
    """
    ingested = int(time.time()) if ingested_at_s is None else ingested_at_s
    return [
        build_row(
            v,
            KafkaCoordinates("test", 0, offset),
            ingested_at_s=ingested,
            millisecond_time=features.modern_types,
        )
        for offset, v in enumerate(visits)
    ]


def features_of(execute: Callable[[str], Sequence[tuple[Any, ...]]]) -> ServerFeatures:
    """What the server behind ``execute`` supports, from ``version()``, as the worker asks."""
    return ServerFeatures.from_version(str(execute("SELECT version()")[0][0]))


def insert(client: Any, visits: Sequence[EnrichedVisit]) -> None:
    """One INSERT (one part) of these visits through clickhouse-driver, as the worker's
    writer sends it: the worker's rows, columnar, in ``ingest.rows.COLUMNS`` order."""
    rows = worker_rows(visits, features_of(client.execute))
    client.execute(
        f"INSERT INTO visits ({', '.join(COLUMNS)}) VALUES", to_columns(rows), columnar=True
    )


def json_each_row(rows: Sequence[Row], features: ServerFeatures) -> str:
    """Worker rows as ``JSONEachRow`` text, for engines without clickhouse-driver (chdb).

    A ``DateTime64(3)`` reads a JSON integer as seconds, so ``time`` travels as text with its
    milliseconds; ``DateTime`` columns read epoch-second integers as they are.
    """
    lines = []
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        if features.modern_types:
            ms = record["time"]
            record["time"] = (
                datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
                + f".{ms % 1000:03d}"
            )
        lines.append(json.dumps(record))
    return "\n".join(lines)


def iso_ms(timestamp_ms: int) -> str:
    """Epoch ms as ISO 8601 with milliseconds (the API's firstSeenAt form when ms != 0)."""
    from query_api.render import seen_at

    text = seen_at(timestamp_ms)
    assert text is not None
    return text
