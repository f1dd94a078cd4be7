"""Edge-collector simulator: realistic raw visits, for `vh produce-demo` and benchmarks.

Realistic means: many visitors whose visit counts follow a Zipf law (a few regulars, a long
tail), each keeping one user agent and one home address, user agents drawn from real-world
strings with Zipf weights by popularity rank, addresses the configured GeoIP database knows
(so enrichment has something to find), a few tenants, ``linkedId``/``tag``/incognito on a
share of visits. The generator is pure given its seed and clock; :func:`publish` does the I/O.
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import json
import logging
import random
import signal
import string
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

import msgspec

from enrich.config import EnrichConfig
from enrich.enricher import Enricher
from vh.commands import Subparsers, command
from vh.progress import Progress

logger = logging.getLogger(__name__)

#: Addresses MaxMind's production and test City databases both locate (the pool's seed).
KNOWN_IPS = (
    "81.2.69.160", "81.2.69.142", "89.160.20.112", "89.160.20.128", "216.160.83.56",
    "67.43.156.1", "175.16.199.1", "202.196.224.1", "2001:218::1", "2a02:cf40::1",
    "8.8.8.8", "1.1.1.1", "61.127.217.15",
)  # fmt: skip
_ALNUM = string.ascii_letters + string.digits
_PATHS = ("/", "/login", "/signup", "/pricing", "/checkout", "/account", "/search?q=shoes",
          "/products/42", "/blog/how-we-scale", "/cart")  # fmt: skip


class Locates(Protocol):
    def location(self, ip: str) -> Any: ...


def load_user_agents() -> list[str]:
    """The curated real-world user agents shipped in ``vh/data``, most common first."""
    text = resources.files("vh").joinpath("data/user_agents.json").read_text("utf-8")
    return list(json.loads(text)["user_agents"])


def known_ips(geo: Locates, size: int, rng: random.Random, attempts: int = 20_000) -> list[str]:
    """Up to ``size`` addresses ``geo`` locates: :data:`KNOWN_IPS`, then random public IPv4.

    Random draws find plenty in a real City database; a small test database only knows
    :data:`KNOWN_IPS`-like ranges, so the attempts are capped. Raises ValueError if none.
    """
    pool = [ip for ip in KNOWN_IPS if geo.location(ip) is not None]
    for _ in range(attempts):
        if len(pool) >= size:
            break
        ip = str(ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24)))
        if ipaddress.IPv4Address(ip).is_global and geo.location(ip) is not None:
            pool.append(ip)
    if not pool:
        raise ValueError("the GeoIP database locates none of the demo addresses")
    return pool[:size] if len(pool) > size else pool


def located_generator(enrich: EnrichConfig, *, ips: int, visitors: int, seed: int) -> DemoGenerator:
    """The demo traffic everyone uses (`vh produce-demo`, the benchmarks, the soak): the
    shipped user agents and ``ips`` addresses the configured GeoIP database locates.
    Opens that database once to pick them (I/O); the generator itself is pure."""
    with Enricher.from_config(enrich) as enricher:
        pool = known_ips(enricher.geo, ips, random.Random(seed))
    return DemoGenerator(load_user_agents(), pool, visitors=visitors, seed=seed)


def _zipf_cum_weights(n: int, s: float = 1.1) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**s) for rank in range(1, n + 1)))


@dataclass(frozen=True, slots=True)
class _Visitor:
    tenant: str
    visitor_id: str
    user_agent: str
    ip: str
    linked_id: str | None


class DemoGenerator:
    """Endless raw visits (as the JSON bytes collectors publish, with the visitorId key).

    Args:
        user_agents: most common first; ips: addresses to give visitors.
        visitors: distinct visitors; tenants: workspace ids.
        seed: same seed + same clock readings = same events.
        now_ms: the wall clock (epoch ms) stamped on events.
    """

    def __init__(
        self,
        user_agents: Sequence[str],
        ips: Sequence[str],
        *,
        visitors: int = 50_000,
        tenants: Sequence[str] = ("demo", "acme", "globex"),
        seed: int = 1,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._rng = random.Random(seed)
        self._now_ms = now_ms
        rng = self._rng
        ua_weights = _zipf_cum_weights(len(user_agents))
        tenant_weights = _zipf_cum_weights(len(tenants))
        self._visitors = [
            _Visitor(
                tenant=rng.choices(tenants, cum_weights=tenant_weights)[0],
                visitor_id="".join(rng.choices(_ALNUM, k=20)),
                user_agent=rng.choices(user_agents, cum_weights=ua_weights)[0],
                ip=rng.choice(ips),
                linked_id=f"user-{i}" if rng.random() < 0.2 else None,
            )
            for i in range(visitors)
        ]
        self._visitor_weights = _zipf_cum_weights(visitors, s=0.9)

    def event(self) -> dict[str, Any]:
        """One raw visit as a JSON-ready dict (camelCase, schema version 1)."""
        rng = self._rng
        v = rng.choices(self._visitors, cum_weights=self._visitor_weights)[0]
        ts = self._now_ms()
        out: dict[str, Any] = {
            "schemaVersion": 1,
            "workspaceId": v.tenant,
            "requestId": f"{ts}.{''.join(rng.choices(_ALNUM, k=6))}",
            "visitorId": v.visitor_id,
            "timestamp": ts,
            "url": f"https://www.{v.tenant}.example{rng.choice(_PATHS)}",
            "ip": v.ip,
            "userAgent": v.user_agent,
            "incognito": rng.random() < 0.1,
        }
        if v.linked_id is not None:
            out["linkedId"] = v.linked_id
        if rng.random() < 0.3:
            out["tag"] = {
                "campaign": rng.choice(("spring", "summer", "retarget")),
                "ab": {"variant": rng.choice("AB")},
            }
        return out

    def messages(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs forever; the key is the visitorId (partitioning by visitor)."""
        while True:
            event = self.event()
            yield event["visitorId"].encode(), msgspec.json.encode(event)


