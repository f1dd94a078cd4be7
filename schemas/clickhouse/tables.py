"""The ClickHouse vocabulary: the tables, their columns, and which names may be spliced into
SQL. Pure. The DDL is in the numbered migrations beside this module (what analysts read);
``tests/schemas/test_tables.py`` holds it to these lists on 18.16 and on the current engine.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Literal

#: A plain identifier: the only text (a database or table name) ever spliced into SQL, since
#: a name cannot be a bound parameter.
IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def identifier(name: str) -> str:
    """``name`` if it is a plain identifier (letters, digits, ``_``; at most 64).

    Raises:
        ValueError: it is not.
    """
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"name {name!r} must be a plain identifier (letters, digits, _)")
    return name


#: Which shard a visitor's rows live on, on a cluster: ``halfMD5`` (the first 8 bytes of the
#: MD5 of the id, big-endian), because every server version has it and Python's hashlib
#: computes it exactly: the API finds a visitor's shard without asking (``shard_of``).
SHARDING_KEY: Final = "halfMD5(visitor_id)"

Placement = Literal["sharded", "everywhere"]


def shard_of(visitor_id: str, shards: int) -> int:
    """The shard (0-based, in ``remote_servers`` order, equal weights) holding a visitor:
    what the Distributed tables compute from :data:`SHARDING_KEY`."""
    digest = hashlib.md5(visitor_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % shards


@dataclass(frozen=True, slots=True)
class Table:
    """A table's name, its columns in DDL order, and where its rows live on a cluster:
    ``sharded`` (by ``sharding_key``) or on every node (``everywhere``, small tables)."""

    name: str
    columns: tuple[str, ...]
    placement: Placement
    #: What the Distributed table shards inserts by. Aggregates across visitors (no
    #: visitor_id) take ``rand()``: their views write each shard's own rows locally, so only
    #: a backfill through the Distributed table would use it, and uniq states merge across
    #: shards at read time wherever a row lands.
    sharding_key: str = SHARDING_KEY

    def column_list(self) -> str:
        return ", ".join(self.columns)


VISITS: Final = Table(
    "visits",
    (
        "tenant", "visitor_id", "timestamp_ms", "request_id", "time", "url", "ip", "incognito",
        "linked_id", "tag", "bot_probability", "browser_name", "browser_major_version",
        "browser_full_version", "os", "os_version", "device", "user_agent", "has_location",
        "accuracy_radius", "latitude", "longitude", "postal_code", "timezone", "city_name",
        "continent_code", "continent_name", "country_code", "country_name",
        "subdivision_iso_codes", "subdivision_names", "ingested_at", "kafka_topic",
        "kafka_partition", "kafka_offset",
        # 012_visits_v4.sql
        "origin", "client_referrer", "environment_id", "sdk_platform", "sdk_version", "asn",
        "asn_name", "asn_network", "bot", "geoip_build", "asn_build", "ua_rules", "ip_key",
    ),
    "sharded",
)  # fmt: skip
VISITOR_SUMMARY: Final = Table(
    "visitor_summary", ("tenant", "visitor_id", "first_seen", "last_seen", "visits"), "sharded"
)
VISITOR_SUMMARY_GLOBAL: Final = Table(
    "visitor_summary_global", ("visitor_id", "first_seen", "last_seen"), "sharded"
)
ERASURES: Final = Table(
    "erasures", ("tenant", "visitor_id", "erased_at_ms", "requested_at"), "everywhere"
)
API_TOKENS: Final = Table(
    "api_tokens",
    ("token_id", "tenant", "token_hash", "name", "created_at", "revoked", "version"),
    "everywhere",
)
REQUEST_INDEX: Final = Table(
    "request_index", ("tenant", "request_id", "visitor_id", "timestamp_ms"), "sharded"
)
#: GET /v4/events' orderings, one row per visit and access path (013_event_index.sql). Sharded
#: with its visits (the view runs on each shard's local visits); searches across visitors go
#: through the Distributed table, which asks every shard.
EVENT_INDEX: Final = Table(
    "event_index",
    (
        "tenant", "access", "key", "timestamp_ms", "request_id", "visitor_id", "linked_id",
        "ip_key", "url", "origin", "asn", "bot", "incognito",
    ),
    "sharded",
)  # fmt: skip
#: PATCH /v4/events' overrides (014_event_updates.sql), beside the visits they change, on the
#: visitor's shard.
EVENT_UPDATES: Final = Table(
    "event_updates",
    (
        "tenant", "visitor_id", "request_id", "timestamp_ms", "linked_id", "tags", "suspect",
        "version",
    ),
    "sharded",
)  # fmt: skip
#: GET /visitors' read path (040_visit_pages.sql): each visit's sort key and one ``body``
#: column with what the API renders, kept from visits by a view; sharded like its visits.
VISIT_PAGES: Final = Table(
    "visit_pages",
    ("tenant", "visitor_id", "timestamp_ms", "request_id", "time", "body", "ingested_at"),
    "sharded",
)
SCHEMA_MIGRATIONS: Final = Table(
    "schema_migrations", ("version", "name", "checksum", "applied_at"), "everywhere"
)

#: The analysts' aggregates (031_traffic_views.sql), kept by materialized views over visits.
TRAFFIC_DAILY: Final = Table(
    "traffic_daily",
    ("tenant", "day", "dimension", "value", "visits", "visitors", "bot_visits",
     "incognito_visits"),
    "sharded",
    "rand()",
)  # fmt: skip
TRAFFIC_HOURLY: Final = Table(
    "traffic_hourly", ("tenant", "hour", "visits", "visitors", "bot_visits"), "sharded", "rand()"
)

#: Webhook endpoints and given-up deliveries (050, 051): small, read by every node.
WEBHOOK_ENDPOINTS: Final = Table(
    "webhook_endpoints",
    (
        "tenant", "endpoint_id", "url", "secret", "previous_secret", "rotated_at_ms", "removed",
        "version",
    ),
    "everywhere",
)  # fmt: skip
WEBHOOK_DEAD_LETTERS: Final = Table(
    "webhook_dead_letters",
    (
        "tenant", "endpoint_id", "event_id", "visitor_id", "body", "reason", "attempts",
        "first_attempt_ms", "dead_at_ms", "replayed", "version",
    ),
    "everywhere",
)  # fmt: skip

#: Every table the migrations create (materialized views aside).
TABLES: Final = (
    VISITS,
    VISITOR_SUMMARY,
    VISITOR_SUMMARY_GLOBAL,
    ERASURES,
    API_TOKENS,
    REQUEST_INDEX,
    EVENT_INDEX,
    EVENT_UPDATES,
    VISIT_PAGES,
    SCHEMA_MIGRATIONS,
    TRAFFIC_DAILY,
    TRAFFIC_HOURLY,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_DEAD_LETTERS,
)
