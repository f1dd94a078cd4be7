"""The /v4 routes against the real ClickHouse, through a real uvicorn: auth, get, search with
each filter, paging, PATCH, DELETE, and v4's error envelope. Every response of these tests
is also checked against the document we serve (schemas/openapi-v4.json)."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from schemas.visit import EnrichedVisit
from tests.query_api import contract, visits
from tests.support.api import OTHER_TENANT, TENANT, AppFactory, Secrets, now_ms


def _documented(response: httpx.Response) -> None:
    path = response.request.url.path
    if not path.startswith("/v4/") or path == "/v4/openapi.json":
        return
    if path.startswith("/v4/visitors/"):
        template = "/v4/visitors/{visitor_id}"
    elif path.startswith("/v4/events/"):
        template = "/v4/events/{event_id}"
    else:
        template = "/v4/events"
    response.read()
    contract.check(response, template, response.request.method.lower(), contract.DOC_V4)
    # And as Fingerprint's own v4 schemas describe its hosted API's answers.
    if response.status_code >= 400:
        contract.check_fingerprint_v4(response.json(), "error.ErrorResponse")
    elif response.content and template == "/v4/events":
        contract.check_fingerprint_v4(response.json(), "EventSearch")
    elif response.content:
        contract.check_fingerprint_v4(response.json(), "Event")


@pytest.fixture
def api(app_factory: AppFactory, secrets: Secrets) -> httpx.Client:
    """The API, each of its /v4 responses checked against the v4 document we serve and
    against Fingerprint's own v4 schemas."""
    client = app_factory()
    client.event_hooks["response"].append(_documented)
    return client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def v(visitor: str, ts: int, rid: str, **changes: Any) -> EnrichedVisit:
    base = visits.visit(TENANT, visitor, ts, rid)
    return msgspec.structs.replace(base, **changes) if changes else base


def error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"]


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["event_id"] for e in response.json()["events"]]


def test_auth_is_bearer_with_v4_codes(api: httpx.Client, secrets: Secrets) -> None:
    assert error(api.get("/v4/events")) == (403, "secret_api_key_required")
    assert error(api.get("/v4/events", headers=bearer("nope"))) == (
        403,
        "secret_api_key_not_found",
    )
    # v3's header is not v4's way.
    assert error(api.get("/v4/events", headers={"Auth-API-Key": secrets.acme})) == (
        403,
        "secret_api_key_required",
    )
    assert api.get("/v4/events", headers=bearer(secrets.acme)).json() == {"events": []}
    assert api.get("/v4/openapi.json").json() == contract.DOC_V4


def test_get_event_as_of_each_event(api: httpx.Client, secrets: Secrets, ch_client: Any) -> None:
    t = now_ms() - 60_000
    visits.insert(ch_client, [v("V", t + i * 1000, f"r{i}", linked_id="L") for i in range(3)])
    h = bearer(secrets.acme)
    first = api.get("/v4/events/r0", headers=h).json()
    assert first["identification"] == {
        "visitor_id": "V",
        "visitor_found": False,
        "first_seen_at": t,
    }
    last = api.get("/v4/events/r2", headers=h).json()
    assert last["identification"] == {
        "visitor_id": "V",
        "visitor_found": True,
        "first_seen_at": t,
        "last_seen_at": t + 1000,
    }
    assert last["event_id"] == "r2" and last["timestamp"] == t + 2000
    assert last["linked_id"] == "L" and last["tags"] == {} and last["replayed"] is False
    assert last["browser_details"] == {
        "browser_name": "Chrome",
        "browser_major_version": "74",
        "browser_full_version": "74.0.3729",
        "os": "Windows",
        "os_version": "7",
        "device": "Other",
    }
    assert last["ip_info"] == {"v4": {"address": "10.0.0.1"}}
    assert (last["bot"], last["incognito"], last["url"]) == (
        "not_detected",
        False,
        "https://example.com/r2",
    )
    assert error(api.get("/v4/events/nope", headers=h)) == (404, "event_not_found")
    # Another tenant's token sees nothing of it.
    assert error(api.get("/v4/events/r2", headers=bearer(secrets.globex))) == (
        404,
        "event_not_found",
    )


