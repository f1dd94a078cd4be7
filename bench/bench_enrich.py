"""Enrichment benchmark: µs per event, ours (cold/warm) vs naive geoip2 + user_agents.

Part of ``python -m bench`` (its "Enrichment" section of docs/benchmarks.md); alone,
``.venv/bin/python -m bench.bench_enrich [--quick]`` prints that section. Not a
timed test. Deterministic (seeded) mix: many
visitors, a few thousand distinct UAs from templates with Zipf-like popularity, IPs sampled
from addresses the packaged GeoLite2-City database actually knows.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import geoip2.database
import geoip2.errors
import maxminddb
import user_agents
from ua_parser import user_agent_parser

from enrich.config import EnrichConfig
from enrich.enricher import Enricher
from schemas.raw_event import RawVisit

_CHROME = "Mozilla/5.0 ({p}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} {m}Safari/537.36"
_TEMPLATES = [
    _CHROME,
    _CHROME + " Edg/{v}",
    _CHROME + " OPR/{w}",
    "Mozilla/5.0 ({p}; rv:{x}.0) Gecko/20100101 Firefox/{x}.0",
    "Mozilla/5.0 ({p}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{y}.0 "
    "Chrome/{v} {m}Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS {i} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/{s} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS {i} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{s} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{s} Safari/605.1.15",
    "Mozilla/5.0 (compatible; {b}/{y}.1; +http://www.example.com/bot.html)",
]
_PLATFORMS = [
    "Windows NT 10.0; Win64; x64", "Windows NT 6.1; Win64; x64",
    "Macintosh; Intel Mac OS X 10_15_7",
    "X11; Linux x86_64", "X11; CrOS x86_64 14541.0.0", "Linux; Android 10; K",
    "Linux; Android 13; SM-S918B", "Linux; Android 12; Pixel 6", "Linux; Android 9; SM-T820",
]  # fmt: skip
_BOTS = ["Googlebot", "bingbot", "YandexBot", "AhrefsBot", "SemrushBot", "Applebot"]


def make_user_agents(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct UA strings from templates, most popular first."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        major = rng.randint(60, 121)
        ua = rng.choice(_TEMPLATES).format(
            p=rng.choice(_PLATFORMS),
            v=f"{major}.0.{rng.randint(3000, 6200)}.{rng.randint(0, 250)}",
            m=rng.choice(["", "Mobile "]),
            w=f"{major - 14}.0.{rng.randint(1000, 5000)}.{rng.randint(0, 99)}",
            x=rng.randint(60, 122),
            y=rng.randint(2, 23),
            i=f"{rng.randint(12, 17)}_{rng.randint(0, 6)}",
            s=f"{rng.randint(12, 17)}.{rng.randint(0, 6)}",
            b=rng.choice(_BOTS),
        )
        seen[ua] = None
    return list(seen)


def make_ips(rng: random.Random, count: int, database: str) -> list[str]:
    """``count`` distinct IPv4 addresses (plus ~10% IPv6) that ``database`` locates."""
    reader = maxminddb.open_database(database, maxminddb.MODE_MMAP_EXT)
    ips: dict[str, None] = {}
    while len(ips) < count:
        if rng.random() < 0.1:
            ip = f"2a0{rng.randint(0, 9)}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
        else:
            ip = ".".join(str(rng.randint(1, 223)) for _ in range(4))
        if reader.get(ip) is not None:
            ips[ip] = None
    reader.close()
    return list(ips)


def zipf_sample(rng: random.Random, items: list[str], n: int, s: float = 1.1) -> list[str]:
    weights = [1 / (rank + 1) ** s for rank in range(len(items))]
    return rng.choices(items, weights=weights, k=n)


def make_events(n_events: int, n_visitors: int, n_uas: int, database: str) -> list[RawVisit]:
    rng = random.Random(20190521)
    uas = make_user_agents(rng, n_uas)
    # Each visitor keeps its device (UA) and network (IP); popular UAs are shared by many.
    visitor_ips = make_ips(rng, n_visitors // 3, database)
    visitors = [
        (f"v{i:07d}", rng.choice(visitor_ips), ua)
        for i, ua in enumerate(zipf_sample(rng, uas, n_visitors))
    ]
    picks = zipf_sample(rng, [str(i) for i in range(n_visitors)], n_events, s=0.8)
    events = []
    for k, pick in enumerate(picks):
        visitor_id, ip, ua = visitors[int(pick)]
        events.append(
            RawVisit(1, "bench", f"r{k}", visitor_id, 1_700_000_000_000 + k, "https://e.x/",
                     ip, ua, False)
        )  # fmt: skip
    return events


def per_event_us(run: Callable[[], object], n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / n * 1e6


@dataclass(frozen=True)
class EnrichResults:
    """µs per event of each path, and the mix they were measured on."""

    us: dict[str, float]
    events: int
    visitors: int
    distinct_uas: int
    distinct_ips: int
    database: str


def measure(quick: bool, progress: Callable[[str], None] = print) -> EnrichResults:
    """Run every enrichment measurement (median of repeated passes) on the seeded mix."""
    n_events, n_visitors, n_uas = (20_000, 10_000, 500) if quick else (200_000, 100_000, 3000)
    config = EnrichConfig.from_env(os.environ)
    db = config.geoip_database
    progress(f"generating {n_events} events, {n_visitors} visitors, {n_uas} UAs")
    events = make_events(n_events, n_visitors, n_uas, db)
    distinct_uas = len({e.user_agent for e in events})
    distinct_ips = len({e.ip for e in events})
    repeats = 3 if quick else 5
    results: dict[str, float] = {}
    with Enricher.from_config(config) as enricher:
        enrich = enricher.enrich

        def run_all() -> None:
            for event in events:
                enrich(event)

        def run_cold() -> None:
            enricher.cache_clear()
            run_all()

        progress("cold caches")
        results["ours_cold"] = per_event_us(run_cold, n_events, repeats)
        run_all()
        progress("warm caches")
        results["ours_warm"] = per_event_us(run_all, n_events, repeats)
        progress("never-seen user agents")
        fresh = [f"{ua} Fresh/{i}" for i, ua in enumerate(make_user_agents(random.Random(7), 1000))]
        parse = enricher.user_agents.parse_uncached
        results["ua_new_ours"] = per_event_us(lambda: [parse(u) for u in fresh], len(fresh), 3)
        results["ua_new_lib"] = per_event_us(
            lambda: [user_agents.parse(u + "x") for u in fresh], len(fresh), 1
        )
        geo = enricher.geo
        ips = list({e.ip for e in events})[:20_000]
        geo.cache_clear()
        results["ip_new_ours"] = per_event_us(lambda: [geo.location(i) for i in ips], len(ips), 1)
    progress("naive geoip2 city() + user_agents.parse()")
    sample = events[: max(n_events // 10, 5000)]
    with geoip2.database.Reader(db) as city_reader:

        def run_naive() -> None:
            for event in sample:
                try:  # noqa: SIM105 - plain try is what a naive caller writes, and cheaper
                    city_reader.city(event.ip)
                except geoip2.errors.AddressNotFoundError:
                    pass
                user_agents.parse(event.user_agent)

        user_agent_parser._PARSE_CACHE.clear()
        results["naive"] = per_event_us(run_naive, len(sample), 3)
    return EnrichResults(results, n_events, n_visitors, distinct_uas, distinct_ips, db)


def main(argv: list[str] | None = None) -> int:
    """Print the enrichment section alone (``make bench`` puts it in docs/benchmarks.md)."""
    parser = argparse.ArgumentParser(description="enrichment benchmark")
    parser.add_argument("--quick", action="store_true", help="small mix, for a smoke run")
    args = parser.parse_args(argv)
    print(render(measure(args.quick)))
    return 0


def versions() -> str:
    """The enrichment libraries and their versions, one line."""
    return ", ".join(
        f"{p} {importlib.metadata.version(p)}"
        for p in ["msgspec", "maxminddb", "geoip2", "ua-parser", "ua-parser-rs", "user-agents"]
    )


def render(res: EnrichResults) -> str:
    """The enrichment section of docs/benchmarks.md (Markdown, starting at a level-2 heading)."""
    r = res.us

    def ok(flag: bool) -> str:
        return "met" if flag else "**missed**"

    return f"""## Enrichment

