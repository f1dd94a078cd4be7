"""The ``vh report`` page: charts as inline SVG drawn here, the SQL behind each, one file that
needs no network (no scripts, styles or fonts from elsewhere). Pure: data in, HTML out.

A few lines of inline script only check the page once it is shown: they count, per chart,
the marks the browser laid out with a non-zero size, and record script errors, into
``<body data-drawn=... data-errors=...>`` (what the headless-browser test reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

WIDTH: Final = 760
COLOURS: Final = ("#3b6fb6", "#e08a2b", "#5a9e4b", "#b04a7a")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """``columns``: bars over ``labels`` (grouped, or ``stacked``); ``ranking``: one
    horizontal bar per label of the first series, with ``notes`` beside each."""

    title: str
    kind: str  # "columns" | "ranking"
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    sql: str
    stacked: bool = False
    unit: str = ""
    notes: tuple[str, ...] = ()


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:.2f}"


def _columns(chart: Chart) -> str:
    height, left, bottom, top = 240, 56, 40, 12
    plot_w, plot_h = WIDTH - left - 12, height - bottom - top
    n = max(len(chart.labels), 1)
    sums = [
        sum(s.values[i] for s in chart.series) if chart.stacked else max(
            s.values[i] for s in chart.series)
        for i in range(len(chart.labels))
    ]  # fmt: skip
    peak = max([*sums, 1e-9])
    slot = plot_w / n
    groups = 1 if chart.stacked else len(chart.series)
    bar = max(slot * 0.8 / groups, 1.0)
    axis = top + plot_h
    parts = [
        f'<line x1="{left}" y1="{axis}" x2="{WIDTH - 12}" y2="{axis}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{_fmt(peak)}{chart.unit}</text>',
        f'<text x="{left - 6}" y="{axis}" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(chart.labels):
        base: float = axis
        for k, s in enumerate(chart.series):
            h = plot_h * s.values[i] / peak
            x = left + i * slot + slot * 0.1 + (0 if chart.stacked else k * bar)
            y = base - h
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{COLOURS[k % len(COLOURS)]}"><title>{escape(label)} {escape(s.name)}:'
                f" {_fmt(s.values[i])}{chart.unit}</title></rect>"
            )
            if chart.stacked:
                base = y
        if n <= 16 or i % max(n // 8, 1) == 0:
            parts.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - bottom + 16}"'
                f' text-anchor="middle">{escape(label[5:] if len(label) == 10 else label)}</text>'
            )
    legend = "".join(
        f'<rect x="{left + 130 * k}" y="{height - 14}" width="10" height="10"'
        f' fill="{COLOURS[k % len(COLOURS)]}"/><text x="{left + 130 * k + 14}"'
        f' y="{height - 5}">{escape(s.name)}</text>'
        for k, s in enumerate(chart.series)
    )
    return _svg(height, "".join(parts) + legend)


def _ranking(chart: Chart) -> str:
    row, label_w = 24, 170
    values = chart.series[0].values
    height = max(row * len(chart.labels), row) + 8
    peak = max([*values, 1e-9])
    parts = []
    for i, (label, value) in enumerate(zip(chart.labels, values, strict=True)):
        y = 4 + i * row
        w = (WIDTH - label_w - 150) * value / peak
        note = chart.notes[i] if i < len(chart.notes) else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label or "(unknown)")}'
            f'</text><rect class="mark" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16"'
            f' fill="{COLOURS[0]}"><title>{escape(label)}: {_fmt(value)}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_fmt(value)}{chart.unit}'
            f" {escape(note)}</text>"
        )
    return _svg(height, "".join(parts))


def _svg(height: int, body: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
        f' role="img">{body}</svg>'
    )


_STYLE: Final = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 800px; color: #222 }
h1 { font-size: 22px } h2 { font-size: 17px; margin-top: 32px }
svg text { font-size: 11px; fill: #444 }
pre { background: #f5f5f5; padding: 8px; overflow-x: auto; font-size: 12px }
.empty { color: #888 } footer { color: #888; margin-top: 40px; font-size: 12px }
"""
_CHECK: Final = """
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
var original = console.error;
console.error = function () { window.__errors.push(Array.from(arguments).join(' '));
  original.apply(console, arguments); };
window.addEventListener('load', function () {
  var drawn = 0;
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var marks = Array.from(svg.querySelectorAll('.mark')).filter(function (m) {
      var box = m.getBBox(); return box.width > 0 && box.height > 0; });
    svg.setAttribute('data-marks', String(marks.length));
    if (marks.length > 0) { drawn += 1; }
  });
  document.body.setAttribute('data-drawn', String(drawn));
  document.body.setAttribute('data-errors', String(window.__errors.length));
  document.body.setAttribute('data-error-text', window.__errors.join(' | '));
});
"""


def render(title: str, subtitle: str, charts: Sequence[Chart], footer: str) -> str:
    """The whole page. A chart without data shows a line saying so (and no SVG)."""
    sections = []
    for chart in charts:
        if not chart.labels:
            drawing = '<p class="empty">no visits in this window</p>'
        else:
            drawing = _ranking(chart) if chart.kind == "ranking" else _columns(chart)
        sections.append(
            f"<section><h2>{escape(chart.title)}</h2>{drawing}<details><summary>SQL</summary>"
            f"<pre>{escape(chart.sql)}</pre></details></section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style><script>{_CHECK}</script>"
        f"</head><body><h1>{escape(title)}</h1><p>{escape(subtitle)}</p>"
        + "".join(sections)
        + f"<footer>{escape(footer)}</footer></body></html>\n"
    )