def test_search_filters(api: httpx.Client, secrets: Secrets, ch_client: Any) -> None:
    t = now_ms() - 3_600_000
    visits.insert(
        ch_client,
        [
            v("A", t + 1, "a1", linked_id="L1", ip="81.2.69.160", asn=1221, origin="https://x"),
            v("A", t + 2, "a2", ip="81.2.69.161", incognito=True, url="https://x/login"),
            v("B", t + 3, "b1", linked_id="L1", ip="2001:db8::1", bot="good"),
            v("B", t + 4, "b2", ip="2001:db8:1::1", bot="bad", url="https://x/login"),
            v("C", t - 8 * 86_400_000, "c-old"),
            visits.visit(OTHER_TENANT, "A", t + 5, "other"),
        ],
    )
    h = bearer(secrets.acme)

    def search(**query: Any) -> list[str]:
        return ids(api.get("/v4/events", params=query, headers=h))

    assert search() == ["b2", "b1", "a2", "a1"]  # newest first, 7 days, this tenant only
    assert search(reverse="true") == ["a1", "a2", "b1", "b2"]
    assert search(visitor_id="A") == ["a2", "a1"]
    assert search(linked_id="L1") == ["b1", "a1"]
    assert search(ip_address="81.2.69.160") == ["a1"]
    assert search(ip_address="81.2.69.0/24") == ["a2", "a1"]
    assert search(ip_address="2001:db8::/32") == ["b2", "b1"]
    assert search(ip_address="2001:db8::1/128") == ["b1"]
    assert search(asn="1221") == ["a1"]
    assert search(url="https://x/login") == ["b2", "a2"]
    assert search(origin="https://x") == ["a1"]
    assert search(bot="good") == ["b1"]
    assert search(bot="bad") == ["b2"]
    assert search(bot="all") == ["b2", "b1"]
    assert search(bot="none") == ["a2", "a1"]
    assert search(incognito="true") == ["a2"]
    assert search(incognito="false", visitor_id="A") == ["a1"]
    assert search(linked_id="L1", ip_address="2001:db8::/32") == ["b1"]
    assert search(start=str(t - 9 * 86_400_000)) == ["b2", "b1", "a2", "a1", "c-old"]
    assert search(start="1970-01-01T00:00:00Z", end=str(t + 2)) == ["a2", "a1", "c-old"]
    # Signals never collected: v4 leaves out events without them, so nothing matches.
    assert search(vpn="true") == [] and search(tampering="false") == []
    assert search(source="edge") == []
    counted = api.get("/v4/events", params={"total_hits": "3", "limit": "1"}, headers=h).json()
    assert counted["total_hits"] == 3 and len(counted["events"]) == 1
    assert "pagination_key" in counted

    assert error(api.get("/v4/events", params={"visitor_id": "nobody"}, headers=h)) == (
        404,
        "visitor_not_found",
    )
    for bad in (
        {"limit": "0"},
        {"limit": "101"},
        {"ip_address": "300.1.1.1"},
        {"bot": "maybe"},
        {"reverse": "yes"},
        {"start": "tomorrow"},
        {"pagination_key": "garbage"},
        {"vpn": "perhaps"},
    ):
        assert error(api.get("/v4/events", params=bad, headers=h)) == (
            400,
            "request_cannot_be_parsed",
        ), bad


