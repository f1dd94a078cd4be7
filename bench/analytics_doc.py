"""docs/analytics.md from the "analytics" section's results: every question's SQL (as an
analyst pastes it), its answer on the demo data and its times on the benchmark's table."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from bench import analytics_data
from bench.bench_analytics import Results
from schemas.clickhouse import questions

RAW_TARGET_MS, VIEW_TARGET_MS = 1000.0, 100.0
SHOWN_ROWS = 8
COST = (
    "\n**What the views cost.** They hold `uniqCombined` states (migration 060; 031's held"
    " `uniq` ones): a small set of hashes for a small group, beyond 4,096 values a fixed"
    " HyperLogLog sketch of 2^17 cells, merged cell by cell. A question over a month merges"
    " every state it reads; as `uniq` states (up to 65,536 hashes a row, 256 KiB) that"
    " merging, not reading, was most of the time. Measured on 18.16 (2026-12-02, load about"
    " 12 on the 2 cores): 120 states of 55,000 distinct values each (a month of 4 countries"
    " of a 20M-visit tenant), merged by day, took 873 ms as `uniq`, 145 ms as `uniqCombined`"
    " and 14 ms as `uniqHLL12`; off the truth by 0.05%, 0.5% and 0.3% a day, 0.3%, 0.05%"
    " and 1.7% over the month. `uniqCombined` keeps every answer within 1%; the raw answers"
    " use it too, so views and raw agree row for row.\n"
)
DB = "visit_history"  # VH_CLICKHOUSE_DATABASE's default, in the SQL shown


def shown_sql(text: str, params: dict[str, Any]) -> str:
    return questions.pretty(questions.inline(text.format(db=DB), params))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value).replace("|", "\\|")


def _table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(_cell(v) for v in r) + " |\n" for r in rows[:SHOWN_ROWS])
    more = f"\n({len(rows)} rows; the first {SHOWN_ROWS} shown)\n" if len(rows) > SHOWN_ROWS else ""
    return head + body + more if rows else "(no rows)\n"


def _ms(value: float | None, best: float | None, target: float) -> str:
    if value is None or best is None:
        return "-"
    return f"{value:,.0f} ms (best {best:,.0f}) {'✓' if value < target else '✗'}"


def _times(results: Results, key: str) -> tuple[str, str]:
    return (
        _ms(results.raw_ms.get(key), results.raw_best_ms.get(key), RAW_TARGET_MS),
        _ms(results.view_ms.get(key), results.view_best_ms.get(key), VIEW_TARGET_MS),
    )


def summary(results: Results) -> str:
    """The times table alone (docs/benchmarks.md's section): median (fastest) per question,
    ✓ where the median meets its target, ✗ where it misses."""
    lines = [
        f"| question | raw visits ({results.rows:,} rows) | from the views |",
        "|---|---|---|",
    ]
    for n, q in enumerate(questions.QUESTIONS, 1):
        raw, view = _times(results, q.key)
        lines.append(f"| {n}. {q.title} | {raw} | {view} |")
    loads = "; ".join(results.loads)
    return "\n".join(lines) + f"\n\nLoad average (1/5/15 min) meanwhile: {loads}.\n"


def floors(results: Results) -> str:
    """What the raw answers cost, from the same run: reading against aggregating."""
    if not results.floor_ms:
        return ""

    def ms(key: str) -> str:
        median, best = results.floor_ms[key]
        return f"{median:,.0f} ms (best {best:,.0f})"

    daily = results.raw_ms.get("daily")
    n = next(i for i, q in enumerate(questions.QUESTIONS, 1) if q.key == "daily")
    return (
        "\n**What the raw answers cost**, on the same table in the same run: the window's "
        f"{results.window_rows:,} visits are read and counted in {ms('rows')}; counting their "
        f"distinct requestIds takes {ms('distinct')}, and by day, visits and visitors (question "
        f"{n} without its join to the erasures) {ms('daily_no_join')}"
        + (f", against {daily:,.0f} ms with it" if daily is not None else "")
        + ". Hashing and grouping millions of strings, not reading, is the raw answers' time; "
        "questions grouped by visitor keep a state per visitor, or per visitor and "
        "day. A raw answer under 1 s on such a window needs more cores or a faster engine; on "
        "this one, the views are the fast path.\n"
    )


#: Why a question misses its target from the views, by its key; the shares and the other
#: per-dimension questions share the default.
_VIEW_MISS = {
    "new_vs_returning": (
        "its *new* side folds `visitor_summary` by visitor over the tenant's whole history "
        "(every visitor, whatever the window) to find each one's first day: a state per "
        "visitor. A view cannot keep *first seen that day* itself (it sees one block, not "
        "whether the visitor came before); a table of visitors by first-seen day, kept by a "
        "periodic job, would make it a read of the window's days"
    ),
    "hourly": (
        "it merges 720 hourly states (30 days x 24) where the daily question merges 30, each "
        "a `uniqCombined` sketch of up to 2^17 cells: the merge, not the read. States of "
        "lower precision in `traffic_hourly` (`uniqCombined(12)`: 2^12 cells, about 1.6% "
        "standard error against 0.3%) would cut it about tenfold (the measurement above: "
        "`uniqHLL12`, the same size, 14 ms against 145): a decision on accuracy for the product"
    ),
}
_VIEW_MISS_DEFAULT = (
    "it merges one state per day and value of its dimension over the month (and, for the "
    "shares, the total's), each a sketch of up to 2^17 cells beyond 4,096 values; "
    "lower-precision states would cut it as for the hourly question"
)


def view_misses(results: Results) -> str:
    """Each question that misses its target from the views, with why and what would reach it."""
    lines = []
    for n, q in enumerate(questions.QUESTIONS, 1):
        ms = results.view_ms.get(q.key)
        if ms is not None and ms >= VIEW_TARGET_MS:
            lines.append(
                f"- {n}. {q.title}, {ms:,.0f} ms: {_VIEW_MISS.get(q.key, _VIEW_MISS_DEFAULT)}."
            )
    if not lines:
        return ""
    return "\n**Missed from the views**, and why:\n\n" + "\n".join(lines) + "\n"


def render(results: Results, quick: bool) -> str:
    """The whole of docs/analytics.md."""
    demo, bench = results.demo_params, results.bench_params
    out = [
        "# Analytics: the typical questions, as SQL\n\n",
        "Generated by `python -m bench --only analytics` (a section of `make bench`) on "
        f"{datetime.now(UTC):%Y-%m-%d}, ClickHouse {results.server}, {os.cpu_count()} cores"
        f"{', quick mode' if quick else ''}. Every query runs on ClickHouse 18.16 and on "
        "current servers (`tests/schemas/test_questions.py` runs each on both, and checks "
        "that the aggregates give the raw table's rows). Tables and columns: "
        "[schema.md](schema.md).\n\n",
        "**How they count.** A visit is a distinct `request_id` (`uniqCombined`: exact up to "
        "4,096 values, within about 1% beyond), so a copy Kafka "
        "delivered twice counts once; erased visits are left out through the `erasures` "
        "table, also while their deletion is still running. The *views* answers read the "
        "aggregates ClickHouse keeps (`traffic_daily`, `traffic_hourly`, `visitor_summary`), "
        "which hold the same counts as uniqCombined states (`uniqCombinedMerge`; "
        "`visitor_summary` keeps `uniq` states, `uniqMerge`).\n\n",
        f"**The demo data**: {results.demo_visits:,} stored visits over "
        f"{analytics_data.DAYS} days of `vh produce-demo` traffic (three tenants), 2% of "
        "them stored twice, one visitor erased, a few visitors roaming over addresses, one "
        f"account shared by four browsers (`bench/analytics_data.py`). Shown for tenant "
        f"`{demo['tenant']}`, {demo['start']} to {demo['end']}.\n\n",
        f"**The times**: median of repeated runs, one at a time, on the benchmark's visit table "
        f"({results.rows:,} visits over 90 days, built in {results.build_s:.0f} s), tenant "
        f"`{bench['tenant']}`, window {bench['start']} to {bench['end']} ({30} days). "
        f"Targets: under {RAW_TARGET_MS:.0f} ms raw, under {VIEW_TARGET_MS:.0f} ms from the "
        "views.\n\n",
        summary(results),
        floors(results),
        COST,
        view_misses(results),
    ]
    for n, q in enumerate(questions.QUESTIONS, 1):
        out.append(
            f"\n## {n}. {q.title}\n\nOn the raw visits:\n\n```sql\n{shown_sql(q.raw, demo)}\n```\n"
        )
        if q.view is not None:
            out.append(f"\nFrom the aggregates:\n\n```sql\n{shown_sql(q.view, demo)}\n```\n")
        columns, rows = results.demo[q.key]
        out.append(f"\nOn the demo data:\n\n{_table(columns, rows)}")
        if q.key == "bots_by_asn" and all(not r[0] for r in rows):
            out.append(
                "\nThe demo ran without an ASN database (`VH_GEOIP_ASN_DATABASE` unset), so"
                " every visit has `asn` 0 here; with one, each network is a row.\n"
            )
        raw, view = _times(results, q.key)
        times = f"raw {raw}" + (f", from the views {view}" if q.key in results.view_ms else "")
        out.append(f"\nTime on {results.rows:,} visits: {times}.\n")
    return "".join(out)
