"""End to end: really evaluate the Adversarial Robustness Toolbox from PyPI, through the CLI.

Real uv install from the package index (``network``), real smoke experiment on the N-BaIoT sample.
Environments go to the session's isolated cache; the torch pin comes from ``HARNESS_CONSTRAINTS``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main

pytestmark = [pytest.mark.network, pytest.mark.slow]

SLUG = "adversarial-robustness-toolbox"


def run_json(capsys: pytest.CaptureFixture[str], results_dir: Path, reports_dir: Path) -> dict[str, Any]:
    capsys.readouterr()
    rc = main(
        [
            "evaluate",
            "--lib",
            SLUG,
            "--repeats",
            "2",
            "--results-dir",
            str(results_dir),
            "--reports-dir",
            str(reports_dir),
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    return json.loads(out)  # stdout holds exactly the record


def test_evaluate_art_for_real(
    capsys: pytest.CaptureFixture[str], results_dir: Path, reports_dir: Path
) -> None:
    rec = run_json(capsys, results_dir, reports_dir)
    status = {s["name"]: s["status"] for s in rec["stages"]}
    assert [s["name"] for s in rec["stages"]] == ["fetch", "build", "import", "smoke", "reproduce"]
    assert all(status[n] == "passed" for n in ("fetch", "build", "import", "smoke")), rec["stages"]
    assert rec["library"] == SLUG and rec["backend"] == "venv" and rec["device"] == "cpu"
    assert rec["source"] == {
        "kind": "pypi",
        "url": "https://pypi.org/project/adversarial-robustness-toolbox/1.20.1/",
        "commit": None,
        "version": "1.20.1",
        "ref": None,
        "commit_date": None,
    }
    repeats = rec["experiments"][0]["repeats"]
    assert len(repeats) == 2
    for r in repeats:
        clean, adv = r["metrics"]["clean_accuracy"], r["metrics"]["adversarial_accuracy"]
        assert 0.9 <= clean <= 1.0
        assert adv <= clean - 0.3  # FGSM eps 0.3 really hurts the model
        assert r["peak_rss_bytes"] > 10 * 2**20 and r["cpu_s"] > 0.1 and r["exit_code"] == 0
    smoke = next(s for s in rec["stages"] if s["name"] == "smoke")
    assert smoke["peak_rss_bytes"] > 10 * 2**20
    assert rec["reproducibility"]["verdict"] in ("reproduced", "stable", "unstable", "mismatch")
    assert rec["reproducibility"]["verdict"] != "not-run"
    assert rec["patches"] and rec["patches"][0]["requirement"] == "packaging"
    assert rec["facts"]["run"]["patches_count"] == 1
    assert rec["facts"]["run"]["import_versions"]["art"] == "1.20.1"
    # the release's own facts (ART 1.20.1's wheel: License "MIT", 6 unbounded Requires-Dist, a README)
    pkg = rec["facts"]["package"]
    assert pkg["artifact"] == "adversarial_robustness_toolbox-1.20.1-py3-none-any.whl"
    assert (pkg["license"], pkg["dependency_declaration"]) == ("MIT", ["Requires-Dist"]) and pkg["readme"]["present"]
    assert pkg["dependencies"] == {"total": 6, "pinned": 0, "bounded": 0, "unbounded": 6}
    if pkg["index_status"] == "ok":  # the JSON API of the index (pypi.org): uploaded 2025-07-07
        assert pkg["release_date"].startswith("2025-07-07")
    acc = {c["check"]: c["outcome"] for c in rec["scores"]["accessibility"]["checks"]}
    assert (acc["has_license"], acc["install_docs"], acc["dependencies_declared"]) == ("pass", "pass", "pass")
    families = ["adversarial", "poisoning", "model-extraction", "membership-inference"]
    assert rec["facts"]["manifest"]["families"] == families  # the manifest's catalogue facts
    stored = list(results_dir.glob(f"{SLUG}--venv--cpu--default--*.json"))
    assert len(stored) == 1
    assert json.loads(stored[0].read_text())["run_id"] == rec["run_id"]

    again = run_json(capsys, results_dir, reports_dir)
    build = next(s for s in again["stages"] if s["name"] == "build")
    assert build["status"] == "passed" and build["cached"] is True
    assert again["facts"]["run"]["env_cached"] is True
    imported = next(s for s in again["stages"] if s["name"] == "import")
    assert imported["status"] == "passed" and imported["cached"] is True  # the first run's verdict
    assert again["facts"]["run"]["import_versions"]["art"] == "1.20.1"
    assert len(list(results_dir.glob("*.json"))) == 2
