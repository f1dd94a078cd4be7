"""Hostile requests against the real API: fuzzing, auth bypass, tenant crossing, path tricks,
and the rate limit. No 5xx ever, no data to anyone but its tenant's token.
"""

from __future__ import annotations

import hashlib
import http.client
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from query_api import tokens
from tests.faults.report import Figures
from tests.query_api import fuzz, visits
from tests.support.api import now_ms
from tests.support.faults import Api, Pipeline, wait_until

SECTION = "hostile_requests"
pytestmark = [pytest.mark.faults, pytest.mark.clickhouse]

TENANTS = ("acme", "globex")
EXAMPLES = 400  # per operation (the query_api suite runs 60); about 25 s on 2 cores
FUZZ_BUDGET_S = 60.0
REFRESH_S = 0.2
# Visitor ids in a URL path that must never reach anybody's data: 400 or 404, never 5xx.
PATH_TRICKS = (
    "/visitors/..%2F..%2Fetc%2Fpasswd",
    "/visitors/..%2f..%2fKnown",
    "/visitors/%2e%2e",
    "/visitors/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/visitors/%252e%252e%252fKnown",
    "/visitors/..",
    "/visitors/Known/../Known",
    "/visitors/Known%2F..",
    "/visitors/Known%00",
    "/visitors/%00",
    "/visitors/Known%0d%0aSet-Cookie:%20x=1",
    "/visitors/" + "x" * 10_240,
    "/visitors/" + "%41" * 3_000,
    "/visitors/%F0%9F%98%80",
    "/visitors/%C3%A9t%C3%A9",
    "/visitors/%ff%fe",
    "/visitors/%c0%af",
    "/visitors/'%20OR%20'1'='1",
    "/visitors/'OR'1'='1",
    "/visitors/Known'--",
    "/visitors/Known%20OR%201=1",
    "/visitors/*",
    "/visitors/%25",
    "/visitors/Known;drop",
    "/visitors/KNOWN",
    "/events/..%2Fr-acme-00",
    "/events/%00",
    "/events/r-acme-00%00",
    "/events/" + "r" * 10_240,
    "/events/%ff",
    "/events/'%20OR%20'1'='1",
)


@dataclass
class Tally:
    """What the test sent and what came back, for the report."""

    statuses: Counter[int] = field(default_factory=Counter)

    def seen(self, status: int) -> int:
        self.statuses[status] += 1
        return status

    def report(self, figures: Figures, **extra: int) -> None:
        figures.add(SECTION, "API requests tried", sum(self.statuses.values()))
        figures.add(SECTION, "5xx responses", sum(n for s, n in self.statuses.items() if s >= 500))
        for label, n in extra.items():
            figures.add(SECTION, label.replace("_", " "), n)


@dataclass
class Setup:
    p: Pipeline
    api: Api
    ids: dict[str, set[str]]  # tenant -> its requestIds

    @property
    def all_ids(self) -> set[str]:
        return self.ids["acme"] | self.ids["globex"]


def _setup(pipeline_factory: Any, serve_api: Any, **env: str) -> Setup:
    """Visits for two tenants (visitor "Shared" in both), the API with a token each."""
    p: Pipeline = pipeline_factory("hreq", partitions=1)
    t = now_ms() - 60_000
    rows = [
        visits.visit(tenant, visitor, t + n, f"r-{tenant}-{visitor[:4]}-{n:02d}".lower())
        for tenant, people in (("acme", ("Known", "Shared")), ("globex", ("Shared", "Theirs")))
        for visitor in people
        for n in range(5)
    ]
    rows += [visits.visit("acme", "Known", t + 99, "r-acme-00", linked_id="L", tag={"a": 1})]
    client = p.client()
    try:
        visits.insert(client, rows)
    finally:
        client.disconnect()
    ids: dict[str, set[str]] = {tenant: set() for tenant in TENANTS}
    for v in rows:
        ids[v.workspace_id].add(v.request_id)
    env = {"VH_API_TOKEN_REFRESH_SECONDS": str(REFRESH_S), **env}
    return Setup(p, serve_api(p, list(TENANTS), **env), ids)


def _leaks(text: str, ids: set[str]) -> int:
    return sum(1 for rid in ids if rid in text)


