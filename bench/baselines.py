"""Ingestion baselines (b) and (c), each run as its own process so nothing else shares its GIL.

``python -m bench.baselines bare|naive --topic T --group G [--limit N]
[--database D]`` prints one JSON line ``{"events": n, "seconds": s}``: time from the first
record received to the last record received (bare) or the last commit (naive).

- ``bare`` (c): kafka-python with the worker's own consumer settings
  (``ingest.kafka_clients.make_consumer``), poll only: the client library's ceiling.
- ``naive`` (b): what a first version would do: ``json.loads`` per event, ``geoip2``
  ``Reader.city()``, ``user_agents.parse()``, a row tuple per event, a row-wise
  ``INSERT ... VALUES`` per poll batch, then commit. It runs on the first ``--limit`` events
  only (it is ~40x slower; events/s is what is compared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from ingest.config import IngestConfig
from ingest.kafka_clients import commit_offsets, make_consumer
from ingest.rows import COLUMNS


def _consumer(topic: str, group: str) -> Any:
    config = IngestConfig.from_env({**os.environ, "VH_KAFKA_TOPIC": topic, "VH_KAFKA_GROUP": group})
    consumer = make_consumer(config, client_id="vh-bench-baseline")
    consumer.subscribe([topic])
    return consumer


def bare(topic: str, group: str, total: int) -> tuple[int, float]:
    """Poll until ``total`` records came; (records, seconds first->last record)."""
    consumer = _consumer(topic, group)
    seen, first, last = 0, 0.0, 0.0
    size = 0
    try:
        while seen < total:
            for messages in consumer.poll(timeout_ms=500).values():
                if not first:
                    first = time.perf_counter()
                seen += len(messages)
                size += sum(len(m.value) for m in messages)  # touch the payloads
                last = time.perf_counter()
    finally:
        consumer.close(autocommit=False)
    return seen, last - first


def naive(topic: str, group: str, total: int, database: str) -> tuple[int, float]:
    """The naive loop over the first ``total`` records; (records, seconds first->last commit)."""
    import geoip2.database
    import geoip2.errors
    import user_agents
    from clickhouse_driver import Client

    from enrich.config import EnrichConfig

    config = IngestConfig.from_env(os.environ)
    client = Client(config.clickhouse.host, port=config.clickhouse.port)
    # The naive loop fills the original columns (001_visits.sql); the v4 ones keep their
    # defaults (012_visits_v4.sql). All 48 named with 35 values fails the insert.
    original = COLUMNS[: COLUMNS.index("kafka_offset") + 1]
    insert = f"INSERT INTO {database}.visits ({', '.join(original)}) VALUES"
    reader = geoip2.database.Reader(EnrichConfig.from_env(os.environ).geoip_database)
    consumer = _consumer(topic, group)
    seen, first = 0, 0.0
    try:
        while seen < total:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                if not first:
                    first = time.perf_counter()
                messages = messages[: total - seen]
                rows = []
                for msg in messages:
                    event = json.loads(msg.value)
                    try:
                        city: Any = reader.city(event["ip"])
                    except geoip2.errors.AddressNotFoundError:
                        city = None
                    ua = user_agents.parse(event["userAgent"])
                    rows.append(_naive_row(event, city, ua, msg))
                client.execute(insert, rows)
                seen += len(messages)
                commit_offsets(consumer, {(tp.topic, tp.partition): messages[-1].offset + 1})
                if seen >= total:
                    break
        last = time.perf_counter()
    finally:
        consumer.close(autocommit=False)
        reader.close()
        client.disconnect()
    return seen, last - first


def _naive_row(event: dict[str, Any], city: Any, ua: Any, msg: Any) -> tuple[Any, ...]:
    ts = int(event["timestamp"])
    subdivisions = list(city.subdivisions) if city is not None else []
    return (
        event["workspaceId"], event["visitorId"], ts, event["requestId"], ts // 1000,
        event["url"], event["ip"], int(event["incognito"]), event.get("linkedId"),
        json.dumps(event.get("tag") or {}, sort_keys=True), float(ua.is_bot),
        ua.browser.family, str(ua.browser.version[0]) if ua.browser.version else "",
        ua.browser.version_string, ua.os.family, ua.os.version_string, ua.device.family,
        event["userAgent"], 0 if city is None else 1,
        None if city is None else city.location.accuracy_radius,
        None if city is None else city.location.latitude,
        None if city is None else city.location.longitude,
        None if city is None else city.postal.code,
        None if city is None else city.location.time_zone,
        None if city is None else city.city.name,
        None if city is None else city.continent.code,
        None if city is None else city.continent.name,
        None if city is None else city.country.iso_code,
        None if city is None else city.country.name,
        [s.iso_code or "" for s in subdivisions], [s.name or "" for s in subdivisions],
        int(time.time()), msg.topic, msg.partition, msg.offset,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["bare", "naive"])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--limit", type=int, required=True, help="records to read")
    parser.add_argument("--database", default="", help="naive: database holding visits")
    args = parser.parse_args(argv)
    if args.mode == "bare":
        events, seconds = bare(args.topic, args.group, args.limit)
    else:
        events, seconds = naive(args.topic, args.group, args.limit, args.database)
    print(json.dumps({"events": events, "seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
