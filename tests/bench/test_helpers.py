"""The benchmark's pure helpers: request mix, wrk script, memory curves, report rendering.

No services and no timing: the benchmark itself is ``python -m bench``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl

from bench import api_data, report, soak
from bench.bench_api import ApiResults, LoadRun, ReadRows
from bench.bench_api import Settings as ApiSettings
from bench.bench_ingest import IngestResults, Run
from bench.bench_ingest import Settings as IngestSettings
from bench.rss import Curve
from query_api.params import visit_query

ANCHOR = 1_750_000_000_000


def test_request_mix_names_known_visitors_with_valid_parameters() -> None:
    tiers = api_data.Tiers(2_000_000)
    mix = api_data.request_mix(2_000_000, ANCHOR, 500)
    assert {r.tier for r in mix} == {"small", "medium", "huge"}
    for r in mix:
        path, _, qs = r.path.partition("?")
        visitor = path.removeprefix("/visitors/")
        k = int(visitor[1:].removesuffix("Xq7Rb2"))
        assert visitor[0] == r.tier[0] and 0 <= k < getattr(tiers, r.tier)
        # Every path is one the API accepts (no 400 skews the load figures).
        visit_query(visitor, dict(parse_qsl(qs)), now_ms=ANCHOR, default_limit=100, max_limit=500)


def test_request_mix_is_deterministic() -> None:
    assert api_data.request_mix(1000, ANCHOR, 50) == api_data.request_mix(1000, ANCHOR, 50)


def test_tiers_keep_a_heavy_head() -> None:
    t = api_data.Tiers(20_000_000)
    assert t.small > 1_000_000
    assert t.visits_per("huge") >= 1000 > t.visits_per("medium") > 10 * t.visits_per("small")


def test_insert_sql_targets_the_database_and_row_count() -> None:
    sql = api_data.insert_sql("bench_x", 1234, ANCHOR, millisecond_time=False)
    assert "INSERT INTO bench_x.visits" in sql and "LIMIT 1234" in sql
    assert "toDateTime(intDiv(ts, 1000)) AS time" in sql
    assert "ts AS time" in api_data.insert_sql("d", 1, ANCHOR, millisecond_time=True)


def test_wrk_script_reads_paths_and_prints_json() -> None:
    lua = api_data.wrk_script("/tmp/paths.txt", "vh_secret")
    assert 'io.lines("/tmp/paths.txt")' in lua
    assert 'wrk.headers["Auth-Token"] = "vh_secret"' in lua
    assert "WRK_JSON" in lua and "latency:percentile(99)" in lua


def test_curve_warmup_and_points() -> None:
    curve = Curve("w", [(float(t), 100.0 + t) for t in range(101)])
    assert curve.peak == 200.0
    assert curve.after_warmup() == (125.0, 200.0)
    assert curve.points(5) == [100.0, 125.0, 150.0, 175.0, 200.0]
    assert Curve("empty").points() == [] and Curve("empty").after_warmup() == (0.0, 0.0)
    # Peaks of the two halves after the first quarter: [25, 62.5) and [62.5, 100].
    assert curve.halves() == (162.0, 200.0)


def _ingest() -> IngestResults:
    res = IngestResults(IngestSettings(1000, 6, 100, 3, 100), payload_bytes=360_000)
    res.runs = {
        "workers1": [
            Run(1000, 0.1, {"workers": 0.8, "ClickHouse": 0.4, "Kafka": 0.0}),  # median 10,000/s
            Run(1000, 0.05),
            Run(1000, 0.2),
        ],
        "workers2": [Run(1000, 0.06)],
        "noenrich": [Run(1000, 0.08)],
        "naive": [Run(100, 0.1)],
        "bare": [Run(1000, 0.01)],
        "before15": [Run(1000, 0.095)],
        "nostream": [Run(1000, 0.05)],
    }
    res.memory = {"workers1": [Curve("workers1 #1", [(0.0, 10.0), (1.0, 150.0), (2.0, 160.0)])]}
    return res


def test_ingest_section_ratios_and_targets() -> None:
    text = report.ingest_section(_ingest())
    assert "| Worker, 1 process | 10,000 | 10,000, 20,000, 5,000 | 1.00 |" in text
    assert "1 process ≥ 0.7 of (a): 0.80 — met" in text
    assert "1 process ≥ 10x (b): 10.0x — met" in text
    assert "2 processes ≥ 1.6x 1 process: 1.67x — met" in text
    assert "fraction of (c), the client's ceiling: 0.10" in text
    # 80 µs worker + 40 µs ClickHouse per event: the machine's cores cap every worker count.
    assert f"{os.cpu_count()} cores therefore ingest at most" in text
    assert "10x (b) is 10,000 events/s, 0.10 of what kafka-python alone delivers" in text
    assert "1 process within 10% of (d), before #15's view: 0.95 — met" in text
    assert "| (e) worker, enriched stream off | 20,000 | 20,000 | 1 process = 0.50 of (e) |" in text
    assert "the stream costs 50% of (e)'s events/s" in text
    # Every variant has its own letter.
    letters = re.findall(r"^\| \(([a-z])\) ", text, re.M)
    assert sorted(letters) == sorted(set(letters)) == list("abcde")


def test_api_and_memory_sections() -> None:
    api = ApiResults(ApiSettings(1_000_000, 10, 1), visitors=75_000)
    api.runs = [LoadRun(1000, 10.0, 0, 0, 5.0, 9.0, 30.0, 40.0, {"API": 0.3, "ClickHouse": 1.5})]
    api.paced = LoadRun(500, 10.0, 0, 0, 4.0, 6.0, 8.0, 12.0, connections=64)
    api.paced_offered_rps = 50.0
    api.column_cost = {2: 3.0, 28: 9.5}
    api.read_rows = [ReadRows("small", 10, 13.0, 2048.0, 4096.0, 4096, 3.0)]
    api.scaling = {100_000: {"small": [2048], "huge": [4096]}, 1_000_000: {"small": [2048]}}
    api.memory = [Curve("API", [(0.0, 70.0), (1.0, 72.0)])]
    text = report.api_section(api)
    assert "| **median** | **100** | **5.0** | **9.0** | **30.0** |" in text
    assert "p99 under 20 ms (64 closed-loop clients): median p99 30.0 ms" in text
    assert "**missed**" in text and "for reference: p99 8.0 ms" in text
    assert "| small | 2,048 | 2,048 | 1.00x |" in text
    assert "| 64 clients paced to ~50 req/s (50% of the median) | 50 | 4.0 | 6.0 | 8.0 |" in text
    assert "| API process | 0.30 | 3.00 |" in text and "| ClickHouse | 1.50 | 15.00 |" in text
    assert "must answer 3,200 req/s; at the measured 18.0 CPU ms" in text  # 58 cores
    assert "about 0.25 ms per column" in text
    memory = report.memory_section(_ingest(), api)
    assert "highest peak VmRSS 160 MiB — met" in memory


def test_soak_minute_peaks_slope_and_verdicts() -> None:
    # 6 minutes at one sample per second: saw-tooth 200-220 MiB, flat; then the same growing.
    flat = Curve("w", [(float(t), 200.0 + t % 20) for t in range(360)], [150.0] * 360)
    res = soak.SoakResult(6, 1000, 360_000, 360_000, 360_000, flat)
    assert [round(rss) for rss, _ in res.minute_peaks()] == [219] * 6
    assert res.slope() == 0.0
    text = soak.render(report.Machine.probe("18.16.1"), res)
    assert "| 6 | 219 | 150 | 0 |" in text and "peak 219 MiB — met" in text
    assert "flat after warm-up" in text and "**missed**" not in text
    leaking = Curve("w", [(float(t), 200.0 + t / 6) for t in range(360)], [150.0] * 360)
    grown = soak.SoakResult(6, 1000, 360_000, 360_000, 360_000, leaking, [(61.0, 5000.0)])
    assert grown.minute_lag() == [0.0, 5000.0, 0.0, 0.0, 0.0, 0.0]
    assert round(grown.slope(), 1) == 10.0  # 10 MiB per minute
    assert grown.slope_error() < 0.1 and res.slope_error() == 0.0
    assert "**missed**" in soak.render(report.Machine.probe("18.16.1"), grown)


def test_the_curve_errors_floors_and_targets_of_issue_15() -> None:
    api = ApiResults(ApiSettings(1_000_000, 10, 1))
    cores = {"API": 0.3, "ClickHouse": 1.5}
    api.runs = [LoadRun(1000, 10.0, 3, 0, 5.0, 9.0, 30.0, 40.0, cores, {"timeout": 3})]
    half = LoadRun(500, 10.0, 0, 0, 4.0, 6.0, 8.0, 12.0, connections=64, statuses={})
    full = LoadRun(
        900, 10.0, 2, 1, 4.0, 6.0, 80.0, 120.0, kinds={"read": 2}, connections=64,
        statuses={"503": 1},
    )  # fmt: skip
    api.curve = [(0.5, 50.0, half), (1.0, 100.0, full)]
    api.floor_api = LoadRun(20_000, 10.0, 0, 0, 1.0, 2.0, 3.0, 4.0, {"API": 0.9})
    api.serial_ms = {"one column by primary key (visit_pages)": (4.0, 2.0), "page": (9.0, 10.0)}
    api.v4 = {"visitor_id": LoadRun(300, 10.0, 0, 0, 9.0, 9.0, 50.0, 60.0, cores)}
    text = report.api_section(api)
    assert "| 50% | 64 | 50 | 50 | 4.0 | 8.0 | 12 | 0; 0 non-2xx |" in text
    assert "| 100% | 64 | 100 | 90 | 4.0 | 80.0 | 120 | 2 read; 1 non-2xx (1 x 503) |" in text
    # Each non-2xx is named by the API's own count, with what it means.
    assert "non-2xx answers (its /metrics, before and after each run): 1 x 503, ClickHouse" in text
    # 3 timeouts closed-loop, 2 read errors and a non-2xx at capacity; none below it.
    assert "Errors in every v3 run (closed-loop and paced): 6." in text
    assert "Below capacity (shares under 100%): 0. Every error came at or above" in text
    assert "2,000 req/s, p99 3.0 ms, API CPU 0.45 ms per request" in text
    assert "GET /visitors reached 0.05 of it" in text
    assert "| page | 9.00 | 10.00 | 5.0x |" in text
    assert "| visitor_id | 30 | 9.0 | 50.0 | 0; 0 non-2xx | 60.0 |" in text
    assert "GET /visitors ≥ 1,000 req/s: 100 — **missed**" in text
    assert "API + ClickHouse CPU ≤ 2 ms per request: 18.0 ms" in text
    assert "p99 ≤ 50 ms at 50% of capacity: 8.0 ms — met" in text
    assert "no error below capacity: 0 — met" in text
    assert "Why p99 at 50% of capacity" not in text  # met: nothing to explain
    # v4's miss explained from its own CPU per request against a v3 page's, same run.
    assert (
        "Why GET /v4/events?visitor_id= is at 30 req/s: 60.0 CPU ms per request (API + "
        "ClickHouse), 3.3x a v3 page's 18.0, so 2 cores hold at most 33." in text
    )


def test_a_missed_tail_is_explained_from_the_lightest_point_of_the_curve() -> None:
    api = ApiResults(ApiSettings(1_000_000, 10, 1))
    api.runs = [LoadRun(1000, 10.0, 0, 0, 5.0, 9.0, 30.0, 40.0, {"API": 0.3, "ClickHouse": 1.5})]
    low = LoadRun(170, 10.0, 0, 0, 20.0, 30.0, 61.0, 70.0, connections=40)
    half = LoadRun(880, 10.0, 0, 0, 70.0, 150.0, 223.0, 240.0, connections=64)
    api.curve = [(0.1, 20.0, low), (0.5, 100.0, half)]
    slow = LoadRun(190, 10.0, 15, 7, 2000.0, 4000.0, 4950.0, 5000.0,
                   kinds={"timeout": 15}, statuses={"503": 7})  # fmt: skip
    api.v4 = {"ip range (/24)": slow}
    text = report.api_section(api)
    assert "Why p99 at 50% of capacity is 223 ms" in text
    assert "At 10% of capacity (17 req/s, the cores mostly idle) p99 was already 61 ms" in text
    assert "queueing on the 2 shared cores added 162 ms" in text
    assert "| ip range (/24) | 19 | 2000.0 | 4950.0 | 15 timeout; 7 non-2xx (7 x 503) |" in text
    assert "waited longer than wrk's 5 s" in text and "7 x 503, ClickHouse failed" in text


def test_non_2xx_answers_are_the_growth_of_the_api_counters_between_scrapes() -> None:
    from bench.bench_api import _non2xx

    before = {"200": 10, "503": 1}
    after = {"200": 900, "503": 4, "400": 2, "404": 0}
    assert _non2xx(before, after) == {"400": 2, "503": 3}
    assert _non2xx(before, before) == {}
    assert _non2xx(None, after) is None  # the API did not answer: unknown, not zero


def test_a_run_of_some_sections_leaves_docs_benchmarks_alone() -> None:
    from pathlib import Path

    from bench.__main__ import OUT, PARTIAL_OUT, SECTIONS, report_path

    assert report_path(set(SECTIONS), None) == OUT
    assert report_path({"analytics"}, None) == PARTIAL_OUT != OUT
    assert report_path({"analytics"}, Path("x.md")) == Path("x.md")


def test_the_pictures_draw_what_the_results_hold_and_the_report_embeds_them(
    tmp_path: Path,
) -> None:
    from PIL import Image

    from bench import charts

    api = ApiResults(ApiSettings(1_000_000, 10, 1))
    cores = {"API": 0.5, "ClickHouse": 1.3, "other": 0.1}
    api.runs = [LoadRun(2000, 10.0, 0, 0, 300.0, 500.0, 600.0, 700.0, cores)]
    api.curve = [
        (share, 200 * share, LoadRun(int(2000 * share), 10.0, 0, 0, 20 + 80 * share, 0.0,
                                     60 + 200 * share, 300.0, connections=64))
        for share in (0.1, 0.25, 0.5, 0.75, 1.0)
    ]  # fmt: skip
    api.floor_api = LoadRun(40_000, 10.0, 0, 0, 1.0, 2.0, 3.0, 4.0, {"API": 0.9})
    api.v4 = {"linked_id": LoadRun(800, 10.0, 0, 0, 9.0, 9.0, 50.0, 60.0, cores)}
    out = tmp_path / "benchmarks.md"
    drawn = charts.write(out, _ingest(), api)
    assert drawn == {
        "ingestion": "benchmarks-ingestion.png",
        "latency": "benchmarks-latency.png",
        "cpu": "benchmarks-cpu.png",
    }
    for name in drawn.values():
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.width >= 600 and image.height >= 200
            # Drawn, not blank: bars, lines and text leave many colours on the white.
            colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is not None and len(colours) > 50
    # Only what was measured is drawn: no API results, no API pictures.
    assert charts.write(tmp_path / "partial.md", _ingest(), None) == {
        "ingestion": "partial-ingestion.png"
    }
    text = report.render(
        report.Machine.probe("18.16.1"), True, 60.0, _ingest(), api, None, None, drawn
    )
    for name in drawn.values():
        assert f"]({name})" in text
    # Each picture sits in its own section.
    ingest_part, api_part = text.split("## API: GET /visitors/{id} under load")
    assert "benchmarks-ingestion.png" in ingest_part and "benchmarks-cpu.png" in api_part
    assert api_part.index("### Latency against throughput") < api_part.index("-latency.png")
