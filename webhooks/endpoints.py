"""Webhook endpoints: the model, the SQL that manages them, the per-tenant snapshot.

An endpoint belongs to one tenant; every event of that tenant the worker stored is POSTed
to it. Changes are rows of ``webhook_endpoints`` (newest ``version`` wins, read with
``argMax``: never dependent on merges). A rotation keeps the old secret beside the new one;
both sign for ``VH_WEBHOOKS_ROTATION_GRACE_SECONDS`` (a receiver that still holds the old
secret keeps accepting), then only the new one. Functions take ``execute`` (SQL with bound
parameters -> rows): the webhooks' ClickHouse door in the process and the CLI.
"""

from __future__ import annotations

import secrets as random_secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.tables import WEBHOOK_ENDPOINTS
from webhooks.targets import check_url

Execute = Callable[[str, Mapping[str, Any]], Sequence[tuple[Any, ...]]]

SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A live endpoint. ``secret`` signs; ``previous_secret`` too until the grace ends."""

    endpoint_id: str
    tenant: str
    url: str
    secret: str
    previous_secret: str = ""
    rotated_at_ms: int = 0

    def signing_secrets(self, now_ms: int, grace_ms: int) -> list[str]:
        """The secrets to sign with now: the current one, and during the grace period
        after a rotation the previous one too. Pure."""
        if self.previous_secret and now_ms < self.rotated_at_ms + grace_ms:
            return [self.secret, self.previous_secret]
        return [self.secret]


def _latest(layout: Layout) -> str:
    return (
        "SELECT endpoint_id, argMax(tenant, version), argMax(url, version),"
        " argMax(secret, version), argMax(previous_secret, version),"
        " argMax(rotated_at_ms, version), argMax(removed, version), max(version)"
        f" FROM {layout.qualified(WEBHOOK_ENDPOINTS.name)} GROUP BY endpoint_id"
        " ORDER BY endpoint_id"
    )


def _insert(layout: Layout) -> str:
    return (
        f"INSERT INTO {layout.qualified(WEBHOOK_ENDPOINTS.name)}"
        f" ({WEBHOOK_ENDPOINTS.column_list()}) VALUES"
    )


def load(execute: Execute, layout: Layout) -> list[tuple[Endpoint, int]]:
    """Every endpoint not removed, with its row version."""
    out = []
    for eid, tenant, url, secret, previous, rotated, removed, version in execute(
        _latest(layout), {}
    ):
        if not removed:
            out.append((Endpoint(eid, tenant, url, secret, previous, int(rotated)), int(version)))
    return out


def _write(execute: Execute, layout: Layout, e: Endpoint, removed: int, version: int) -> None:
    row = (
        e.tenant, e.endpoint_id, e.url, e.secret, e.previous_secret, e.rotated_at_ms, removed,
        version,
    )  # fmt: skip
    execute(_insert(layout), [row])  # type: ignore[arg-type]


def add(execute: Execute, layout: Layout, tenant: str, url: str, now_ms: int) -> Endpoint:
    """Register ``url`` for ``tenant`` with a fresh secret (shown once by the CLI).

    Raises:
        TargetRefused: not an http(s) URL with a host.
    """
    check_url(url)
    endpoint = Endpoint(
        f"wh_{uuid.uuid4().hex[:12]}", tenant, url, random_secrets.token_hex(SECRET_BYTES)
    )
    _write(execute, layout, endpoint, 0, now_ms)
    return endpoint


def find(
    execute: Execute, layout: Layout, tenant: str, endpoint_id: str | None, url: str | None
) -> list[tuple[Endpoint, int]]:
    """The tenant's endpoints matching the id or the URL (both None: all of them)."""
    return [
        (e, v)
        for e, v in load(execute, layout)
        if e.tenant == tenant
        and (endpoint_id is None or e.endpoint_id == endpoint_id)
        and (url is None or e.url == url)
    ]


def remove(
    execute: Execute, layout: Layout, found: Sequence[tuple[Endpoint, int]], now_ms: int
) -> None:
    """Remove these endpoints (``find``'s); ``vh webhooks run`` stops posting to them within
    its refresh time."""
    for endpoint, version in found:
        _write(execute, layout, endpoint, 1, max(now_ms, version + 1))


def rotate(execute: Execute, layout: Layout, found: tuple[Endpoint, int], now_ms: int) -> Endpoint:
    """A new secret for the endpoint; the old one keeps signing for the grace period."""
    endpoint, version = found
    rotated = Endpoint(
        endpoint.endpoint_id,
        endpoint.tenant,
        endpoint.url,
        random_secrets.token_hex(SECRET_BYTES),
        endpoint.secret,
        now_ms,
    )
    _write(execute, layout, rotated, 0, max(now_ms, version + 1))
    return rotated


class Registry:
    """The live endpoints by tenant, replaced wholesale on each refresh (a failed refresh
    keeps the last snapshot: deliveries go on to what was known).

    Args:
        fetch: returns every live endpoint (``load`` bound to the store).
        refresh_s: how old the snapshot may get.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        fetch: Callable[[], list[tuple[Endpoint, int]]],
        refresh_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._fetch, self._refresh_s, self._clock = fetch, refresh_s, clock
        self._by_tenant: dict[str, list[Endpoint]] = {}
        self._by_id: dict[str, Endpoint] = {}
        self._loaded_at: float | None = None

    def refresh(self) -> None:
        """Load the endpoints now. Raises what ``fetch`` raises."""
        found = [e for e, _ in self._fetch()]
        by_tenant: dict[str, list[Endpoint]] = {}
        for endpoint in found:
            by_tenant.setdefault(endpoint.tenant, []).append(endpoint)
        self._by_tenant, self._by_id = by_tenant, {e.endpoint_id: e for e in found}
        self._loaded_at = self._clock()

    def due(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._refresh_s

    def for_tenant(self, tenant: str) -> list[Endpoint]:
        return self._by_tenant.get(tenant, [])

    def current(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint as last loaded (its secrets may have rotated); None once removed."""
        return self._by_id.get(endpoint_id)
