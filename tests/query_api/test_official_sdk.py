"""The official v3 Python SDK (fingerprint-pro-server-api-sdk) reads this API.

Generated from server-api-v3.yaml, it is the strictest reader we can get: it deserialises
every field into typed models and maps error statuses to exceptions.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import httpx
import pytest

from tests.query_api import visits
from tests.support.api import TENANT, AppFactory, Secrets, now_ms

with warnings.catch_warnings():
    # The v3 SDK announces its own deprecation (v4 exists) on import.
    warnings.simplefilter("ignore", DeprecationWarning)
    sdk = pytest.importorskip("fingerprint_pro_server_api_sdk")
    from fingerprint_pro_server_api_sdk.rest import KnownApiException


def client(api: httpx.Client, secret: str) -> Any:
    config = sdk.Configuration(api_key=secret)
    config.host = str(api.base_url).rstrip("/")
    return sdk.FingerprintApi(config)


def test_sdk_pages_reads_an_event_and_deletes(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 60_000
    visits.insert(
        ch_client,
        [visits.visit(TENANT, "V", t + i, f"r{i}", linked_id="L", tag={"i": i}) for i in range(7)],
    )
    fp = client(api, secrets.acme)
    seen: list[str] = []
    key = None
    while True:
        page = fp.get_visits("V", limit=3, **({"pagination_key": key} if key else {}))
        seen += [v.request_id for v in page.visits]
        if not page.pagination_key:
            break
        key = page.pagination_key
    assert seen == [f"r{i}" for i in range(6, -1, -1)]
    (only,) = fp.get_visits("V", request_id="r3", linked_id="L").visits
    assert (only.request_id, only.linked_id, only.tag, only.timestamp) == (
        "r3",
        "L",
        {"i": 3},
        t + 3,
    )
    assert only.browser_details.browser_name == "Chrome"
    assert only.first_seen_at.subscription.timestamp() * 1000 == pytest.approx(t, abs=1)

    event = fp.get_event("r5").products.identification.data
    assert (event.visitor_id, event.request_id, event.replayed) == ("V", "r5", False)

    assert fp.delete_visitor_data("V") is None
    with pytest.raises(KnownApiException) as missing:
        fp.get_event("r5")
    assert missing.value.status == 404
    assert missing.value.structured_error.error.code == "RequestNotFound"


def test_sdk_sees_v3_errors(app_factory: AppFactory, secrets: Secrets, ch_client: Any) -> None:
    visits.insert(ch_client, [visits.visit(TENANT, "V", now_ms() - 1000, "r")])
    api = app_factory(VH_API_RATE_LIMIT="1", VH_API_RATE_BURST="1")
    with pytest.raises(KnownApiException) as forbidden:
        client(api, "wrong").get_visits("V")
    assert (forbidden.value.status, forbidden.value.structured_error.error) == (
        403,
        "Forbidden (HTTP 403)",
    )
    fp = client(api, secrets.acme)
    with pytest.raises(KnownApiException) as bad:
        fp.get_visits("V", limit=100_000)
    assert bad.value.status == 400
    assert bad.value.structured_error.error.startswith("limit: ")
    # Throttled: the SDK's HTTP layer honours our 429's Retry-After (1 s here) and retries.
    started = time.monotonic()
    assert [v.request_id for v in fp.get_visits("V").visits] == ["r"]
    assert time.monotonic() - started >= 0.9
