"""The API section's issue-15 part: the latency-throughput curve, every error by kind, the
floors measured in the same run, v4's searches, and the targets with their reasons."""

from __future__ import annotations

import statistics
from typing import Any

from bench.bench_api import ApiResults, LoadRun


def _verdict(flag: bool) -> str:
    return "met" if flag else "**missed**"


#: What each status the API can send under load means (query_api/errors.py).
_MEANING = {
    "400": "a bad request: a defect of the request mix",
    "404": "no such route: a defect of the request mix",
    "429": "rate limited (the bench lifts the limit)",
    "500": "an unhandled error: a defect",
    "503": "ClickHouse failed, or no ClickHouse client came free within 5 s",
}


def _errors(r: LoadRun) -> str:
    kinds = {k: v for k, v in r.kinds.items() if v}
    text = ", ".join(f"{v} {k}" for k, v in kinds.items()) or "0"
    named = (
        f" ({', '.join(f'{n} x {code}' for code, n in r.statuses.items())})" if r.statuses else ""
    )
    return f"{text}; {r.non2xx} non-2xx{named}"


def _explained(runs: list[LoadRun]) -> str:
    """The statuses the API itself counted over ``runs``, each with what it means."""
    total: dict[str, int] = {}
    for r in runs:
        for code, n in (r.statuses or {}).items():
            total[code] = total.get(code, 0) + n
    if not total:
        return ""
    return (
        "The API's own count of its non-2xx answers (its /metrics, before and after each run): "
        + "; ".join(
            f"{n} x {code}, {_MEANING.get(code, 'unexpected: see var/bench-api.log')}"
            for code, n in sorted(total.items())
        )
        + ". It can exceed wrk's non-2xx: an answer sent after wrk gave up on the request "
        "is a `timeout` to wrk."
    )


def _ms_per_request(r: LoadRun, label: str) -> float:
    return r.cores.get(label, 0.0) / r.rps * 1000 if r.rps else 0.0


