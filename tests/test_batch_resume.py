"""A batch killed mid-way (SIGKILL, SIGTERM) loses nothing, leaves no orphans, and --resume finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from batch_support import harness_cmd, harness_env, journal_events, write_library

from harness.store import load_record

pytestmark = pytest.mark.slow
LIBS = ("one", "two", "three", "four")


@pytest.fixture
def catalogue(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    for slug in LIBS:  # each evaluation takes a few seconds: 2 repeats of a 1.5 s smoke run
        write_library(tmp_path / "manifests", tmp_path / "wheels", slug, sleep_s=1.5)
    return tmp_path, harness_env(tmp_path)


def _journal(results: Path) -> Path:
    found = sorted((results / "runs").glob("*.jsonl")) if (results / "runs").is_dir() else []
    return found[0] if found else results / "runs" / "none.jsonl"


def _start_and_kill_after_first_record(root: Path, env: dict[str, str], sig: signal.Signals) -> str:
    """Start a 4-job batch with --jobs 2; send ``sig`` as soon as the first record is journaled."""
    proc = subprocess.Popen(harness_cmd("run", "--all", "--jobs", "2", "--repeats", "2"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    journal = root / "results" / "runs"
    while time.monotonic() < deadline:
        path = _journal(root / "results")
        if path.is_file() and '"finished"' in path.read_text():
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("no record was stored in time")
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert code == (-9 if sig == signal.SIGKILL else 128 + sig.value)
    assert journal.is_dir()
    return _journal(root / "results").stem


def _no_process_of(root: Path, timeout_s: float = 15.0) -> list[str]:
    """Command lines of processes still running something from the test's temp dir (should be none)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            try:
                line = " ".join(p.info["cmdline"] or [])
            except psutil.Error:
                continue
            if p.info["pid"] != os.getpid() and str(root) in line:
                left.append(line)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _records(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted((root / "results").glob("*.json"))}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_batch_resumes_with_nothing_lost(catalogue: tuple[Path, dict[str, str]],
                                                sig: signal.Signals) -> None:
    root, env = catalogue
    run_id = _start_and_kill_after_first_record(root, env, sig)

    # the children died with the batch: nothing of the temp catalogue is still running
    assert _no_process_of(root) == []
    # every stored record is whole, valid JSON of this run, and nothing half-written is visible
    before = _records(root)
    assert 1 <= len(before) < len(LIBS)
    done = {}
    for path, data in before.items():
        record = load_record(path)
        assert json.loads(data)["run_id"] == record.run_id == run_id
        done[record.job_id] = record.library
    # a writer killed mid-write can leave only a temp file, never a record; the next write removes it
    assert all(p.name.startswith(".record-") for p in (root / "results").iterdir() if p.name.endswith(".tmp"))
    events = journal_events(root / "results", run_id)
    if sig == signal.SIGTERM:  # an orderly stop says so in the journal; SIGKILL cannot
        assert events[-1]["event"] == "interrupted" and events[-1]["signal"] == signal.SIGTERM.value

    # resume: only the unfinished jobs run, under the same run id; stored records are untouched
    proc = subprocess.run(harness_cmd("run", "--resume", "--json"), env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["run_id"] == run_id
    assert (out["planned"], out["already_stored"], out["stored"]) == (4, len(done), 4 - len(done))
    after = _records(root)
    assert {p: after[p] for p in before} == before
    records = [load_record(p) for p in after]
    assert sorted(r.library for r in records) == sorted(LIBS)  # each library exactly once
    assert {r.run_id for r in records} == {run_id}
    assert len({r.job_id for r in records}) == 4
    assert all(r.reproducibility.verdict == "reproduced" for r in records)
    assert not [p for p in (root / "results").iterdir() if p.name.endswith(".tmp")]  # resume cleaned up
    resumed = [e["job_id"] for e in journal_events(root / "results", run_id)
               if e["event"] == "started"][-(4 - len(done)):]
    assert not set(resumed) & set(done)  # completed jobs were not started again


def test_a_killed_evaluation_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    # the victim's smoke run would outlive the test as an orphan if the batch did not end it
    write_library(tmp_path / "manifests", tmp_path / "wheels", "victim", sleep_s=30)
    write_library(tmp_path / "manifests", tmp_path / "wheels", "survivor", sleep_s=2)
    env = harness_env(tmp_path)
    proc = subprocess.Popen(harness_cmd("run", "--all", "--jobs", "2", "--repeats", "1", "--json"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    smoke = str(tmp_path / "manifests" / "smoke" / "victim.py")
    deadline, worker = time.monotonic() + 300, None
    while worker is None and time.monotonic() < deadline and proc.poll() is None:
        for p in psutil.Process(proc.pid).children(recursive=True):
            try:
                if smoke in " ".join(p.cmdline()):  # victim's smoke run is going: kill its worker
                    worker = next(a for a in p.parents() if "harness.batch.worker" in " ".join(a.cmdline()))
            except (psutil.Error, StopIteration):
                continue
        time.sleep(0.05)
    assert worker is not None, "the victim's smoke run never started"
    worker.kill()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err  # one evaluation's death is a result, not the batch's end
    records = {r["library"]: r for r in json.loads(out)["records"]}
    assert [s["status"] for s in records["survivor"]["stages"]] == ["passed"] * 5
    victim = records["victim"]
    assert [s["status"] for s in victim["stages"]] == ["passed", "passed", "passed", "error", "skipped"]
    failure = victim["stages"][3]["failure"]
    assert failure["class"] == "crash" and "killed by SIGKILL" in failure["message"]
    assert victim["reproducibility"]["verdict"] == "not-run"
    assert len(list((tmp_path / "results").glob("*.json"))) == 2
    assert _no_process_of(tmp_path, timeout_s=5) == []  # the victim's smoke run did not outlive it