In-process, no Kafka or ClickHouse: µs per event, median of repeated passes.

- Libraries: {versions()}
- GeoIP database: `{res.database}`
- Mix: {res.events} events, {res.visitors} visitors, {res.distinct_uas} distinct user agents
  (Zipf-like popularity), {res.distinct_ips} distinct IPs known to the database (~10% IPv6).

| Path | µs / event |
|---|---|
| Ours, warm caches | {r["ours_warm"]:.2f} |
| Ours, cold caches (one pass from empty caches) | {r["ours_cold"]:.2f} |
| Ours, never-seen UA (parse only) | {r["ua_new_ours"]:.1f} |
| `user_agents.parse()`, never-seen UA | {r["ua_new_lib"]:.1f} |
| Ours, never-seen IP (lookup only) | {r["ip_new_ours"]:.1f} |
| Naive: `geoip2` `city()` + `user_agents.parse()` per event | {r["naive"]:.2f} |

Targets:
- warm ≤ 3 µs/event: {r["ours_warm"]:.2f} — {ok(r["ours_warm"] <= 3)}
- never-seen UA ≤ 50 µs: {r["ua_new_ours"]:.1f} — {ok(r["ua_new_ours"] <= 50)}
  ({r["ua_new_lib"] / r["ua_new_ours"]:.0f}x faster than `user_agents.parse()`)
- ≥ 10x the naive path overall: warm {r["naive"] / r["ours_warm"]:.0f}x,
  cold {r["naive"] / r["ours_cold"]:.0f}x — {ok(r["naive"] / r["ours_cold"] >= 10)}

UA path chosen: ua-parser-rs finds the first matching rule, then the legacy Python rule at that
index extracts the values (exactly `user_agents`' answers, see docs/enrichment.md). Plain
ua-parser-rs values would be faster still but differ from `user_agents` on some strings.
"""


if __name__ == "__main__":
    raise SystemExit(main())