def section(res: ApiResults, pictures: dict[str, str] | None = None) -> str:
    """Markdown lines for the curve, errors, floors, v4 and the targets of #15; ``pictures``
    ({name: file}, bench/charts.py) adds the latency-throughput picture under its table."""
    capacity = res.median("rps")
    lines = [
        "### Latency against throughput",
        "",
        "Clients that each wait a random think time (uniform, mean under 2 s) so that "
        f"together they offer a share of the closed-loop capacity ({capacity:,.0f} req/s, the "
        f"median above); {res.settings.paced_seconds} s per point, at most "
        f"{res.settings.connections} clients:",
        "",
        "| offered share | clients | offered req/s | answered req/s | p50 ms | p99 ms | max ms "
        "| errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for share, offered, r in res.curve:
        lines.append(
            f"| {share:.0%} | {r.connections} | {offered:,.0f} | {r.rps:,.0f} | {r.p50:.1f} "
            f"| {r.p99:.1f} "
            f"| {r.max:.0f} | {_errors(r)} |"
        )
    if pictures and "latency" in pictures:
        lines += ["", f"![p50 and p99 against answered req/s]({pictures['latency']})"]
    runs = [*res.runs, *(r for _, _, r in res.curve)]
    errors = sum(sum(r.kinds.values()) + r.non2xx for r in runs)
    below = [r for share, _, r in res.curve if share < 1.0]
    below_errors = sum(sum(r.kinds.values()) + r.non2xx for r in below)
    lines += [
        "",
        f"Errors in every v3 run (closed-loop and paced): {errors}. wrk counts a `timeout` "
        "when no answer came within its 5 s `--timeout` (the request stays counted as sent), "
        "`read`/`write`/`connect` when the socket failed (a `read` error is also what wrk "
        "counts when the server closed a keep-alive connection idle for uvicorn's 5 s, which "
        "is why the paced clients think under 4 s); non-2xx are the API's own "
        "answers (a 503 when ClickHouse failed or the client pool stayed busy for 5 s). "
        f"Below capacity (shares under 100%): {below_errors}."
        + (
            " Every error came at or above capacity, where requests queue past wrk's timeout."
            if errors and not below_errors
            else ""
        )
        + (f" {_explained(runs)}" if _explained(runs) else ""),
        "",
        *_floors(res),
        "",
        *_v4(res),
        "",
        *_targets(res, below_errors),
    ]
    return "\n".join(lines) + "\n"


def _floors(res: ApiResults) -> list[str]:
    out = ["### The limits, measured in this run", ""]
    if res.floor_api is not None:
        f = res.floor_api
        capacity = res.median("rps")
        out += [
            f"- The API's own floor: GET /health (a constant, no ClickHouse), same closed-loop "
            f"load: {f.rps:,.0f} req/s, p99 {f.p99:.1f} ms, API CPU "
            f"{_ms_per_request(f, 'API'):.2f} ms per request. GET /visitors reached "
            f"{capacity / f.rps if f.rps else 0:.2f} of it.",
        ]
    if res.serial_ms:
        base = res.serial_ms.get("one column by primary key (visit_pages)", (0.0, 0.0))[1]
        out += [
            "- ClickHouse, serially (one visitor at a time, no load; median of 200 small "
            "visitors' default pages): client-side ms, and the server's own CPU per query "
            "(user + system time of its threads, `system.query_log` ProfileEvents, so other "
            "work on the machine does not inflate it):",
            "",
            "| statement | client ms | ClickHouse CPU ms | CPU ratio to the cheapest "
            "single-visitor read |",
            "|---|---|---|---|",
            *(
                f"| {name} | {ms:.2f} | {cpu:.2f} | {cpu / base if base else 0:.1f}x |"
                for name, (ms, cpu) in res.serial_ms.items()
            ),
        ]
    return out


def _v4(res: ApiResults) -> list[str]:
    if not res.v4:
        return []
    out = [
        "### v4 searches (GET /v4/events), closed loop, 64 clients",
        "",
        "| search | req/s | p50 ms | p99 ms | errors | API + ClickHouse CPU ms per request |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in res.v4.items():
        cpu = _ms_per_request(r, "API") + _ms_per_request(r, "ClickHouse")
        out.append(
            f"| {name} | {r.rps:,.0f} | {r.p50:.1f} | {r.p99:.1f} | {_errors(r)} | {cpu:.1f} |"
        )
    runs = list(res.v4.values())
    if any(sum(r.kinds.values()) + r.non2xx for r in runs):
        out += [
            "",
            "Each search runs closed-loop, so at its capacity: a `timeout` is a request that "
            "waited longer than wrk's 5 s in the queue of 64 clients (the searches whose p99 "
            "comes near 5 s are the ones that have them). " + _explained(runs),
        ]
    out += [
        "",
        "Rows read by each search follow its answer (the index rows of one key in one "
        "window): `tests/query_api/test_v4_read_rows.py` proves it on both engines; this run "
        "does not re-measure it.",
    ]
    return out


def _targets(res: ApiResults, below_errors: int) -> list[str]:
    runs = [r for r in res.runs if r.cores and r.rps]
    cpu: dict[str, Any] = {
        k: statistics.median(_ms_per_request(r, k) for r in runs) if runs else 0.0
        for k in ("API", "ClickHouse")
    }
    total = cpu["API"] + cpu["ClickHouse"]
    capacity = res.median("rps")
    half = next((r for share, _, r in res.curve if share == 0.5), None)
    v4_visitor = res.v4.get("visitor_id")
    reach = 2000 / total if total else 0.0
    return [
        "Targets of #15:",
        f"- GET /visitors ≥ 1,000 req/s: {capacity:,.0f} — {_verdict(capacity >= 1000)}",
        f"- API + ClickHouse CPU ≤ 2 ms per request: {total:.1f} ms (API {cpu['API']:.1f}, "
        f"ClickHouse {cpu['ClickHouse']:.1f}) — {_verdict(total <= 2)}",
        *(
            [
                f"- GET /v4/events?visitor_id= ≥ 1,000 req/s: {v4_visitor.rps:,.0f} — "
                f"{_verdict(v4_visitor.rps >= 1000)}"
            ]
            if v4_visitor is not None
            else []
        ),
        *(
            [f"- p99 ≤ 50 ms at 50% of capacity: {half.p99:.1f} ms — {_verdict(half.p99 <= 50)}"]
            if half is not None
            else []
        ),
        f"- no error below capacity: {below_errors} — {_verdict(below_errors == 0)}",
        "",
        f"Why: 2 cores hold at most {reach:,.0f} req/s at {total:.1f} CPU ms per request "
        "(less what wrk takes). ClickHouse 18.16 spends about as much on each table a query "
        "opens as on the rows it reads (the serial table above: the cheapest single-visitor "
        "read alone costs more ClickHouse CPU than 1,000 req/s on 2 cores leave per request); "
        "sending waiting pages together (`query_api.coalesce`) shares those opens among the "
        "pages of one statement. What would reach 1,000 req/s: fewer tables per page (the "
        "summaries and the erasure folded into one small-granule per-visitor table: -30% "
        "measured by hand, bench/profiling.md), larger batches, API processes beside it "
        "(`vh api --workers 2`), more cores, or a current ClickHouse server.",
        *_tail(res, half),
        *_v4_why(res, total),
    ]


def _v4_why(res: ApiResults, v3_ms: float) -> list[str]:
    """Why v4's visitor search costs more per request than a v3 page, from the same run."""
    r = res.v4.get("visitor_id")
    if r is None or r.rps >= 1000 or not r.cores:
        return []
    ms = _ms_per_request(r, "API") + _ms_per_request(r, "ClickHouse")
    ratio = f", {ms / v3_ms:.1f}x a v3 page's {v3_ms:.1f}" if v3_ms else ""
    return [
        "",
        f"Why GET /v4/events?visitor_id= is at {r.rps:,.0f} req/s: {ms:.1f} CPU ms per "
        f"request (API + ClickHouse){ratio}, so 2 cores hold at most {2000 / ms:,.0f}. A v4 "
        "page is several statements run one after another (`query_api.v4.events`: the "
        "visitor's state, for v4's `visitor_not_found`; the candidates from `event_index`; "
        "their bodies from `visit_pages`; their PATCH updates; each visitor's history as of "
        "the event, for `identification`), each opening its own tables, where a v3 page is "
        "one UNION statement that waiting pages share (`query_api.coalesce`); searches by IP "
        "range or time window read the time line in growing slices, a statement per slice. "
        "What would reach 1,000 req/s: the page's statements folded into one, as v3's were "
        "(30.5 -> 14.5 ms of ClickHouse CPU, bench/profiling.md), coalesced like v3's, then "
        "the same cuts as v3 above.",
    ]


def _tail(res: ApiResults, half: LoadRun | None) -> list[str]:
    """Why p99 at half of capacity misses 50 ms, from the curve's own lightest point."""
    if half is None or half.p99 <= 50 or not res.curve:
        return []
    share, _, low = min(res.curve, key=lambda point: point[0])
    return [
        "",
        f"Why p99 at 50% of capacity is {half.p99:.0f} ms: the tail is there before any "
        f"queue. At {share:.0%} of capacity ({low.rps:,.0f} req/s, the cores mostly idle) "
        f"p99 was already {low.p99:.0f} ms (p50 {low.p50:.0f}): one request in a hundred "
        "costs that much served nearly alone (the mix holds huge visitors' 90-day windows of "
        f"100 visits); from {share:.0%} to 50% queueing on the 2 shared cores added "
        f"{half.p99 - low.p99:.0f} ms. What would reach 50 ms: less work per request (the "
        "same cuts as above shorten the costly pages and the queue together), or a smaller "
        "default page for the costliest requests.",
    ]