def test_fuzzing_the_openapi_document_finds_no_5xx(
    pipeline_factory: Any, serve_api: Any, figures: Figures
) -> None:
    s = _setup(pipeline_factory, serve_api, VH_API_RATE_LIMIT="100000", VH_API_RATE_BURST="100000")
    base_url = str(s.api.client.base_url)
    operations = fuzz.operations(s.api.client)
    assert len(operations) == 7
    tally = Tally()
    failures: list[str] = []
    deadline = time.monotonic() + FUZZ_BUDGET_S
    auth = {"Auth-API-Key": s.api.secrets["acme"]}

    def run(case: Any) -> None:
        if time.monotonic() > deadline:
            return  # the budget is spent: hypothesis may keep generating, nothing is sent
        response = case.call(base_url=base_url)
        tally.seen(response.status_code)
        try:
            case.validate_response(response, checks=fuzz.CHECKS)
        except Exception as exc:  # collected: one report of every kind of failure
            failures.append(f"{case.method} {case.formatted_path}: {exc}"[:500])

    def strategies(operation: Any) -> list[Any]:
        found = [operation.as_strategy(headers=auth), operation.as_strategy()]
        if "{visitor_id}" in operation.path:
            found += [
                operation.as_strategy(headers=auth, path_parameters={"visitor_id": v})
                for v in ("Known", "Shared", "Theirs", "'OR'1'='1", "..", "%2e%2e")
            ]
        return found

    fuzz.fuzz(operations, strategies, run, EXAMPLES)
    tally.report(figures, fuzzed_requests_not_conforming_to_the_OpenAPI_document=len(failures))
    figures.note(
        SECTION,
        f"Fuzzing: schemathesis generated up to {EXAMPLES} requests per operation of the served "
        f"`/openapi.json` (7 operations, {FUZZ_BUDGET_S:.0f} s budget), with and without a "
        "token and with hostile visitor ids, checking status codes, content types, headers and "
        "bodies against the document.",
    )
    assert failures == [], "\n".join(failures[:10])
    assert sum(tally.statuses.values()) >= 7 * 30
    assert {200, 400, 403, 404} <= set(tally.statuses)