@pytest.mark.parametrize("reverse", [False, True])
def test_paging_walks_once_while_events_arrive(
    api: httpx.Client, secrets: Secrets, ch_client: Any, reverse: bool
) -> None:
    t = now_ms() - 600_000
    # Ties on the timestamp too: the key orders by (timestamp, event id).
    visits.insert(ch_client, [v(f"V{i % 3}", t + i // 2, f"e{i:02d}") for i in range(11)])
    h = bearer(secrets.acme)
    seen: list[str] = []
    query: dict[str, str] = {"limit": "3", "reverse": str(reverse).lower()}
    while True:
        page = api.get("/v4/events", params=query, headers=h).json()
        seen += [e["event_id"] for e in page["events"]]
        # A new event arrives between pages, newer than the walk's window (and an old one,
        # inside it but ahead of the walk's position when walking newest first).
        visits.insert(ch_client, [v("V9", now_ms(), f"new{len(seen)}")])
        if "pagination_key" not in page:
            break
        query = {
            "limit": "3",
            "reverse": query["reverse"],
            "pagination_key": page["pagination_key"],
        }
    expected = sorted((f"e{i:02d}" for i in range(11)), key=lambda r: (int(r[1:]) // 2, r))
    assert seen == (expected if reverse else expected[::-1])


def test_patch_holds(api: httpx.Client, secrets: Secrets, ch_client: Any) -> None:
    t = now_ms() - 60_000
    original = v("V", t, "r1", linked_id="old", tag={"a": 1})
    visits.insert(ch_client, [original, v("V", t + 1, "r2")])
    h = bearer(secrets.acme)
    assert api.patch("/v4/events/r1", json={"linked_id": "new"}, headers=h).status_code == 200
    assert api.patch("/v4/events/r1", json={"suspect": True}, headers=h).status_code == 200
    assert api.patch("/v4/events/r1", json={"tags": {"b": 2}}, headers=h).status_code == 200
    event = api.get("/v4/events/r1", headers=h).json()
    assert (event["linked_id"], event["suspect"], event["tags"]) == ("new", True, {"b": 2})
    assert ids(api.get("/v4/events", params={"linked_id": "new"}, headers=h)) == ["r1"]
    assert ids(api.get("/v4/events", params={"linked_id": "old"}, headers=h)) == []
    assert ids(api.get("/v4/events", params={"suspect": "true"}, headers=h)) == ["r1"]
    assert ids(api.get("/v4/events", params={"suspect": "false"}, headers=h)) == []
    # v3 reads show it too.
    v3 = api.get("/visitors/V", headers={"Auth-API-Key": secrets.acme}).json()["visits"]
    assert [(x["requestId"], x.get("linkedId"), x["tag"]) for x in v3] == [
        ("r2", None, {}),
        ("r1", "new", {"b": 2}),
    ]
    legacy = api.get("/events/r1", headers={"Auth-API-Key": secrets.acme}).json()
    assert legacy["products"]["identification"]["data"]["linkedId"] == "new"
    by_linked = api.get(
        "/visitors/V", params={"linked_id": "new"}, headers={"Auth-API-Key": secrets.acme}
    ).json()["visits"]
    assert [x["requestId"] for x in by_linked] == ["r1"]
    # A replay of the original message, and a merge, change nothing.
    visits.insert(ch_client, [original])
    ch_client.execute("OPTIMIZE TABLE visits FINAL")
    ch_client.execute("OPTIMIZE TABLE event_updates FINAL")
    again = api.get("/v4/events/r1", headers=h).json()
    assert (again["linked_id"], again["suspect"], again["tags"]) == ("new", True, {"b": 2})
    assert api.patch("/v4/events/r1", json={"suspect": False}, headers=h).status_code == 200
    assert api.get("/v4/events/r1", headers=h).json()["suspect"] is False

    assert error(api.patch("/v4/events/r1", json={"visitor_id": "x"}, headers=h)) == (
        400,
        "request_cannot_be_parsed",
    )
    assert error(api.patch("/v4/events/r1", content=b"{", headers=h)) == (
        400,
        "request_cannot_be_parsed",
    )
    assert error(api.patch("/v4/events/r1", json={}, headers=h)) == (
        400,
        "request_cannot_be_parsed",
    )
    assert error(api.patch("/v4/events/unknown", json={"suspect": True}, headers=h)) == (
        404,
        "event_not_found",
    )
    recent = f"{now_ms()}.AbCdEf"
    assert error(api.patch(f"/v4/events/{recent}", json={"suspect": True}, headers=h)) == (
        409,
        "state_not_ready",
    )


def test_delete_visitor_erases_events_and_updates(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 60_000
    visits.insert(ch_client, [v("V", t, "r1"), v("W", t + 1, "w1")])
    h = bearer(secrets.acme)
    assert api.patch("/v4/events/r1", json={"suspect": True}, headers=h).status_code == 200
    assert api.delete("/v4/visitors/V", headers=h).status_code == 200
    assert error(api.delete("/v4/visitors/V", headers=h)) == (404, "visitor_not_found")
    assert error(api.get("/v4/events/r1", headers=h)) == (404, "event_not_found")
    assert ids(api.get("/v4/events", headers=h)) == ["w1"]
    assert ids(api.get("/v4/events", params={"suspect": "true"}, headers=h)) == []
    assert error(api.patch("/v4/events/r1", json={"suspect": True}, headers=h)) == (
        404,
        "event_not_found",
    )
    # A replay of the erased visit stays hidden; the erasure's mutations remove the update.
    visits.insert(ch_client, [v("V", t, "r1")])
    assert ids(api.get("/v4/events", headers=h)) == ["w1"]


def test_collector_fields_asn_and_device(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    from enrich.config import EnrichConfig
    from enrich.enricher import Enricher

    config = EnrichConfig.from_env(
        {
            "VH_GEOIP_DATABASE": str(visits.TEST_MMDB),
            "VH_GEOIP_ASN_DATABASE": str(visits.TEST_MMDB.parent / "GeoLite2-ASN-Test.mmdb"),
        }
    )
    raw = visits.example("v4-fields.json", workspace_id=TENANT, timestamp=now_ms() - 1000)
    with Enricher.from_config(config) as enricher:
        visits.insert(ch_client, [enricher.enrich(raw)])
    h = bearer(secrets.acme)
    event = api.get(f"/v4/events/{raw.request_id}", headers=h).json()
    assert event["client_referrer"] == "https://www.example.org/blog"
    assert event["environment_id"] == "ae_47abaca3db2c7c43"
    assert event["sdk"] == {"platform": "js", "version": "3.11.10"}
    assert event["ip_info"]["v4"]["asn"] == "1221"
    assert event["ip_info"]["v4"]["asn_name"] == "Telstra Pty Ltd"
    assert event["ip_info"]["v4"]["asn_network"] == "1.128.0.0/11"
    assert event["browser_details"]["device"] == "Other"  # a Mac desktop, as Fingerprint says
    assert event["browser_details"]["os"] == "Mac OS X"
    assert ids(api.get("/v4/events", params={"asn": "1221"}, headers=h)) == [raw.request_id]
    origin = {"origin": "https://shop.example.com"}
    assert ids(api.get("/v4/events", params=origin, headers=h)) == [raw.request_id]
    # v3 keeps ua-parser's family.
    v3 = api.get(f"/events/{raw.request_id}", headers={"Auth-API-Key": secrets.acme}).json()
    assert v3["products"]["identification"]["data"]["browserDetails"]["device"] == "Mac"
