"""History and diff over a golden pair of runs with planted regressions (tests/data/batch_golden).

Run A (20260101T020000Z-aaaa) is healthy except that "fixed" fails its smoke run. Run B plants one
regression of each kind: "broken-build" no longer builds, "slower" takes 5 s instead of 2 s,
"hungrier" peaks at 400 MiB instead of 100 MiB, "drifted" no longer matches its reference, and
"scored-down" lost 2 usability points; "steady" moves only within the noise thresholds, and its GPU
record is missing from run B.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from batch_support import harness_cmd

from harness.batch.diff import Thresholds, diff_runs, pick_runs, runs_of
from harness.batch.history import library_history, library_series
from harness.errors import UsageError
from harness.store import load_records

GOLDEN = Path(__file__).parent / "data" / "batch_golden"
RUN_A, RUN_B = "20260101T020000Z-aaaa", "20260102T020000Z-bbbb"
MIB = 1024**2

EXPECTED_REGRESSIONS = [
    ("broken-build", "stage", "build", "passed", "failed"),
    ("drifted", "verdict", "reproducibility", "reproduced", "mismatch"),
    ("hungrier", "memory", "experiments", 100 * MIB + 2, 400 * MIB + 2),
    ("scored-down", "score", "usability", 8.0, 6.0),
    ("slower", "runtime", "experiments", 2.0, 5.0),
]


def _changes(items: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(c["library"], c["kind"], c["subject"], c["before"], c["after"]) for c in items]


def test_diff_finds_exactly_the_planted_regressions() -> None:
    records = load_records(GOLDEN)
    assert [r.run_id for r in runs_of(records)] == [RUN_A, RUN_B]
    assert pick_runs(records, None, None) == (RUN_A, RUN_B)  # default: the last two runs
    diff = diff_runs(records, RUN_A, RUN_B)
    assert diff.compared == 7
    assert _changes([c.to_json() for c in diff.regressions]) == EXPECTED_REGRESSIONS
    assert _changes([c.to_json() for c in diff.improvements]) == [
        ("fixed", "stage", "smoke", "failed", "passed"),
        ("fixed", "verdict", "reproducibility", "not-run", "reproduced"),
    ]
    assert diff.missing == [("steady", "venv", "gpu", "default")] and diff.added == []


def test_thresholds_decide_what_is_noise() -> None:
    records = load_records(GOLDEN)
    # "steady" went 1.0 s -> 1.2 s, 100 -> 110 MiB, usability 8.0 -> 7.8: noise by default, not when strict
    strict = Thresholds(runtime_ratio=1.1, runtime_min_s=0.1, memory_ratio=1.05, memory_min_bytes=MIB,
                        score_drop=0.1)
    steady = [c for c in diff_runs(records, RUN_A, RUN_B, strict).regressions if c.library == "steady"]
    assert [(c.kind, c.subject) for c in steady] == [("score", "usability"), ("runtime", "experiments"),
                                                     ("memory", "experiments")]
    # a lenient runtime threshold lets "slower" pass
    lenient = diff_runs(records, RUN_A, RUN_B, Thresholds(runtime_ratio=3.0))
    assert "slower" not in {c.library for c in lenient.regressions}


def test_diff_command_exits_3_and_prints_json() -> None:
    proc = subprocess.run(harness_cmd("diff", "--results-dir", str(GOLDEN), "--json", "--fail-on-regression"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["run_a"], out["run_b"]) == (RUN_A, RUN_B)
    assert _changes(out["regressions"]) == EXPECTED_REGRESSIONS
    assert "regression slower [venv/cpu/default] runtime: runtime 2.00 s -> 5.00 s" in proc.stderr
    # without --fail-on-regression the command did its job: exit 0; explicit runs in reverse order
    back = subprocess.run(harness_cmd("diff", RUN_B, RUN_A, "--results-dir", str(GOLDEN), "--json"),
                          capture_output=True, text=True, timeout=120)
    assert back.returncode == 0, back.stderr
    assert ("slower", "runtime", "experiments", 5.0, 2.0) in _changes(json.loads(back.stdout)["improvements"])


def test_diff_rejects_an_unknown_run() -> None:
    with pytest.raises(UsageError, match="no stored records of run 'nope'"):
        pick_runs(load_records(GOLDEN), "nope", RUN_B)
    proc = subprocess.run(harness_cmd("diff", "nope", RUN_B, "--results-dir", str(GOLDEN)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "nope" in proc.stderr


def test_history_of_a_library() -> None:
    records = load_records(GOLDEN)
    points = library_history(records, "slower")
    assert [(p.run_id, p.runtime_s, p.status, p.verdict) for p in points] == [
        (RUN_A, 2.0, "passed", "reproduced"), (RUN_B, 5.0, "passed", "reproduced")]
    broken = library_history(records, "broken-build")
    assert [(p.status, p.stage_reached, p.runtime_s) for p in broken] == [
        ("passed", "reproduce", 1.0), ("failed", "fetch", None)]
    series = library_series(records)  # what the report's sparklines read
    assert sorted(series) == ["broken-build", "drifted", "fixed", "hungrier", "scored-down", "slower",
                              "steady"]
    assert [p.key for p in series["steady"]] == ["venv/cpu/default", "venv/gpu/default", "venv/cpu/default"]
    assert [p.scores["usability"] for p in series["scored-down"]] == [8.0, 6.0]

    proc = subprocess.run(harness_cmd("history", "--lib", "hungrier", "--results-dir", str(GOLDEN), "--json"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["library"] == "hungrier"
    assert [(p["run_id"], p["peak_rss_bytes"]) for p in out["points"]] == [
        (RUN_A, 100 * MIB + 2), (RUN_B, 400 * MIB + 2)]


GOLDEN_MANIFESTS = Path(__file__).parent / "golden" / "manifests"


def _harness(*args: str, manifests: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_MANIFESTS_DIR": str(manifests), "COLUMNS": "80"}
    return subprocess.run(harness_cmd(*args), capture_output=True, text=True, timeout=120, env=env)


def test_history_of_a_misspelt_library_names_the_closest_slugs(tmp_path: Path) -> None:
    proc = _harness("history", "--lib", "evasion-kti", "--results-dir", str(GOLDEN), manifests=GOLDEN_MANIFESTS)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "evasion-kti" in lines[0] and "closest: evasion-kit" in lines[0], proc.stderr
    # a known library that was never evaluated: no error, just nothing stored
    proc = _harness("history", "--lib", "evasion-kit", "--results-dir", str(GOLDEN), manifests=GOLDEN_MANIFESTS)
    assert proc.returncode == 0 and "no stored records of 'evasion-kit'" in proc.stderr
    # records of a library whose manifest is gone are still shown
    proc = _harness("history", "--lib", "slower", "--results-dir", str(GOLDEN), manifests=GOLDEN_MANIFESTS)
    assert proc.returncode == 0 and RUN_B in proc.stdout


def test_list_prints_its_table_on_stdout_with_whole_slugs(tmp_path: Path) -> None:
    """Piped (not a terminal, COLUMNS=80): the table is on stdout and no slug is cut or wrapped."""
    manifests = tmp_path / "manifests"
    shutil.copytree(GOLDEN_MANIFESTS, manifests)
    long_slug = "evasion-kit-with-a-very-long-slug-for-industrial-iot-gateways"
    text = (manifests / "evasion-kit.yaml").read_text().replace("slug: evasion-kit", f"slug: {long_slug}")
    (manifests / f"{long_slug}.yaml").write_text(text)
    proc = _harness("list", manifests=manifests)
    assert proc.returncode == 0, proc.stderr
    slugs = [line.split()[0] for line in proc.stdout.splitlines()[2:] if line.strip()]
    assert sorted(slugs) == ["evasion-kit", long_slug, "grad-leak", "model-thief"]
    assert "4 libraries" in proc.stderr and "4 libraries" not in proc.stdout
    as_json = _harness("list", "--json", manifests=manifests)
    assert [r["slug"] for r in json.loads(as_json.stdout)] == slugs


def test_default_diff_skips_a_latest_run_that_shares_no_configuration() -> None:
    records = load_records(GOLDEN)
    latest = records[0].model_copy(
        update={"run_id": "20991231T000000Z-edge", "profile": "edge-1g", "backend": "docker",
                "started_at": "2099-12-31T00:00:00+00:00", "finished_at": "2099-12-31T00:01:00+00:00"}
    )
    assert [r.run_id for r in runs_of([*records, latest])][-1] == "20991231T000000Z-edge"
    assert pick_runs([*records, latest], None, None) == (RUN_A, RUN_B)
