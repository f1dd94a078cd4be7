"""GET /events/{request_id} and DELETE /visitors/{visitor_id}, incl. replays after erasure."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.query_api import contract, visits
from tests.support.api import OTHER_TENANT, TENANT, Secrets, now_ms

EVENT = "/events/{request_id}"
VISITOR = "/visitors/{visitor_id}"


def test_event_is_v3_identification(api: httpx.Client, secrets: Secrets, ch_client: Any) -> None:
    t = now_ms() - 5000
    visits.insert(
        ch_client,
        [
            visits.visit(TENANT, "V", t, "first"),
            visits.visit(TENANT, "V", t + 1, "second", linked_id="L", tag={"a": 1}),
        ],
    )
    response = api.get("/events/second", headers={"Auth-API-Key": secrets.acme})
    contract.check(response, EVENT)
    data = response.json()["products"]["identification"]["data"]
    assert (data["visitorId"], data["requestId"], data["timestamp"]) == ("V", "second", t + 1)
    assert (data["linkedId"], data["tag"], data["replayed"], data["visitorFound"]) == (
        "L",
        {"a": 1},
        False,
        True,
    )
    missing = api.get("/events/nope", headers={"Auth-API-Key": secrets.acme})
    contract.check(missing, EVENT)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "RequestNotFound")


def test_delete_erases_at_once_and_stays_erased_after_replay(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 60_000
    mine = [visits.visit(TENANT, "Gone", t + i, f"g{i}") for i in range(5)]
    theirs = visits.visit(OTHER_TENANT, "Gone", t, "other")
    visits.insert(ch_client, [*mine, theirs])
    acme = {"Auth-API-Key": secrets.acme}

    deleted = api.delete("/visitors/Gone", headers=acme)
    contract.check(deleted, VISITOR, "delete")
    assert deleted.status_code == 200

    gone = api.get("/visitors/Gone", headers=acme)
    assert (gone.status_code, gone.json()) == (404, {"visitorId": "Gone"})
    assert api.get("/events/g1", headers=acme).status_code == 404
    again = api.delete("/visitors/Gone", headers=acme)
    contract.check(again, VISITOR, "delete")
    assert (again.status_code, again.json()["error"]["code"]) == (404, "VisitorNotFound")

    # Old Kafka messages replayed after the erasure (the worker should drop them, but even
    # if rows land, reads keep them hidden).
    visits.insert(ch_client, mine)
    assert api.get("/visitors/Gone", headers=acme).status_code == 404
    assert api.get("/events/g3", headers=acme).status_code == 404

    # The other tenant's data is untouched; the visitor coming back later is visible again.
    other = api.get("/visitors/Gone", headers={"Auth-API-Key": secrets.globex}).json()
    assert [v["requestId"] for v in other["visits"]] == ["other"]
    visits.insert(ch_client, [visits.visit(TENANT, "Gone", now_ms() + 1000, "back")])
    back = api.get("/visitors/Gone", headers=acme).json()["visits"]
    assert [v["requestId"] for v in back] == ["back"]
    assert back[0]["firstSeenAt"]["subscription"] in (None, visits.iso_ms(back[0]["timestamp"]))

    erasures = ch_client.execute("SELECT tenant, visitor_id FROM erasures ORDER BY erased_at_ms")
    assert erasures == [(TENANT, "Gone")]


def test_delete_rejects_a_bad_visitor_id(api: httpx.Client, secrets: Secrets) -> None:
    response = api.delete("/visitors/%20", headers={"Auth-API-Key": secrets.acme})
    contract.check(response, VISITOR, "delete")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "RequestCannotBeParsed"
    assert response.json()["error"]["message"].startswith("visitor_id: ")


def test_visits_after_the_erasure_survive_its_mutations(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    now = now_ms()
    ahead = now + 120_000  # a collector whose clock runs two minutes ahead
    visits.insert(
        ch_client,
        [
            visits.visit(TENANT, "Skew", now - 1000, "past"),
            visits.visit(TENANT, "Skew", ahead, "ahead"),
        ],
    )
    acme = {"Auth-API-Key": secrets.acme}
    assert api.delete("/visitors/Skew", headers=acme).status_code == 200
    deadline = time.monotonic() + 30
    while ch_client.execute(
        "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0"
    )[0][0]:
        assert time.monotonic() < deadline, "mutations did not finish"
        time.sleep(0.1)
    assert ch_client.execute("SELECT request_id FROM visits") == [("ahead",)]
    # The API's copy (040_visit_pages.sql) goes the same way: only the later visit is left.
    assert ch_client.execute("SELECT request_id FROM visit_pages") == [("ahead",)]
    body = api.get("/visitors/Skew", headers=acme).json()
    assert [v["requestId"] for v in body["visits"]] == ["ahead"]
    assert body["visits"][0]["firstSeenAt"]["subscription"] == visits.iso_ms(ahead)
