"""``vh report --tenant T --days N [--out file.html]``: one self-contained HTML page of a
tenant's traffic (by day, top countries, browsers, OS and devices, bot share, new versus
returning), each chart with the SQL behind it, read from the aggregates ClickHouse keeps."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.config import IngestConfig
from ingest.writer import ClickHouseWriter
from schemas.clickhouse import questions
from schemas.clickhouse.layout import Layout
from vh.commands import Subparsers, command
from vh.report_html import Chart, Series, render

logger = logging.getLogger(__name__)

#: The questions the page draws, each answered from the aggregates.
KEYS = (
    "daily", "country_share", "browser_share", "os_share", "device_share", "bots_incognito",
    "new_vs_returning",
)  # fmt: skip
TOP = 10


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "report",
        run,
        "write a tenant's traffic report as one HTML page",
        "Traffic by day, top countries, browsers, OS and devices, bot share and new versus "
        "returning visitors of the last N days (UTC), with the SQL behind each chart; the page "
        "needs no network to open.",
    )
    parser.add_argument("--tenant", default="demo", help="workspace id (demo)")
    parser.add_argument("--days", type=int, default=14, help="how many days, ending today (14)")
    parser.add_argument("--end", type=date.fromisoformat, help="last day, YYYY-MM-DD (today)")
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="(report.html)")


def window(days: int, end: date | None, today: date) -> dict[str, Any]:
    """The questions' window parameters: ``days`` days ending ``end`` (default today)."""
    if days < 1:
        raise ValueError("--days must be at least 1")
    last = end or today
    return {"start": (last - timedelta(days=days - 1)).isoformat(), "end": last.isoformat()}


def charts(answers: dict[str, list[tuple[Any, ...]]], sql: dict[str, str]) -> list[Chart]:
    """The page's charts from each question's rows (the columns ``questions`` gives)."""

    def days(key: str, *columns: tuple[str, int], stacked: bool = False, unit: str = "") -> Chart:
        rows = answers[key]
        series = tuple(Series(n, tuple(float(r[i]) for r in rows)) for n, i in columns)
        title = questions.BY_KEY[key].title
        return Chart(title, "columns", tuple(str(r[0]) for r in rows), series, sql[key],
                     stacked=stacked, unit=unit)  # fmt: skip

    def ranking(key: str, what: str) -> Chart:
        rows = answers[key][:TOP]
        return Chart(
            f"Top {what} (visits)", "ranking", tuple(str(r[0]) for r in rows),
            (Series("visits", tuple(float(r[1]) for r in rows)),), sql[key],
            notes=tuple(f"({float(r[3]):.1f}%)" for r in rows),
        )  # fmt: skip

    return [
        days("daily", ("visits", 1), ("visitors", 2)),
        ranking("country_share", "countries"),
        ranking("browser_share", "browsers"),
        ranking("os_share", "operating systems"),
        ranking("device_share", "devices"),
        days("bots_incognito", ("bot share", 3), ("incognito share", 5), unit="%"),
        days("new_vs_returning", ("new", 2), ("returning", 3), stacked=True),
    ]


def run(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    params = {"tenant": args.tenant, "least": 2, **window(args.days, args.end, _today())}
    answers, sql = {}, {}
    with ClickHouseWriter.from_config(config) as writer:
        for key in KEYS:
            statement = questions.BY_KEY[key].statements(writer.layout, params)[-1]
            answers[key] = writer.run(statement)
            shown = Layout(config.clickhouse.database)
            text = questions.BY_KEY[key].statements(shown, params)[-1].sql
            sql[key] = questions.pretty(questions.inline(text, params))
    page = render(
        f"Traffic of {args.tenant}",
        f"{params['start']} to {params['end']} (UTC), from the aggregates of ClickHouse"
        f" database {config.clickhouse.database}. A visit is a distinct requestId.",
        charts(answers, sql),
        f"Written by vh report at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
    )
    args.out.write_text(page, encoding="utf-8")
    print(f"written to {args.out}: open it in a browser (file://{args.out.resolve()})")
    return 0


def _today() -> date:
    return datetime.now(UTC).date()
