"""The static report rendered from the golden records: files, exports, escaping, self-containment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape as markupsafe_escape
from scoring_support import GOLDEN_MANIFESTS, GOLDEN_RESULTS, copy_golden, golden

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


def test_published_files_are_world_readable(report: Path) -> None:
    written = [p for p in report.rglob("*") if p.is_file()]
    assert written and all(p.stat().st_mode & 0o777 == 0o644 for p in written)


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


def test_chart_labels_are_never_clipped_and_long_ones_get_an_ellipsis() -> None:
    from harness.report import charts

    svg = charts.hbar_chart(
        "t", [charts.Bar("adversarial-robustness-toolbox", 3.9), charts.Bar("x" * 80, 1.0)], str
    )
    labels = re.findall(r'<text x="([0-9.]+)"[^>]*class="lbl">(?:<title>([^<]*)</title>)?([^<]*)</text>', svg)
    # 37 characters fit the widest label column (260 px), the ellipsis included
    assert [lbl[2] for lbl in labels] == ["adversarial-robustness-toolbox", "x" * 36 + "\u2026"]
    assert labels[1][1] == "x" * 80  # the full label as a tooltip
    for x, _, text in labels:  # right-aligned at x: a generous width per character still starts at >= 0
        assert float(x) - len(text) * charts.CHAR_W >= 0


def test_counts_are_pluralised(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "one.json").write_text((GOLDEN_RESULTS / "model-thief--venv--cpu--default.json").read_text())
    html = render_report(results, tmp_path / "reports", manifests_dir=GOLDEN_MANIFESTS).read_text()
    assert "1 library · 1 stored record ·" in html and '<p id="count">1 library</p>' in html
    assert "1 libraries" not in html and "1 stored records" not in html


def test_reproducibility_is_a_table_per_metric(tmp_path: Path) -> None:
    """The details harness.reproducibility.judge stores, shown as rounded numbers with a match column."""
    import yaml

    from harness.manifest import parse_manifest
    from harness.reproducibility import judge

    record = golden("evasion-kit--venv--cpu--default")  # three repeats: clean 0.97, adversarial 0.12
    data = yaml.safe_load((GOLDEN_MANIFESTS / "evasion-kit.yaml").read_text())
    data["experiments"][0]["metrics"] = {
        "clean_accuracy": {"reference": 0.97004444444444, "tolerance": 0.01},
        "adversarial_accuracy": {"reference": 0.5, "tolerance": 0.05},
    }
    repro = judge(record.experiments, parse_manifest(data, "evasion-kit.yaml"))
    assert repro.verdict == "mismatch"
    record = record.model_copy(update={"reproducibility": repro})
    html = render_library(record, tmp_path, manifests_dir=GOLDEN_MANIFESTS).read_text()
    table = html.split('<table class="repro">')[1].split("</table>")[0]
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in table.split("<tr>")[2:]]
    assert cells == [
        ["smoke", "clean_accuracy", "0.97", "0", "0.97", "0.01", "-4.444e-05", "yes"],
        ["smoke", "adversarial_accuracy", "0.12", "0", "0.5", "0.05", "-0.38", "no"],
    ]
    assert "delta: -4.444444" not in html and '"delta"' not in html  # no raw JSON dump


def test_inconclusive_checks_say_why_not_how_to_improve(report: Path) -> None:
    from harness.scoring.rubric import load_rubric

    remedies = [c.remedy for c in load_rubric().checks.values()]
    page = (report / "libraries" / "evasion-kit.html").read_text()
    rows = [r for r in page.split("<tr>") if 'class="o-inconclusive"' in r]
    assert rows, "the golden evasion-kit page has inconclusive checks (e.g. GPU checks on its CPU configuration)"
    for row in rows:
        assert "Could not be measured: " in row and 'class="remedy"' not in row
        assert not any(str(markupsafe_escape(r)) in row for r in remedies)
    failed = [r for r in page.split("<tr>") if 'class="o-fail"' in r]
    assert failed and all('class="remedy"' in r for r in failed)  # a failed check still shows its remedy
