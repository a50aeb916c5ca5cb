"""``harness rescore``: new scores from stored records and a changed rubric, without running anything.

The expected numbers are worked out by hand (see test_scoring_golden.py for the shipped weights).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from scoring_support import GOLDEN_MANIFESTS, copy_golden

from harness.scoring import DEFAULT_RUBRIC
from harness.scoring.rescore import load_overlay

SHADOW = "shadow-mia--venv--cpu--default--2026-12-01T02:20:00+00:00--golden-run-1"
THIEF = "model-thief--venv--cpu--default--2026-12-01T02:40:00+00:00--golden-run-1"


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_MANIFESTS_DIR": str(GOLDEN_MANIFESTS)}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.json")}


def _changed_rubric(tmp_path: Path) -> Path:
    data = yaml.safe_load(DEFAULT_RUBRIC.read_text(encoding="utf-8"))
    data["version"] = "test-licence-heavy"
    data["checks"]["has_license"]["weight"] = 6  # was 2
    path = tmp_path / "rubric-licence-heavy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_rescore_changes_scores_when_the_rubric_changes(tmp_path: Path) -> None:
    results = copy_golden(tmp_path / "results")
    before = _digests(results)

    same = _harness("rescore", "--results-dir", str(results), "--json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["written"] is None  # shipped rubric: nothing to change
    assert "nothing written" in same.stderr

    changed = _harness(
        "rescore", "--results-dir", str(results), "--rubric", str(_changed_rubric(tmp_path)), "--json"
    )
    assert changed.returncode == 0, changed.stderr
    out = json.loads(changed.stdout)
    assert out["rubric"]["version"] == "test-licence-heavy"
    by_key = {r["record"]: r for r in out["records"]}
    # shadow-mia accessibility: licence "none" fails; weights 2+6+1+1+1+1+1+1 = 14, earned
    # pinned 2 + examples 1 + declared 1 + bounded 1 = 5 -> 10 x 5/14 = 3.571 -> 3.6 (was 5.0)
    assert by_key[SHADOW]["before"]["accessibility"] == 5.0
    assert by_key[SHADOW]["after"]["accessibility"] == 3.6
    # model-thief: licence "unknown" passes; 9 - 2 + 6 = 13 conclusive, earned 5 - 2 + 6 = 9
    # -> 10 x 9/13 = 6.923 -> 6.9 (was 5.6)
    assert by_key[THIEF]["after"]["accessibility"] == 6.9
    assert by_key[THIEF]["after"]["usability"] == by_key[THIEF]["before"]["usability"] == 4.0
    assert "5.0 → 3.6" in changed.stderr  # the change is visible to the user

    written = Path(out["written"])
    assert written.parent == results / "scores" and written.suffix == ".jsonl"
    header = json.loads(written.read_text().splitlines()[0])
    assert header["kind"] == "harness-scores" and header["rubric"]["version"] == "test-licence-heavy"
    assert load_overlay(results)[SHADOW]["accessibility"]["score"] == 3.6
    assert _digests(results) == before  # records are never edited

    # the report shows the newest scores
    reports = tmp_path / "reports"
    rep = _harness("report", "--results-dir", str(results), "--reports-dir", str(reports))
    assert rep.returncode == 0, rep.stderr
    rows = json.loads((reports / "overview.json").read_text())
    shadow = next(r for r in rows if r["library"] == "shadow-mia")
    assert (shadow["accessibility"], shadow["rubric_version"]) == (3.6, "test-licence-heavy")

    # back to the shipped rubric: a newer scores file wins again
    back = _harness("rescore", "--results-dir", str(results), "--json")
    assert json.loads(back.stdout)["written"] is not None
    assert load_overlay(results)[SHADOW]["accessibility"]["score"] == 5.0


def test_rescore_bad_input_exits_2(tmp_path: Path) -> None:
    missing = _harness("rescore", "--results-dir", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("--results-dir: no such directory")
    results = copy_golden(tmp_path / "results")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\ndimensions: {}\nchecks: {x: {weight: 1}}\n")
    res = _harness("rescore", "--results-dir", str(results), "--rubric", str(bad))
    assert res.returncode == 2
    # (rich may wrap the line at the terminal width; compare with whitespace collapsed)
    assert f"{bad}: checks.x.dimension: Field required" in " ".join(res.stderr.split())
