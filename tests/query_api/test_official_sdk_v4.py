"""The official v4 Python SDK (PyPI fingerprint-server-sdk 9.9.0, generated from Fingerprint's
v4 OpenAPI document) against the real API: it deserialises every event into its strict
models, so what we serve is what Fingerprint's own client reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

from tests.query_api import visits
from tests.support.api import TENANT, AppFactory, Secrets, now_ms

sdk = pytest.importorskip("fingerprint_server_sdk")
from fingerprint_server_sdk.exceptions import ApiException  # noqa: E402


def client(api: httpx.Client, secret: str) -> Any:
    host = str(api.base_url).rstrip("/") + "/v4"
    return sdk.FingerprintApi(sdk.Configuration(api_key=secret, host=host))


def code(exc: ApiException) -> str:
    """The v4 error code the SDK decoded from the body (its ErrorResponse model)."""
    data: Any = exc.data
    return str(data.error.code.value)  # an ErrorCode enum member


def ids(page: Any) -> list[str]:
    return [e.event_id for e in page.events]


def test_sdk_searches_pages_gets_updates_and_deletes(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 600_000

    def at(i: int, rid: str, **changes: Any) -> Any:
        return msgspec.structs.replace(visits.visit(TENANT, "V", t + i, rid), **changes)

    visits.insert(
        ch_client,
        [at(i, f"r{i}", linked_id="L", tag={"i": i}) for i in range(7)]
        + [
            at(10, "ip4", ip="81.2.69.160"),
            at(11, "ip6", ip="2001:db8::7", asn=64500, origin="https://o.example"),
            at(12, "bot", bot="bad", incognito=True, url="https://example.com/special"),
        ],
    )
    fp = client(api, secrets.acme)

    seen: list[str] = []
    key = None
    while True:
        page = fp.search_events(limit=3, linked_id="L", pagination_key=key)
        seen += ids(page)
        key = page.pagination_key
        if not key:
            break
    assert seen == [f"r{i}" for i in range(6, -1, -1)]
    assert ids(fp.search_events(visitor_id="V", limit=100))[:3] == ["bot", "ip6", "ip4"]
    assert ids(fp.search_events(ip_address="81.2.69.0/24")) == ["ip4"]
    assert ids(fp.search_events(ip_address="2001:db8::/48")) == ["ip6"]
    assert ids(fp.search_events(asn="64500")) == ["ip6"]
    assert ids(fp.search_events(origin="https://o.example")) == ["ip6"]
    assert ids(fp.search_events(url="https://example.com/special")) == ["bot"]
    assert ids(fp.search_events(bot="bad")) == ["bot"]
    assert ids(fp.search_events(incognito=True)) == ["bot"]
    assert ids(fp.search_events(reverse=True, limit=2)) == ["r0", "r1"]
    window = fp.search_events(
        start=datetime.fromtimestamp((t + 2) / 1000, UTC), end=t + 4, limit=10
    )
    assert ids(window) == ["r4", "r3", "r2"]
    assert fp.search_events(total_hits=5, limit=1).total_hits == 5
    assert ids(fp.search_events(vpn=True)) == []

    event = fp.get_event("r3")
    assert (event.event_id, event.timestamp, event.linked_id, event.tags) == (
        "r3",
        t + 3,
        "L",
        {"i": 3},
    )
    assert event.identification.visitor_id == "V"
    assert event.identification.visitor_found is True
    assert event.identification.first_seen_at == t
    assert event.identification.last_seen_at == t + 2
    assert event.browser_details.browser_name == "Chrome"
    assert event.ip_info.v4.address == "10.0.0.1"

    fp.update_event("r3", sdk.EventUpdate(linked_id="M", suspect=True, tags={"x": 1}))
    updated = fp.get_event("r3")
    assert (updated.linked_id, updated.suspect, updated.tags) == ("M", True, {"x": 1})
    assert ids(fp.search_events(suspect=True)) == ["r3"]
    assert ids(fp.search_events(linked_id="M")) == ["r3"]

    assert fp.delete_visitor_data("V") is None
    with pytest.raises(ApiException) as missing:
        fp.get_event("r3")
    assert missing.value.status == 404
    assert ids(fp.search_events()) == []


def test_sdk_sees_v4_errors(app_factory: AppFactory, secrets: Secrets, ch_client: Any) -> None:
    visits.insert(ch_client, [visits.visit(TENANT, "V", now_ms() - 1000, "r")])
    api = app_factory(VH_API_RATE_LIMIT="1", VH_API_RATE_BURST="1")
    with pytest.raises(ApiException) as forbidden:
        client(api, "wrong").get_event("r")
    assert forbidden.value.status == 403
    assert code(forbidden.value) == "secret_api_key_not_found"
    fp = client(api, secrets.acme)
    with pytest.raises(ApiException) as unknown:
        fp.get_event("no-such-event")
    assert unknown.value.status == 404
    assert code(unknown.value) == "event_not_found"
    with pytest.raises(ApiException) as unknown_visitor:
        fp.delete_visitor_data("nobody")
    assert unknown_visitor.value.status == 404
    assert code(unknown_visitor.value) == "visitor_not_found"
    # Throttled: v4's 429 body, and its Retry-After, which the SDK's HTTP layer (urllib3)
    # honours: it waits and retries.
    time.sleep(1.1)
    auth = {"Authorization": f"Bearer {secrets.acme}"}
    assert api.get("/v4/events/r", headers=auth).status_code == 200
    throttled = api.get("/v4/events/r", headers=auth)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "too_many_requests"
    started = time.monotonic()
    assert fp.get_event("r").event_id == "r"
    assert time.monotonic() - started >= 0.5
