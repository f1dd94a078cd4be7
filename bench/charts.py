"""The benchmark's pictures: PNGs written next to the report, one per question a reader asks.

- ingestion: events/s of each worker variant against its baselines (median bar, every run
  as a dot), so a regression or a noisy round shows at a glance;
- latency: p50 and p99 against answered req/s over the paced runs (10% to 100% of capacity)
  and the closed-loop runs, on log axes, with #15's targets drawn in;
- cpu: CPU milliseconds per request by process for every loaded route, the 2 ms target and
  the constant route's floor beside them.

Pure rendering from the results objects: no services, no timing. matplotlib's Agg backend
(no display); the files carry no timestamp, so a re-render of the same figures is the same
bytes and a diff of docs/ shows only real changes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from bench.bench_api import ApiResults, LoadRun
from bench.bench_ingest import IngestResults

#: (variant key, label) in the order the report's ingestion table lists them.
_VARIANTS = (
    ("workers1", "worker, 1 process"),
    ("workers2", "worker, 2 processes"),
    ("before15", "(d) without visit_pages view"),
    ("noenrich", "(a) enrichment off"),
    ("nostream", "(e) enriched stream off"),
    ("naive", "(b) naive loop"),
    ("bare", "(c) bare kafka-python"),
)
#: Process labels of the CPU samples (bench/cpu.py) and their colours.
_PROCESSES = (("API", "#4c72b0"), ("ClickHouse", "#dd8452"), ("other", "#a0a0a0"))
_DPI = 100
_TARGET = "#55a868"  # the colour of every target line


def _label_target(
    ax: Axes,
    text: str,
    at: tuple[float, float],
    coords: tuple[str, str],
    offset: tuple[float, float],
    ha: str,
) -> None:
    """A target line's label, ``offset`` points from ``at`` (in ``coords``: data or axes
    fraction, per axis, so it stays at the plot's edge whatever the data)."""
    ax.annotate(text, at, xycoords=coords, xytext=offset, textcoords="offset points", ha=ha,
                color=_TARGET, fontsize=8)  # fmt: skip


def write(out: Path, ingest: IngestResults | None, api: ApiResults | None) -> dict[str, str]:
    """Draw what the results hold next to ``out`` (``<stem>-<name>.png``); returns
    {name: file name} for the report to embed, relative to ``out``'s directory."""
    drawn: dict[str, str] = {}
    figures = {
        "ingestion": ingestion(ingest) if ingest is not None else None,
        "latency": latency(api) if api is not None else None,
        "cpu": cpu(api) if api is not None else None,
    }
    for name, fig in figures.items():
        if fig is None:
            continue
        path = out.with_name(f"{out.stem}-{name}.png")
        fig.savefig(path, dpi=_DPI, metadata={"Software": None})
        plt.close(fig)
        drawn[name] = path.name
    return drawn


def ingestion(res: IngestResults) -> Figure | None:
    """Horizontal bars: the median events/s of each variant, its runs as dots."""
    rows = [
        (label, [r.rate for r in res.runs[key]]) for key, label in _VARIANTS if res.runs.get(key)
    ]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.4), layout="constrained")
    ys = list(range(len(rows)))[::-1]
    medians = [res.median_rate(key) for key, _ in _VARIANTS if res.runs.get(key)]
    colours = ["#4c72b0" if label.startswith("worker") else "#a0a0a0" for label, _ in rows]
    ax.barh(ys, medians, color=colours, height=0.6)
    for y, (_, rates), median in zip(ys, rows, medians, strict=True):
        ax.scatter(rates, [y] * len(rates), color="black", s=12, zorder=3)
        ax.annotate(
            f"{median:,.0f}",
            (max(median, *rates), y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.set_yticks(ys, [label for label, _ in rows])
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("events/s (bar: median; dots: each run)")
    ax.set_xlim(0, max(max(r) for _, r in rows) * 1.18)
    ax.set_title(f"Ingestion, {res.settings.events:,} events, median of {res.settings.repeats}")
    ax.grid(axis="x", alpha=0.3)
    return fig


def latency(res: ApiResults) -> Figure | None:
    """p50 and p99 against answered req/s: the paced curve, then the closed-loop runs."""
    if not res.curve and not res.runs:
        return None
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    points = sorted(((r.rps, r, share) for share, _, r in res.curve), key=lambda p: p[0])
    if points:
        xs = [x for x, _, _ in points]
        ax.plot(xs, [r.p50 for _, r, _ in points], "o-", color="#4c72b0", label="p50, paced")
        ax.plot(xs, [r.p99 for _, r, _ in points], "s-", color="#c44e52", label="p99, paced")
        for x, r, share in points:
            ax.annotate(
                f"{share:.0%}",
                (x, r.p99),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    if res.runs:
        closed = (("p99", "#c44e52", "p99, closed loop (64 clients)"),
                  ("p50", "#4c72b0", "p50, closed loop"))  # fmt: skip
        for attr, colour, label in closed:
            ax.scatter([r.rps for r in res.runs], [getattr(r, attr) for r in res.runs],
                       marker="x", color=colour, s=50, label=label)  # fmt: skip
    ax.axhline(50, color=_TARGET, ls="--", lw=1)
    _label_target(ax, "target: p99 ≤ 50 ms at 50% of capacity", (1, 50), ("axes fraction", "data"),
                  (-4, 4), "right")  # fmt: skip
    ax.axvline(1000, color=_TARGET, ls=":", lw=1)
    _label_target(ax, "target: 1,000 req/s", (1000, 1), ("data", "axes fraction"), (-4, -14),
                  "right")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(left=min(5.0, *(p[0] for p in points)) if points else 5.0, right=2000)
    ax.set_xlabel("answered req/s (log)")
    ax.set_ylabel("latency ms (log)")
    ax.set_title("GET /visitors/{id}: latency against throughput")
    ax.grid(which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _cpu_rows(res: ApiResults) -> list[tuple[str, LoadRun]]:
    rows = []
    if res.runs:
        # The closed-loop run with the median throughput stands for them.
        rows.append(
            (
                "GET /visitors (closed loop)",
                sorted(res.runs, key=lambda r: r.rps)[len(res.runs) // 2],
            )
        )
    rows += [(f"GET /v4/events by {name}", r) for name, r in res.v4.items()]
    if res.floor_api is not None:
        rows.append(("GET /health (the API's floor)", res.floor_api))
    return [(label, r) for label, r in rows if r.cores and r.rps > 0]


def cpu(res: ApiResults) -> Figure | None:
    """Stacked bars: CPU ms per request of the API process, ClickHouse and the rest."""
    rows = _cpu_rows(res)
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.6), layout="constrained")
    ys = list(range(len(rows)))[::-1]
    left = [0.0] * len(rows)
    for process, colour in _PROCESSES:
        widths = [r.cores.get(process, 0.0) / r.rps * 1000 for _, r in rows]
        ax.barh(ys, widths, left=left, color=colour, height=0.6, label=process)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in zip(ys, left, strict=True):
        ax.annotate(
            f"{total:.1f} ms",
            (total, y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.axvline(2, color=_TARGET, ls="--", lw=1)
    _label_target(ax, "target: API + ClickHouse ≤ 2 ms", (2, 1), ("data", "axes fraction"),
                  (4, -12), "left")  # fmt: skip
    ax.set_yticks(ys, [label for label, _ in rows])
    ax.set_xlim(0, max(left) * 1.15)
    ax.set_xlabel("CPU ms per request (CPU seconds per second / req/s)")
    ax.set_title("CPU per request by process, under closed-loop load")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig
