"""`make bench`'s chart, drawn from the run the docs cite: one SVG with a row per scenario
and book size, its ratio and target, and the same bytes every time."""

import json
from pathlib import Path

from bench import RESULTS, report

CITED = RESULTS / "20261202T214217Z.json"


def test_a_runs_chart_names_every_row_and_marks_its_targets(tmp_path: Path):
    result = json.loads(CITED.read_text())
    drawn = report.chart(result, tmp_path / "run.svg")
    svg = drawn.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    for text in ("10k  read: by id", "1M  read: list page", "0.43× floor", "0.55× plain"):
        assert text in svg
    again = report.chart(result, tmp_path / "again.svg")
    assert again.read_bytes() == drawn.read_bytes()
