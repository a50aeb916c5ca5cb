"""`harness run` over tiny real libraries (offline wheels, real venvs, real processes), --jobs 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from batch_support import harness_cmd, harness_env, journal_events, write_library

from harness.store import load_record

pytestmark = pytest.mark.slow


@pytest.fixture
def catalogue(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Two adversarial libraries (one whose smoke crashes) and one membership-inference library."""
    manifests, wheels = tmp_path / "manifests", tmp_path / "wheels"
    write_library(manifests, wheels, "alpha", accuracy=0.91, sleep_s=1.5)
    write_library(manifests, wheels, "beta", accuracy=0.5, sleep_s=1.5, fail=True)
    write_library(manifests, wheels, "gamma", accuracy=0.7, family="membership-inference")
    return tmp_path, harness_env(tmp_path)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(harness_cmd(*args), env=env, capture_output=True, text=True, timeout=600)


def test_category_batch_with_two_jobs(catalogue: tuple[Path, dict[str, str]]) -> None:
    root, env = catalogue
    proc = run(env, "run", "--category", "adversarial", "--jobs", "2", "--repeats", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # stdout is the JSON document and nothing else
    run_id = out["run_id"]
    assert (out["planned"], out["already_stored"], out["stored"]) == (2, 0, 2)
    by_lib = {r["library"]: r for r in out["records"]}
    assert set(by_lib) == {"alpha", "beta"}  # gamma is not in the category

    # alpha passes every stage and reproduces its accuracy; beta's smoke crash is a classified result
    alpha, beta = by_lib["alpha"], by_lib["beta"]
    assert [s["status"] for s in alpha["stages"]] == ["passed"] * 5
    assert [r["metrics"] for r in alpha["experiments"][0]["repeats"]] == [{"accuracy": 0.91}] * 2
    assert alpha["reproducibility"]["verdict"] == "reproduced"
    assert [s["status"] for s in beta["stages"]] == ["passed", "passed", "passed", "failed", "skipped"]
    smoke = beta["stages"][3]
    assert smoke["failure"]["class"] and "planted smoke failure" in smoke["log_tail"]

    # one stored record per job, each under the shared run id, carrying its job id
    stored = [load_record(p) for p in sorted((root / "results").glob("*.json"))]
    assert sorted((r.library, r.run_id) for r in stored) == [("alpha", run_id), ("beta", run_id)]
    assert len({r.job_id for r in stored}) == 2 and all(len(r.job_id) == 16 for r in stored)

    # the journal: planned, started and finished (with the record's file name) for each, then completed
    events = journal_events(root / "results", run_id)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "batch" and kinds[-1] == "completed"
    assert kinds.count("planned") == kinds.count("started") == kinds.count("finished") == 2
    finished = {e["job_id"]: e["record"] for e in events if e["event"] == "finished"}
    assert finished == {r.job_id: p.name for r, p in
                        zip(stored, sorted((root / "results").glob("*.json")), strict=True)}
    # --jobs 2: both evaluations were running at once (both started before either finished)
    first_finish = kinds.index("finished")
    assert kinds[:first_finish].count("started") == 2

    # progress on stderr: overall count and per-library stage lines
    assert "[2/2]" in proc.stderr and "alpha [venv/cpu]: smoke passed" in proc.stderr

    # the same plan twice gives the same job ids (deterministic), under a new run id
    again = json.loads(run(env, "run", "--lib", "alpha,beta", "--jobs", "2", "--repeats", "1",
                           "--json").stdout)
    assert again["run_id"] != run_id
    assert {r["library"]: r["job_id"] for r in again["records"]} == {"alpha": alpha["job_id"],
                                                                     "beta": beta["job_id"]}


def test_fail_on_regression_exits_3(catalogue: tuple[Path, dict[str, str]]) -> None:
    root, env = catalogue
    first = run(env, "run", "--lib", "gamma", "--repeats", "1", "--fail-on-regression")
    assert first.returncode == 0, first.stderr  # nothing to compare with yet
    # the library's reference claim moves: the same results no longer match it, so the reproduce
    # stage that passed now fails (scores are left out here: --score-threshold 10 ignores them)
    manifest = root / "manifests" / "gamma.yaml"
    manifest.write_text(manifest.read_text().replace("reference: 0.7", "reference: 0.95"))
    second = run(env, "run", "--lib", "gamma", "--repeats", "1", "--fail-on-regression", "--json",
                 "--score-threshold", "10")
    assert second.returncode == 3, second.stderr
    diff = json.loads(second.stdout)["diff"]
    found = [(c["library"], c["kind"], c["subject"], c["before"], c["after"]) for c in diff["regressions"]]
    assert found == [("gamma", "stage", "reproduce", "passed", "failed")]
    assert "gamma [venv/cpu/default] stage: reproduce passed, now failed (metric-mismatch)" in second.stderr


def test_nightly_compares_with_the_night_before(catalogue: tuple[Path, dict[str, str]]) -> None:
    root, env = catalogue
    nightly = ("nightly", "--device", "cpu", "--lib", "gamma", "--repeats", "1", "--json")
    first = run(env, *nightly)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert [(r["library"], r["device"], r["status"]) for r in summary["records"]] == [
        ("gamma", "cpu", "passed")]
    second = run(env, *nightly)
    assert second.returncode == 0, second.stderr
    diff = json.loads((root / "reports" / "nightly-diff.json").read_text())
    assert (diff["run_a"], diff["run_b"]) == (summary["run_id"], json.loads(second.stdout)["run_id"])
    assert diff["compared"] == 1 and diff["regressions"] == []