def test_auth_bypass_attempts_get_403(
    pipeline_factory: Any, serve_api: Any, figures: Figures
) -> None:
    s = _setup(pipeline_factory, serve_api, VH_API_RATE_LIMIT="100000", VH_API_RATE_BURST="100000")
    acme, globex = s.api.secrets["acme"], s.api.secrets["globex"]
    hashed = hashlib.sha256(acme.encode()).hexdigest()
    # (what, headers, query): each must be refused on every data route.
    attempts: list[tuple[str, list[tuple[str, bytes]], dict[str, str]]] = [
        ("no token", [], {}),
        ("empty header", [("Auth-API-Key", b"")], {}),
        ("empty query token", [], {"token": ""}),
        ("whitespace-only token", [], {"token": "  \t "}),
        ("Bearer scheme", [("Auth-API-Key", f"Bearer {acme}".encode())], {}),
        ("Authorization header", [("Authorization", f"Bearer {acme}".encode())], {}),
        ("inner whitespace", [("Auth-API-Key", f"{acme[:6]} {acme[6:]}".encode())], {}),
        ("unicode", [("Auth-API-Key", "t\u00f6k\u20acn\U0001f600".encode())], {}),
        ("unicode look-alike", [("Auth-API-Key", acme.replace("_", "\uff3f").encode())], {}),
        ("10 KB header token", [("Auth-API-Key", b"v" * 10_240)], {}),
        ("10 KB query token", [], {"api_key": "v" * 10_240}),
        ("one character changed", [("Auth-Token", (acme[:-1] + "A").encode())], {}),
        ("prefix of a token", [("Auth-Token", acme[:20].encode())], {}),
        ("upper-cased token", [("Auth-Token", acme.upper().encode())], {}),
        ("token with NUL", [], {"token": acme + "\x00"}),
        ("the stored SHA-256 instead", [("Auth-Token", hashed.encode())], {}),
        ("valid header, wrong query", [("Auth-API-Key", acme.encode())], {"token": "wrong"}),
        ("wrong header, valid query", [("Auth-API-Key", b"wrong")], {"api_key": acme}),
        ("two tenants' tokens", [("Auth-API-Key", acme.encode())], {"token": globex}),
        (
            "both headers, other tenant",
            [("Auth-API-Key", acme.encode()), ("Auth-Token", globex.encode())],
            {},
        ),
        ("repeated header", [("Auth-Token", acme.encode()), ("Auth-Token", b"x")], {}),
        ("repeated query token", [], {"token": acme, "api_key": "x"}),
    ]
    tally = Tally()
    refused = leaks = 0
    wrong: list[str] = []
    for what, headers, query in attempts:
        for method, path in (
            ("GET", "/visitors/Known"),
            ("GET", "/events/r-acme-00"),
            ("DELETE", "/visitors/Known"),
        ):
            hdrs = [(k.encode(), v) for k, v in headers]
            response = s.api.client.request(method, path, headers=hdrs, params=query)
            tally.seen(response.status_code)
            leaks += _leaks(response.text, s.all_ids)
            if response.status_code == 403:
                refused += 1
            else:
                wrong.append(f"{what}: {method} {path} -> {response.status_code}")
    # The same repeated query parameter with two values, which `params` cannot express.
    url = f"/visitors/Known?token={acme}&token=other"
    response = s.api.client.get(url)
    refused += tally.seen(response.status_code) == 403
    leaks += _leaks(response.text, s.all_ids)
    if response.status_code != 403:
        wrong.append(f"token given twice with two values -> {response.status_code}")
    # The same secret twice is not ambiguous.
    same = s.api.client.get(
        "/visitors/Known", headers={"Auth-API-Key": acme}, params={"api_key": acme}
    )
    tally.seen(same.status_code)
    assert wrong == [], "\n".join(wrong)
    assert leaks == 0
    assert same.status_code == 200  # also: no attempt erased the visitor

    # Revocation: a live token stops working within the refresh interval.
    client = s.p.client()
    try:

        def execute(sql: str, params: Any) -> Any:
            return client.execute(sql, params)

        token_id, fresh = tokens.create(execute, s.p.database, "acme", "revoked-soon")
        live = {"Auth-Token": fresh}

        def status() -> int:
            return tally.seen(s.api.client.get("/visitors/Known", headers=live).status_code)

        wait_until(lambda: status() == 200, timeout=10, what="the new token to work", every=0.05)
        assert tokens.revoke(execute, s.p.database, token_id)
        revoked_at = time.monotonic()
        wait_until(lambda: status() == 403, timeout=10, what="revocation", every=0.02)
        revocation_s = time.monotonic() - revoked_at
    finally:
        client.disconnect()
    for _ in range(5):  # and stays revoked
        refused += status() == 403

    tally.report(
        figures,
        **{
            "403s for auth bypass attempts (of bypass attempts)": refused,
            "auth bypass attempts made": len(attempts) * 3 + 1 + 5,
            "bypass attempts answered with data": leaks,
        },
    )
    figures.record(
        SECTION,
        f"seconds until a revoked token got 403 (VH_API_TOKEN_REFRESH_SECONDS={REFRESH_S})",
        revocation_s,
    )
    figures.note(
        SECTION,
        f"Auth bypass: {len(attempts)} kinds of bad credentials "
        f"({', '.join(a[0] for a in attempts)}), each on GET /visitors, GET /events and "
        "DELETE /visitors, plus a repeated `token` "
        "parameter and a revoked token. A request carrying several *different* credentials "
        "(a valid header next to a wrong query token, two tenants' tokens) is refused: before "
        "this suite the first header won, so a valid header let a wrong or another tenant's "
        "query token through.",
    )
    assert revocation_s <= REFRESH_S + 2.0


