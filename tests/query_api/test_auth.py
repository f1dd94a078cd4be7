"""Tokens: four ways to send one, 403 in each route's shape, tenant isolation, revocation,
and the per-token rate limit."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from query_api import tokens
from tests.query_api import contract, visits
from tests.support.api import OTHER_TENANT, TENANT, AppFactory, Secrets, now_ms


@pytest.fixture
def shared_visitor(ch_client: Any) -> None:
    """Visitor "Shared" seen by both tenants, with different visits."""
    t = now_ms() - 10_000
    visits.insert(
        ch_client,
        [
            visits.visit(TENANT, "Shared", t, "acme-1"),
            visits.visit(OTHER_TENANT, "Shared", t + 1, "globex-1"),
            visits.visit(OTHER_TENANT, "OnlyGlobex", t, "globex-2"),
        ],
    )


@pytest.mark.usefixtures("shared_visitor")
@pytest.mark.parametrize("where", ["Auth-API-Key", "Auth-Token", "api_key", "token"])
def test_each_way_of_sending_the_token(api: httpx.Client, secrets: Secrets, where: str) -> None:
    if where.startswith("Auth-"):
        response = api.get("/visitors/Shared", headers={where: secrets.acme})
    else:
        response = api.get("/visitors/Shared", params={where: secrets.acme})
    assert response.status_code == 200
    assert [v["requestId"] for v in response.json()["visits"]] == ["acme-1"]


@pytest.mark.usefixtures("shared_visitor")
def test_missing_or_wrong_token_is_403_in_each_routes_shape(
    api: httpx.Client, secrets: Secrets
) -> None:
    for headers in ({}, {"Auth-API-Key": "nope"}, {"Auth-Token": secrets.acme + "x"}):
        response = api.get("/visitors/Shared", headers=headers)
        contract.check(response, "/visitors/{visitor_id}")
        assert (response.status_code, response.json()) == (403, {"error": "Forbidden (HTTP 403)"})
    missing = api.get("/events/acme-1")
    contract.check(missing, "/events/{request_id}")
    assert missing.status_code == 403
    assert missing.json() == {
        "error": {"code": "TokenRequired", "message": "secret key is required"}
    }
    wrong = api.delete("/visitors/Shared", headers={"Auth-API-Key": "wrong"})
    contract.check(wrong, "/visitors/{visitor_id}", "delete")
    assert wrong.json()["error"]["code"] == "TokenNotFound"


@pytest.mark.usefixtures("shared_visitor")
def test_a_token_only_ever_sees_its_tenant(api: httpx.Client, secrets: Secrets) -> None:
    acme, globex = {"Auth-API-Key": secrets.acme}, {"Auth-API-Key": secrets.globex}
    assert api.get("/visitors/OnlyGlobex", headers=acme).status_code == 404
    assert api.get("/visitors/OnlyGlobex", headers=globex).status_code == 200
    other = api.get("/visitors/Shared", headers=globex).json()["visits"]
    assert [v["requestId"] for v in other] == ["globex-1"]
    assert api.get("/events/globex-1", headers=acme).status_code == 404
    assert api.get("/events/globex-1", headers=globex).status_code == 200
    assert api.delete("/visitors/OnlyGlobex", headers=acme).status_code == 404
    assert api.get("/visitors/OnlyGlobex", headers=globex).status_code == 200
    # Even a tenant-looking query parameter changes nothing: the tenant comes from the token.
    sneaky = api.get("/visitors/OnlyGlobex", headers=acme, params={"tenant": OTHER_TENANT})
    assert sneaky.status_code == 404


@pytest.mark.usefixtures("shared_visitor")
def test_revoked_and_new_tokens_take_effect_within_the_refresh_time(
    api: httpx.Client, secrets: Secrets, ch_client: Any, ch_database: str
) -> None:
    def execute(sql: str, params: Any) -> Any:
        return ch_client.execute(sql, params)

    _, fresh = tokens.create(execute, ch_database, TENANT, "new")
    assert tokens.revoke(execute, ch_database, secrets.acme_id)
    deadline = time.monotonic() + 5  # refresh is 0.2 s in tests
    while time.monotonic() < deadline:
        old = api.get("/visitors/Shared", headers={"Auth-Token": secrets.acme}).status_code
        new = api.get("/visitors/Shared", headers={"Auth-Token": fresh}).status_code
        if (old, new) == (403, 200):
            break
        time.sleep(0.05)
    assert (old, new) == (403, 200)


def test_rate_limit_answers_429_with_retry_after(
    app_factory: AppFactory, secrets: Secrets, ch_client: Any
) -> None:
    visits.insert(ch_client, [visits.visit(TENANT, "R", now_ms() - 1000, "r")])
    api = app_factory(VH_API_RATE_LIMIT="0.5", VH_API_RATE_BURST="2")
    headers = {"Auth-API-Key": secrets.acme}
    codes = [api.get("/visitors/R", headers=headers).status_code for _ in range(2)]
    limited = api.get("/visitors/R", headers=headers)
    contract.check(limited, "/visitors/{visitor_id}")
    assert codes == [200, 200]
    assert limited.status_code == 429
    assert limited.json() == {"error": "too many requests"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 2
    event = api.get("/events/r", headers=headers)
    contract.check(event, "/events/{request_id}")
    assert event.json() == {"error": {"code": "TooManyRequests", "message": "too many requests"}}
    # Another token has its own bucket.
    assert api.get("/visitors/R", headers={"Auth-API-Key": secrets.globex}).status_code == 404
