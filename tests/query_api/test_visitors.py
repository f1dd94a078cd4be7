"""GET /visitors/{visitor_id} against the real server: shape, window, filters, paging, errors.

Every response is also checked against the served OpenAPI document (contract.check).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from query_api.params import DAY_MS
from tests.query_api import contract, visits
from tests.support.api import TENANT, Secrets, now_ms

PATH = "/visitors/{visitor_id}"
SEED_VISITOR = "Ibk1527CUFmcnjLwIs4A9"


def get(api: httpx.Client, secret: str, visitor: str, **query: Any) -> httpx.Response:
    response = api.get(f"/visitors/{visitor}", params=query, headers={"Auth-Token": secret})
    contract.check(response, PATH)
    return response


def seed_browser_details() -> dict[str, Any]:
    """browserDetails exactly as ../shared/reference/server-api-seed.md shows it."""
    return {
        "browserName": "Chrome",
        "browserMajorVersion": "74",
        "browserFullVersion": "74.0.3729",
        "os": "Windows",
        "osVersion": "7",
        "device": "Other",
        "userAgent": (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/74.0.3729.157 Safari/537.36"
        ),
        "botProbability": 0,
    }


def test_seed_example_comes_back_as_the_seed_shows_it(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    ts = now_ms() - 60_000
    with visits.enricher() as enricher:
        seed = enricher.enrich(
            visits.example("seed-visit.json", workspace_id=TENANT, timestamp=ts, ip=visits.KNOWN_IP)
        )
        expected_location = enricher.geo.location(visits.KNOWN_IP)
    visits.insert(ch_client, [seed])
    body = get(api, secrets.acme, SEED_VISITOR).json()
    assert body["visitorId"] == SEED_VISITOR
    (visit,) = body["visits"]
    assert visit["browserDetails"] == seed_browser_details()
    assert expected_location is not None
    assert visit["ipLocation"]["city"] == {"name": "London"}
    assert visit["ipLocation"]["country"] == {"code": "GB", "name": "United Kingdom"}
    assert visit["ipLocation"]["accuracyRadius"] == expected_location.accuracy_radius
    assert visit["ipLocation"]["subdivisions"][0]["isoCode"] == "ENG"
    assert visit["requestId"] == seed.request_id
    assert (visit["incognito"], visit["linkedId"], visit["url"]) == (
        True,
        "somelinkedId",
        "https://www.example.com/login",
    )
    assert visit["timestamp"] == ts and visit["time"].endswith("Z")
    assert visit["tag"] == {} and visit["visitorFound"] is False
    seen = visits.iso_ms(ts)
    assert visit["firstSeenAt"] == {"global": seen, "subscription": seen}
    assert visit["lastSeenAt"] == {"global": seen, "subscription": seen}
    assert list(visit)[:4] == ["requestId", "incognito", "linkedId", "time"]


def test_unknown_visitor_is_404_with_its_id(api: httpx.Client, secrets: Secrets) -> None:
    response = get(api, secrets.acme, "NeverSeen")
    assert (response.status_code, response.json()) == (404, {"visitorId": "NeverSeen"})


def test_known_visitor_outside_the_window_is_200_empty(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    old = now_ms() - 11 * DAY_MS
    visits.insert(ch_client, [visits.visit(TENANT, "Old", old, "r-old")])
    assert get(api, secrets.acme, "Old").json() == {"visitorId": "Old", "visits": []}
    wide = get(api, secrets.acme, "Old", **{"from": str(old)}).json()
    assert [v["requestId"] for v in wide["visits"]] == ["r-old"]


def test_window_filters_and_newest_first(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - DAY_MS
    history = [
        visits.visit(TENANT, "V", t + i * 1000, f"r{i}", linked_id="odd" if i % 2 else None)
        for i in range(10)
    ]
    visits.insert(ch_client, history)
    visits.insert(ch_client, history[:3])  # redelivered: shown once
    everything = get(api, secrets.acme, "V").json()["visits"]
    assert [v["requestId"] for v in everything] == [f"r{i}" for i in range(9, -1, -1)]
    iso_from = visits.iso_ms(t + 2000)
    bounded = get(api, secrets.acme, "V", **{"from": iso_from, "to": str(t + 5000)}).json()
    assert [v["requestId"] for v in bounded["visits"]] == ["r4", "r3", "r2"]
    before = get(api, secrets.acme, "V", before=t + 2000).json()
    assert [v["requestId"] for v in before["visits"]] == ["r1", "r0"]
    linked = get(api, secrets.acme, "V", linked_id="odd").json()
    assert [v["requestId"] for v in linked["visits"]] == ["r9", "r7", "r5", "r3", "r1"]
    one = get(api, secrets.acme, "V", request_id="r4").json()
    assert [v["requestId"] for v in one["visits"]] == ["r4"]
    none = get(api, secrets.acme, "V", request_id="nope").json()
    assert none == {"visitorId": "V", "visits": []}
    limited = get(api, secrets.acme, "V", limit=3, linked_id="odd").json()
    assert [v["requestId"] for v in limited["visits"]] == ["r9", "r7", "r5"]
    assert (limited["paginationKey"], limited["lastTimestamp"]) == ("r5", t + 5000)
    sdk_extras = get(api, secrets.acme, "V", ii="fingerprint-pro-server-python-sdk/8", x="1")
    assert sdk_extras.json()["visits"] == everything


def test_paging_walks_1000_visits_exactly_once(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    start = now_ms() - 5 * DAY_MS
    # Ties on timestamp (pairs share one) and redelivered duplicates in other parts: the
    # keyset (timestamp, requestId) must neither skip nor repeat any of them.
    history = [
        visits.visit(TENANT, "Big", start + (i // 2) * 7, f"req-{i:04d}") for i in range(1000)
    ]
    for chunk in range(0, 1000, 250):
        visits.insert(ch_client, history[chunk : chunk + 250])
    visits.insert(ch_client, history[100:400])
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 137}
    pages = 0
    while True:
        body = get(api, secrets.acme, "Big", **query).json()
        seen += [v["requestId"] for v in body["visits"]]
        pages += 1
        if "paginationKey" not in body:
            break
        assert body["paginationKey"] == seen[-1]
        query["paginationKey"] = body["paginationKey"]
    expected = sorted((v.timestamp, v.request_id) for v in history)[::-1]
    assert seen == [rid for _, rid in expected]
    assert pages == 8  # ceil(1000 / 137): the last full page does not claim more


def test_max_limit_page(api: httpx.Client, secrets: Secrets, ch_client: Any) -> None:
    t = now_ms() - DAY_MS
    visits.insert(ch_client, [visits.visit(TENANT, "M", t + i, f"m{i:03d}") for i in range(501)])
    body = get(api, secrets.acme, "M").json()
    assert len(body["visits"]) == 100 and body["paginationKey"] == "m401"
    body = get(api, secrets.acme, "M", limit=500).json()
    assert len(body["visits"]) == 500 and body["paginationKey"] == "m001"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit: must be an integer from 1 to 500"),
        ({"limit": "abc"}, "limit: must be an integer from 1 to 500"),
        ({"before": "x"}, "before: must be a non-negative integer of epoch milliseconds"),
        ({"from": "tuesday"}, "from: must be an ISO 8601 date-time"),
        ({"to": "2024-02-30T00:00:00Z"}, "to: must be an ISO 8601 date-time"),
        ({"from": "2000", "to": "1000"}, "from: must be earlier than to"),
        ({"paginationKey": "unknown"}, "paginationKey: is not the requestId of a visit"),
        ({"linked_id": "x" * 300}, "linked_id: must be 1 to 256 printable characters"),
    ],
)
def test_invalid_parameters_are_400_naming_them(
    api: httpx.Client, secrets: Secrets, ch_client: Any, query: dict[str, str], message: str
) -> None:
    visits.insert(ch_client, [visits.visit(TENANT, "V", now_ms() - 1000, "r")])
    response = get(api, secrets.acme, "V", **query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_invalid_visitor_id_is_400(api: httpx.Client, secrets: Secrets) -> None:
    response = get(api, secrets.acme, "a%20b")
    assert response.status_code == 400
    assert response.json()["error"].startswith("visitor_id: ")
