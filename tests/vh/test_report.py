"""``vh report`` on the real server, opened in Debian's headless Chromium: one page that
needs no network, every chart drawn with marks of non-zero size, no script error, and the
screenshot shows the bars."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import browser
from tests.support.analytics import TENANT, Db, insert, make_visits
from tests.support.services import ClickHouseEndpoint
from vh import report_html
from vh.main import main

CHARTS = 7


@pytest.fixture
def page(
    ch_client: Any, ch_database: str, clickhouse_endpoint: ClickHouseEndpoint, tmp_path: Path
) -> Path:
    db = Db(ch_client.execute, ch_database)
    rows = make_visits()
    insert(db, rows)
    insert(db, rows[:50])  # redelivered
    out = tmp_path / "report.html"
    environ = {
        "VH_CLICKHOUSE_HOST": clickhouse_endpoint.host,
        "VH_CLICKHOUSE_PORT": str(clickhouse_endpoint.port),
        "VH_CLICKHOUSE_DATABASE": ch_database,
    }
    argv = ["report", "--tenant", TENANT, "--days", "4", "--end", "2026-01-04", "--out", str(out)]
    assert main(argv, environ) == 0
    return out


def test_the_page_is_self_contained_and_shows_its_sql(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://|<link|\bsrc=|url\(|@import", html), "reaches the network"
    assert html.count('<svg class="chart"') == CHARTS
    assert html.count("<summary>SQL</summary>") == CHARTS
    assert (
        "FROM vh_test_" in html and "traffic_daily" in html and "uniqCombinedMerge(visits)" in html
    )
    assert "2026-01-01 to 2026-01-04" in html


def test_chromium_draws_every_chart_without_errors(page: Path, tmp_path: Path) -> None:
    body = browser.body_attributes(page)
    assert (body.get("data-drawn"), body.get("data-errors")) == (str(CHARTS), "0"), body
    shot = tmp_path / "report.png"
    browser.screenshot(page, shot)
    colours = browser.pixels(shot)
    bars = sum(1 for p in colours if p == (0x3B, 0x6F, 0xB6))  # COLOURS[0], the first series
    assert bars > 20_000, f"only {bars} pixels of bar colour in the screenshot"


def test_the_check_would_see_a_script_error(page: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    text = page.read_text(encoding="utf-8")
    broken.write_text(text.replace("</body>", "<script>undefinedFunction();</script></body>"))
    assert browser.body_attributes(broken)["data-errors"] == "1"
    assert report_html.COLOURS[0] == "#3b6fb6"
