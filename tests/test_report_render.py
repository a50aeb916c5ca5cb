"""The static report rendered from the golden records: files, exports, escaping, self-containment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from scoring_support import GOLDEN_MANIFESTS, copy_golden, golden

from harness.report import render_library, render_report

LIBRARIES = ["evasion-kit", "grad-leak", "model-thief", "shadow-mia"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    results = copy_golden(root / "results")
    index = render_report(results, root / "reports", manifests_dir=GOLDEN_MANIFESTS)
    assert index == root / "reports" / "index.html"
    return root / "reports"


def test_files_written(report: Path) -> None:
    assert sorted(p.stem for p in (report / "libraries").glob("*.html")) == LIBRARIES
    badges = sorted(p.name for p in (report / "badges").glob("*.svg"))
    assert len(badges) == 12 and "shadow-mia-usability.svg" in badges


def test_exports_hold_every_configuration(report: Path) -> None:
    frame = pd.read_csv(report / "overview.csv")
    assert len(frame) == 6  # newest record per (library, backend, device, profile)
    ek = frame[
        (frame.library == "evasion-kit") & (frame.device == "cpu") & (frame.profile == "default")
    ].iloc[0]
    # hand-computed in test_scoring_golden.py (with the GPU record as peer)
    assert (ek.accessibility, ek.usability, ek.applicability) == (9.5, 9.0, 9.3)
    assert ek.smoke_runtime_s == 5.0 and ek.peak_rss_bytes == 700 * 2**20
    grad = frame[frame.library == "grad-leak"].iloc[0]
    assert (grad.stage_reached, grad.failed_stage, grad.failure_class) == (
        "none",
        "fetch",
        "source-unavailable",
    )
    rows = json.loads((report / "overview.json").read_text())
    assert {r["library"] for r in rows} == set(LIBRARIES)
    edge = next(r for r in rows if r["profile"] == "edge-1g")
    assert (edge["backend"], edge["stage_reached"], edge["failure_class"]) == (
        "docker",
        "import",
        "out-of-memory",
    )


def test_badge_shows_the_score(report: Path) -> None:
    svg = (report / "badges" / "evasion-kit-accessibility.svg").read_text()
    assert svg.startswith("<svg") and "9.5/10" in svg
    assert "n/a" not in (report / "badges" / "grad-leak-accessibility.svg").read_text()


def test_log_and_names_are_escaped(report: Path) -> None:
    page = (report / "libraries" / "shadow-mia.html").read_text()
    assert "&lt;script&gt;window.__pwned = 1;" in page
    assert "<script>window.__pwned" not in page
    assert "&lt;b&gt;theano==0.9.0&lt;/b&gt;" in page
    index = (report / "index.html").read_text()
    assert "Gradient Leakage &lt;Deep&gt; &amp; Co" in index
    assert "<Deep>" not in index


@pytest.mark.parametrize("name", ["index.html", *[f"libraries/{s}.html" for s in LIBRARIES]])
def test_pages_are_self_contained(report: Path, name: str) -> None:
    html = (report / name).read_text()
    assert not re.search(r"<(script|img|iframe|link|source)\b[^>]*\b(src|href)=\"(https?:)?//", html)
    assert not re.search(r"<link\b", html) and "@import" not in html and "url(http" not in html
    assert all("src=" not in tag for tag in re.findall(r"<script\b[^>]*>", html))


def test_library_page_has_stages_metrics_and_scorecard(report: Path) -> None:
    page = (report / "libraries" / "evasion-kit.html").read_text()
    for text in (
        "Configurations compared",
        "venv · gpu · default",
        "docker · cpu · edge-1g",
        "out-of-memory",
        "clean_accuracy",
        "adversarial_accuracy",
        "1.25\u00d7 faster on GPU",
        "Evasion attacks for everyone",
        "accepts_tabular_data",
        "How to improve",
    ):
        assert text in page, text
    assert page.count('class="stage"') == 15  # 5 stages x 3 configurations (newest record of each)
    assert "History (2 evaluations of this configuration)" in page
    assert "golden-run-0" in page and "undeclared-dependency" not in page.split("History (2")[0]


def test_renders_from_records_alone(tmp_path: Path) -> None:
    """No manifests at all: taxonomy comes from the records' facts, or shows as unknown."""
    results = copy_golden(tmp_path / "results")
    empty = tmp_path / "no-manifests"
    empty.mkdir()
    render_report(results, tmp_path / "reports", manifests_dir=empty)
    rows = {r["library"]: r for r in json.loads((tmp_path / "reports" / "overview.json").read_text())}
    assert rows["shadow-mia"]["families"] == "membership-inference"
    assert (rows["grad-leak"]["families"], rows["grad-leak"]["origin"]) == ("unknown", "unknown")
    page = (tmp_path / "reports" / "libraries" / "grad-leak.html").read_text()
    assert "No manifest for this library in the catalogue" in page


def test_newest_record_per_configuration_wins(tmp_path: Path) -> None:
    results = copy_golden(tmp_path / "results")
    data = json.loads((results / "model-thief--venv--cpu--default.json").read_text())
    data["started_at"], data["run_id"] = "2026-12-02T02:40:00+00:00", "golden-run-2"
    data["stages"] = [
        {
            "name": "fetch",
            "status": "failed",
            "failure": {"class": "source-unavailable", "message": "gone", "hint": "check the URL"},
        }
    ] + [{"name": n, "status": "skipped"} for n in ("build", "import", "smoke", "reproduce")]
    data["experiments"] = []
    (results / "model-thief--newer.json").write_text(json.dumps(data))
    render_report(results, tmp_path / "reports", manifests_dir=GOLDEN_MANIFESTS)
    rows = [
        r
        for r in json.loads((tmp_path / "reports" / "overview.json").read_text())
        if r["library"] == "model-thief"
    ]
    assert [(r["run_id"], r["stage_reached"]) for r in rows] == [("golden-run-2", "none")]


def test_render_library_alone(tmp_path: Path) -> None:
    """What ``harness evaluate`` does after a run: one page from one record, no overview yet."""
    page = render_library(golden("model-thief--venv--cpu--default"), tmp_path, manifests_dir=GOLDEN_MANIFESTS)
    assert page == tmp_path / "libraries" / "model-thief.html"
    html = page.read_text()
    assert "Model Thief" in html and "all libraries" not in html  # no overview to link back to
    assert "KeyError: &#39;label&#39;" in html
    assert ">4/10<" in (tmp_path / "badges" / "model-thief-usability.svg").read_text()


def test_empty_results_dir_renders(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    index = render_report(tmp_path / "results", tmp_path / "reports", manifests_dir=GOLDEN_MANIFESTS)
    assert "0 libraries" in index.read_text()
    header = (tmp_path / "reports" / "overview.csv").read_text().splitlines()
    assert header[0].startswith("library,name,families,origin,backend,device,profile,status,stage_reached")
    assert len(header) == 1
    assert json.loads((tmp_path / "reports" / "overview.json").read_text()) == []
