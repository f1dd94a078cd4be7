"""Operability: /health, /ready, /metrics, /openapi.json, JSON access logs, JSON errors, and a
token refresh that outlives any error and says how old the tokens are."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from query_api import tokens
from query_api.app import OPENAPI_PATH
from query_api.logs import JsonFormatter
from query_api.pool import ClientPool
from query_api.tokens import TokenStore
from tests.query_api import contract, visits
from tests.support.api import TENANT, AppFactory, Secrets, now_ms


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_health_ready_and_openapi(api: httpx.Client) -> None:
    for path in ("/health", "/ready", "/openapi.json"):
        response = api.get(path)
        contract.check(response, path)
        assert response.status_code == 200
    assert api.get("/openapi.json").json() == json.loads(OPENAPI_PATH.read_text())


def test_not_ready_without_clickhouse(app_factory: AppFactory) -> None:
    api = app_factory(ready=False, VH_CLICKHOUSE_PORT=str(free_port()))
    assert api.get("/health").status_code == 200
    ready = api.get("/ready")
    contract.check(ready, "/ready")
    assert (ready.status_code, ready.json()["reason"]) == (503, "clickhouse")
    assert ready.json()["tokenRefreshAgeSeconds"] is None  # never loaded
    assert math.isinf(refresh_age(api))
    response = api.get("/visitors/V", headers={"Auth-API-Key": "anything"})
    contract.check(response, "/visitors/{visitor_id}")
    assert response.status_code == 503
    assert response.json() == {"error": "service unavailable, retry later"}


def test_clickhouse_failure_is_503_json_without_internals(
    api: httpx.Client, secrets: Secrets, ch_client: Any, ch_database: str
) -> None:
    ch_client.execute(f"DROP TABLE {ch_database}.visits")
    ch_client.execute(f"DROP TABLE {ch_database}.visit_pages")  # what pages read (040)
    ch_client.execute(f"DROP TABLE {ch_database}.request_index")
    response = api.get("/visitors/V", headers={"Auth-API-Key": secrets.acme})
    contract.check(response, "/visitors/{visitor_id}")
    assert response.status_code == 503
    assert "Traceback" not in response.text and "DB::Exception" not in response.text
    event = api.get("/events/r", headers={"Auth-API-Key": secrets.acme})
    contract.check(event, "/events/{request_id}")
    assert event.json()["error"]["code"] == "Failed"


def test_unknown_routes_and_methods_answer_json(api: httpx.Client) -> None:
    missing = api.get("/nope")
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    wrong = api.post("/visitors/V")
    assert (wrong.status_code, wrong.json()) == (405, {"error": "method not allowed"})


def test_metrics_count_statuses_and_time_routes(api: httpx.Client, secrets: Secrets) -> None:
    api.get("/visitors/Nobody", headers={"Auth-API-Key": secrets.acme})
    api.get("/visitors/Nobody")
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
    route = "/visitors/{visitor_id}"
    statuses = {
        s.labels["status"]: s.value
        for s in families["vh_api_responses"].samples
        if s.name.endswith("_total") and s.labels["route"] == route
    }
    assert statuses == {"404": 1.0, "403": 1.0}
    latency = families["vh_api_request_duration_seconds"].samples
    count = [s for s in latency if s.name.endswith("_count") and s.labels["route"] == route]
    assert [(s.labels["method"], s.value) for s in count] == [("GET", 2.0)]
    assert any(s.name.endswith("_bucket") for s in latency)


def test_access_log_is_json_and_never_holds_a_token(
    api: httpx.Client, secrets: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="query_api.access"):
        api.get("/visitors/Nobody", params={"token": secrets.acme, "limit": "5"})
    (record,) = [r for r in caplog.records if r.name == "query_api.access"]
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert secrets.acme not in line
    assert {k: entry[k] for k in ("method", "route", "path", "status")} == {
        "method": "GET",
        "route": "/visitors/{visitor_id}",
        "path": "/visitors/Nobody",
        "status": 404,
    }
    assert entry["token_id"] == secrets.acme_id and entry["duration_ms"] >= 0


def test_concurrent_requests_share_a_small_pool(
    app_factory: AppFactory, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 10_000
    visits.insert(ch_client, [visits.visit(TENANT, f"C{i}", t + i, f"c{i}") for i in range(20)])
    api = app_factory(VH_API_POOL_SIZE="2", VH_API_RATE_LIMIT="1000", VH_API_RATE_BURST="1000")

    def one(i: int) -> tuple[int, str]:
        body = api.get(f"/visitors/C{i % 20}", headers={"Auth-API-Key": secrets.acme}).json()
        return i % 20, body["visits"][0]["requestId"]

    with ThreadPoolExecutor(16) as workers:
        answers = list(workers.map(one, range(200)))
    # Each answer belongs to its own request: no Client's result leaked to another thread.
    assert all(rid == f"c{i}" for i, rid in answers)


def test_one_clickhouse_round_trip_per_page(
    api: httpx.Client, secrets: Secrets, ch_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    visits.insert(ch_client, [visits.visit(TENANT, "P", now_ms() - i, f"p{i}") for i in range(9)])
    sent: list[str] = []
    execute = ClientPool.execute

    def counting(self: ClientPool, sql: str, *args: Any, **kwargs: Any) -> Any:
        if "api_tokens" not in sql:  # the background token refresh is not a request's query
            sent.append(sql)
        return execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(ClientPool, "execute", counting)
    headers = {"Auth-API-Key": secrets.acme}
    first = api.get("/visitors/P", headers=headers, params={"limit": 4}).json()
    assert len(sent) == 1
    api.get(
        "/visitors/P", headers=headers, params={"limit": 4, "paginationKey": first["paginationKey"]}
    )
    assert len(sent) == 2
    assert api.get("/visitors/Unknown", headers=headers).status_code == 404
    assert len(sent) == 3


class ManualClock:
    """Monotonic seconds that move only when told (the token refresh age)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def refresh_age(api: httpx.Client) -> float:
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
    (sample,) = families["vh_api_token_refresh_age_seconds"].samples
    return float(sample.value)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_token_refresh_survives_any_error_and_its_age_shows(
    app_factory: AppFactory,
    secrets: Secrets,
    ch_client: Any,
    ch_database: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = threading.Event()
    failures: list[int] = []
    refresh = TokenStore.refresh

    def flaky(self: TokenStore, execute: Any) -> int:
        if failing.is_set():
            failures.append(1)
            raise ValueError("a token row the loader cannot read")  # not a DatabaseError
        return refresh(self, execute)

    monkeypatch.setattr(TokenStore, "refresh", flaky)
    clock = ManualClock()
    api = app_factory(app_kwargs={"refresh_clock": clock})  # refresh every 0.2 s
    acme = {"Auth-API-Key": secrets.acme}
    assert api.get("/visitors/Nobody", headers=acme).status_code == 404  # authenticated
    ready = api.get("/ready")
    contract.check(ready, "/ready")
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "tokenRefreshAgeSeconds": 0},
    )

    with caplog.at_level(logging.ERROR, logger="query_api.app"):
        failing.set()
        wait_for(lambda: len(failures) >= 3, "three failed refreshes in a row: the loop lives on")
    assert any(
        r.getMessage().startswith("token refresh failed unexpectedly")
        and r.exc_info is not None
        and r.exc_info[0] is ValueError
        for r in caplog.records
    )
    clock.now += 30.5
    still = api.get("/ready")
    assert (still.status_code, still.json()["tokenRefreshAgeSeconds"]) == (200, 30.5)
    clock.now += 30  # past max(60 s, 10 x 0.2 s)
    stale = api.get("/ready")
    contract.check(stale, "/ready")
    assert (stale.status_code, stale.json()) == (
        503,
        {"status": "unavailable", "reason": "tokens_stale", "tokenRefreshAgeSeconds": 60.5},
    )
    assert refresh_age(api) == 60.5

    execute = lambda sql, params: ch_client.execute(sql, params)  # noqa: E731
    assert tokens.revoke(execute, ch_database, secrets.acme_id)
    assert api.get("/visitors/Nobody", headers=acme).status_code == 404  # the old set holds
    failing.clear()
    wait_for(
        lambda: api.get("/visitors/Nobody", headers=acme).status_code == 403,
        "a later good refresh to load the revocation",
    )
    assert api.get("/ready").json() == {"status": "ready", "tokenRefreshAgeSeconds": 0}
    assert refresh_age(api) == 0
