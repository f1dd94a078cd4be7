"""Valid raw events for the faults suite: unique requestIds, deterministic, cheap to make."""

from __future__ import annotations

import json
import time
from typing import Final

NOW_MS: Final = time.time_ns() // 1_000_000
UA: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
TENANTS: Final = ("acme", "globex")


def visitor_of(i: int, visitors: int) -> tuple[str, str]:
    """(tenant, visitorId) of event ``i``: visitors are split evenly between the tenants."""
    n = i % visitors
    tenant = TENANTS[n % len(TENANTS)]
    return tenant, f"{tenant}-v{n:04d}"


def valid_event(i: int, visitors: int, prefix: str = "crash") -> tuple[bytes, bytes, str]:
    """(key, value, requestId) of the ``i``-th valid event; timestamps one second apart."""
    tenant, visitor = visitor_of(i, visitors)
    request_id = f"{prefix}-{i:07d}"
    value = json.dumps(
        {
            "schemaVersion": 1,
            "workspaceId": tenant,
            "requestId": request_id,
            "visitorId": visitor,
            "timestamp": NOW_MS - 1_000 * (i + 1),
            "url": f"https://shop.example/p/{i}",
            "ip": "81.2.69.160",
            "userAgent": UA,
            "incognito": i % 7 == 0,
        },
        separators=(",", ":"),
    ).encode()
    return visitor.encode(), value, request_id