def publish(
    producer: Any,
    topic: str,
    messages: Iterator[tuple[bytes, bytes]],
    *,
    rate: float,
    count: int | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int], None] = lambda _n: None,
) -> int:
    """Send ``count`` messages (None: until interrupted) at about ``rate`` per second.

    Paces in 50 ms ticks (bursts of ``rate / 20``) so high rates do not sleep per message.
    Returns how many were sent; the producer is flushed before returning.
    """
    sent, start = 0, clock()
    try:
        while count is None or sent < count:
            due = int((clock() - start) * rate) + 1
            burst = min(due - sent, count - sent if count is not None else due)
            if burst <= 0:
                sleep(min(0.05, 1.0 / rate))
                continue
            for key, value in itertools.islice(messages, burst):
                producer.send(topic, key=key, value=value)
            sent += burst
            progress(sent)
    finally:
        producer.flush()
    return sent


# -- `vh produce-demo` ---------------------------------------------------------------------------


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "produce-demo",
        run,
        "publish realistic raw visits (edge simulator)",
        "Publish demo raw visits to VH_KAFKA_TOPIC: many visitors (Zipf visit counts), real "
        "user agents, addresses the GeoIP database locates, keyed by visitorId.",
    )
    parser.add_argument("--rate", type=float, default=100.0, help="events per second (100)")
    parser.add_argument("--count", type=int, default=None, help="stop after N (default: never)")
    parser.add_argument("--visitors", type=int, default=50_000, help="distinct visitors (50000)")
    parser.add_argument("--ips", type=int, default=2_000, help="address pool size (2000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")


def run(args: argparse.Namespace) -> int:
    from ingest.config import IngestConfig
    from ingest.kafka_clients import make_producer

    config = IngestConfig.from_env(args.environ)
    generator = located_generator(
        EnrichConfig.from_env(args.environ), ips=args.ips, visitors=args.visitors, seed=args.seed
    )
    # acks=all and idempotent like every producer of ours: an acknowledged demo visit is on
    # every in-sync replica, a retried send is not duplicated by the broker.
    producer = make_producer(config, client_id="vh-demo")
    bar = Progress("demo visits published", args.count)
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.append(True))
    messages = generator.messages()
    try:
        sent = publish(
            producer,
            config.topic,
            (m for m in messages if not stop),
            rate=args.rate,
            count=args.count,
            progress=bar.update,
        )
    except KeyboardInterrupt:
        sent = bar.done
    finally:
        producer.close()
    bar.close()
    logger.info("demo producer done", extra={"sent": sent, "topic": config.topic})
    return 0