def test_another_tenants_token_never_reads_its_visits(
    pipeline_factory: Any, serve_api: Any, figures: Figures
) -> None:
    s = _setup(pipeline_factory, serve_api)
    tally = Tally()
    cross = 0
    tricks = [
        {},
        {"tenant": "globex"},
        {"workspaceId": "globex"},
        {"workspace_id": "globex"},
        {"from": "0", "limit": "500"},
    ]
    for tenant in TENANTS:
        other = next(t for t in TENANTS if t != tenant)
        headers = {**s.api.headers(tenant), "X-Tenant": other, "X-Workspace-Id": other}
        for visitor in ("Known", "Shared", "Theirs"):
            for params in tricks:
                response = s.api.client.get(f"/visitors/{visitor}", headers=headers, params=params)
                tally.seen(response.status_code)
                assert response.status_code in (200, 404), response.text
                body = response.json()
                returned = {v["requestId"] for v in body.get("visits", [])}
                cross += len(returned & s.ids[other]) + _leaks(response.text, s.ids[other])
        for rid in sorted(s.ids[other]):
            event = s.api.client.get(f"/events/{rid}", headers=headers)
            tally.seen(event.status_code)
            cross += _leaks(event.text, s.ids[other])
            assert event.status_code == 404, (tenant, rid, event.status_code)
        # DELETE of a visitor only the other tenant has: 404, and their data stays.
        only_theirs = "Theirs" if tenant == "acme" else "Known"
        erase = s.api.client.delete(f"/visitors/{only_theirs}", headers=headers)
        assert tally.seen(erase.status_code) == 404
    still = s.api.client.get("/visitors/Theirs", headers=s.api.headers("globex"))
    assert tally.seen(still.status_code) == 200
    assert {v["requestId"] for v in still.json()["visits"]} == {
        rid for rid in s.ids["globex"] if rid.startswith("r-globex-thei")
    }
    tally.report(figures, **{"cross-tenant reads (another tenant's visits returned)": cross})
    assert cross == 0


def test_path_tricks_get_400_or_404_and_no_data(
    pipeline_factory: Any, serve_api: Any, figures: Figures
) -> None:
    s = _setup(pipeline_factory, serve_api, VH_API_RATE_LIMIT="100000", VH_API_RATE_BURST="100000")
    where = urlsplit(str(s.api.client.base_url))
    tally = Tally()
    leaks = 0
    wrong: list[str] = []
    for path in PATH_TRICKS:
        for method in ("GET", "DELETE") if path.startswith("/visitors/") else ("GET",):
            # http.client sends the path byte for byte (httpx would normalise dot segments).
            conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
            try:
                conn.request(method, path, headers={"Auth-API-Key": s.api.secrets["acme"]})
                response = conn.getresponse()
                status, text = response.status, response.read().decode("utf-8", "replace")
            finally:
                conn.close()
            tally.seen(status)
            leaks += _leaks(text, s.all_ids)
            if status not in (400, 404):
                wrong.append(f"{method} {path[:80]} -> {status} {text[:200]}")
    # The data is still there (no trick erased it).
    known = s.api.client.get("/visitors/Known", headers=s.api.headers("acme"))
    assert tally.seen(known.status_code) == 200
    assert len(known.json()["visits"]) == 6
    tally.report(figures, **{"path tricks answered with data": leaks})
    figures.note(
        SECTION,
        f"Path tricks: {len(PATH_TRICKS)} raw paths (encoded and bare dot segments and slashes, "
        "NUL, CR LF, 10 KB ids, emoji, invalid UTF-8 escapes, SQL), GET and DELETE, sent byte "
        "for byte with a valid token: each must be 400 or 404 and carry no stored requestId.",
    )
    assert wrong == [], "\n".join(wrong)
    assert leaks == 0


def test_rate_limit_holds_under_a_burst(
    pipeline_factory: Any, serve_api: Any, figures: Figures
) -> None:
    rate, burst, sent = 5.0, 10, 120
    s = _setup(
        pipeline_factory, serve_api, VH_API_RATE_LIMIT=str(rate), VH_API_RATE_BURST=str(burst)
    )
    headers = s.api.headers("acme")
    tally = Tally()

    def one(_: int) -> httpx.Response:
        return s.api.client.get("/visitors/Known", headers=headers)

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(one, range(sent)))
    elapsed = time.monotonic() - started
    for r in responses:
        tally.seen(r.status_code)
    served = tally.statuses[200]
    limited = [r for r in responses if r.status_code == 429]
    allowed = burst + rate * elapsed + 1
    tally.report(figures, **{"429s (rate limit)": len(limited)})
    figures.note(
        SECTION,
        f"Rate limit: {sent} requests from 8 threads with one token in {elapsed:.2f} s, limit "
        f"{rate:g}/s with bursts of {burst}: {served} served (at most {allowed:.1f} allowed), "
        f"{len(limited)} answered 429 with Retry-After.",
    )
    assert served + len(limited) == sent, tally.statuses
    assert served <= allowed
    assert served >= burst
    for r in limited:
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json() == {"error": "too many requests"}
