"""The reliability report is rewritten by a full faults run only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import report


def test_a_partial_run_leaves_the_document_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text("the last full run\n")
    monkeypatch.setattr(report, "DOC", doc)
    figures = report.Figures()
    figures.record("crash", "events", 1)
    said = report.write(figures, {"crash": "passed"})
    assert doc.read_text() == "the last full run\n"
    assert "partial" in said and "hostile_events" in said
    for key in report.SECTIONS:
        figures.record(key, "figure", 1)
    report.write(figures, dict.fromkeys(report.SECTIONS, "passed"))
    text = doc.read_text()
    assert all(f"## {title}" in text for title in report.SECTIONS.values())
    assert "Not run" not in text
