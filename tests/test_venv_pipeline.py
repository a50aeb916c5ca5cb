"""Integration: real venvs built OFFLINE from tiny wheels this test makes, driven through all stages.

A local PEP 503 index (``file://``) holds hand-made wheels: ``tinylib`` 1.0 (fine), ``tinylib`` 2.0
(imports a module nobody declared), ``undeclared-mod`` 1.0 (that module). uv runs with
``UV_OFFLINE=1`` and pip without its config files, so nothing leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.config import Settings
from harness.envs.venv import MARKER
from harness.manifest import Manifest, parse_manifest
from harness.pipeline import EvaluateOptions, evaluate
from harness.records import ResultRecord

pytestmark = pytest.mark.slow

SMOKE = """\
import json, os, sys
import tinylib
assert os.environ["HARNESS_WORK_DIR"] and os.environ["HARNESS_DATA_DIR"]
seed = int(os.environ["HARNESS_SEED"])
print("some log line")
print(json.dumps({"metrics": {"accuracy": tinylib.score(seed), "seed": seed}}))
"""

TINYLIB_README = "# tinylib\n\n" + "Install it with `pip install tinylib`; `tinylib.score(seed)` scores.\n" * 5
TINYLIB_METADATA = f"""\
License-Expression: MIT
Requires-Python: >=3.8
Requires-Dist: undeclared-mod<2
Requires-Dist: numpy ; extra == "fast"
Provides-Extra: fast
Project-URL: Documentation, https://tinylib.example/docs
Description-Content-Type: text/markdown

{TINYLIB_README}"""
TINYLIB_RELEASES = {
    "releases": {
        "0.9": [{"upload_time_iso_8601": "2025-09-01T08:00:00.000000Z", "yanked": False}],
        "1.0": [{"upload_time_iso_8601": "2026-02-01T08:00:00.000000Z", "yanked": False}],
        "2.0": [{"upload_time_iso_8601": "2026-06-01T08:00:00.000000Z", "yanked": False}],
    }
}

HANG = """\
import os, subprocess, sys, time
kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]),
        subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(600)"])]
with open(sys.argv[1], "w") as fh:
    fh.write(" ".join(str(p) for p in [os.getpid()] + [k.pid for k in kids]))
time.sleep(600)
"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(dest: Path, name: str, version: str, files: dict[str, str], metadata: str = "") -> Path:
    """A minimal valid pure-Python wheel, written by hand (no build backend needed offline).

    ``metadata``: more core-metadata header lines, then optionally a blank line and the long description.
    """
    dist = f"{name.replace('-', '_')}-{version}"
    entries = {path: text.encode() for path, text in files.items()}
    header = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    entries[f"{dist}.dist-info/METADATA"] = (header + metadata).encode()
    entries[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(f"{p},sha256={_b64(d)},{len(d)}\n" for p, d in entries.items())
    entries[f"{dist}.dist-info/RECORD"] = (record + f"{dist}.dist-info/RECORD,,\n").encode()
    wheel = dest / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in entries.items():
            zf.writestr(path, data)
    return wheel


def make_index(root: Path, wheels: list[tuple[str, Path]]) -> str:
    files = root / "files"
    simple = root / "simple"
    projects: dict[str, list[Path]] = {}
    for project, wheel in wheels:
        projects.setdefault(project, []).append(wheel)
    for project, ws in projects.items():
        d = simple / project
        d.mkdir(parents=True)
        links = "".join(
            f'<a href="../../files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
            for w in ws
        )
        (d / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    (simple / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in projects))
    assert files.is_dir()
    return simple.as_uri() + "/"


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("offline-index")
    (root / "files").mkdir()
    wheels = [
        (
            "tinylib",
            make_wheel(
                root / "files",
                "tinylib",
                "1.0",
                {"tinylib/__init__.py": "__version__ = '1.0'\n\ndef score(seed):\n    return 0.75 + 0.0 * seed\n"},
                TINYLIB_METADATA,
            ),
        ),
        (
            "tinylib",
            make_wheel(
                root / "files",
                "tinylib",
                "2.0",
                {
                    "tinylib/__init__.py": "import undeclared_mod\n__version__ = '2.0'\n\ndef score(seed):\n"
                    "    return undeclared_mod.VALUE\n"
                },
            ),
        ),
        (
            "undeclared-mod",
            make_wheel(root / "files", "undeclared-mod", "1.0", {"undeclared_mod/__init__.py": "VALUE = 0.5\n"}),
        ),
    ]
    index = make_index(root, wheels)
    # the index's JSON API (<root>/pypi/<project>/json), read by the fetch stage through file://
    (root / "pypi" / "tinylib").mkdir(parents=True)
    (root / "pypi" / "tinylib" / "json").write_text(json.dumps(TINYLIB_RELEASES))
    manifests = root / "manifests"
    (manifests / "smoke").mkdir(parents=True)
    (manifests / "smoke" / "tinylib.py").write_text(SMOKE)
    (manifests / "smoke" / "hang.py").write_text(HANG)
    return {"index": index, "manifests": manifests, "root": root}


@pytest.fixture
def settings(
    offline: dict[str, Any],
    constraints_file: Path,
    harness_session_env: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    import os

    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in (
        "PIP_FIND_LINKS",
        "PIP_EXTRA_INDEX_URL",
        "PIP_INDEX_URL",
        "UV_INDEX",
        "UV_EXTRA_INDEX_URL",
        "UV_FIND_LINKS",
        "UV_DEFAULT_INDEX",
        "UV_INDEX_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    return Settings(
        cache_dir=harness_session_env["cache"] / "venv-pipeline",
        manifests_dir=offline["manifests"],
        index_url=offline["index"],
        constraints=(constraints_file,),
    )


def manifest(make_manifest_data: Any, **changes: Any) -> Manifest:
    data = make_manifest_data("tinylib")
    data["experiments"] = [
        {
            "name": "smoke",
            "script": "smoke/tinylib.py",
            "metrics": {"accuracy": {"reference": 0.75, "tolerance": 0.01}},
        }
    ]
    for key, value in changes.items():
        target, _, field = key.partition("__")
        if field:
            data.setdefault(target, {})[field] = value
        else:
            data[key] = value
    return parse_manifest(data, "tinylib.yaml")


def statuses(record: ResultRecord) -> dict[str, str]:
    return {s.name: s.status for s in record.stages}


def test_all_stages_pass_then_build_is_cached(make_manifest_data: Any, settings: Settings) -> None:
    m = manifest(make_manifest_data, taxonomy__frameworks=["sklearn"])
    calls: list[tuple[str, str]] = []
    rec = evaluate(m, EvaluateOptions(repeats=2), settings, lambda s, st, _: calls.append((s, st)))
    assert statuses(rec) == dict.fromkeys(("fetch", "build", "import", "smoke", "reproduce"), "passed"), rec.stages[
        2
    ].log_tail
    assert ("build", "running") in calls and ("reproduce", "passed") in calls
    assert rec.reproducibility.verdict == "reproduced"
    assert [r.metrics["accuracy"] for r in rec.experiments[0].repeats] == [0.75, 0.75]
    assert all(r.exit_code == 0 and r.seed == 0 and r.cpu_s > 0 for r in rec.experiments[0].repeats)
    smoke = rec.stage("smoke")
    assert smoke is not None and smoke.peak_rss_bytes is not None and smoke.peak_rss_bytes > 5 * 2**20
    build = rec.stage("build")
    assert build is not None and not build.cached
    assert rec.facts["run"]["env_cached"] is False and rec.facts["run"]["installer"] == "uv"
    assert rec.facts["run"]["import_versions"] == {"tinylib": "1.0"}
    assert rec.facts["package"]["artifact"] == "tinylib-1.0-py3-none-any.whl"
    assert rec.host.cpu_count >= 1 and rec.job_id and len(rec.run_id) == 32
    env_dir = settings.envs_dir / rec.facts["run"]["env_fingerprint"]
    assert (env_dir / MARKER).is_file()
    assert "torch==2.13.0" in (env_dir / "harness-constraints.txt").read_text()

    # catalogue facts (the applicability checks read them)
    assert rec.facts["manifest"]["families"] == ["adversarial"]
    assert rec.facts["manifest"]["experiments"] == [{"name": "smoke", "tabular": False, "gpu_capable": False}]
    app = {c["check"]: c["outcome"] for c in rec.scores["applicability"]["checks"]}
    assert (app["accepts_tabular_data"], app["threat_models_covered"], app["frameworks_supported"]) == (
        "fail",  # no tabular experiment, no declared data type
        "measured",
        "measured",
    )
    # the release's metadata (TINYLIB_METADATA) and its history (TINYLIB_RELEASES, via the file:// JSON API)
    pkg = rec.facts["package"]
    assert (pkg["license"], pkg["license_source"]) == ("MIT", "License-Expression")
    assert pkg["readme"] == {"present": True, "bytes": len(TINYLIB_README.encode()), "content_type": "text/markdown"}
    assert pkg["dependency_declaration"] == ["Requires-Dist"] and pkg["extras"] == ["fast"]
    assert pkg["dependencies"] == {"total": 1, "pinned": 0, "bounded": 1, "unbounded": 0}
    assert pkg["python_versions"]["requires_python"] == ">=3.8" and pkg["has_docs"] is True
    assert (pkg["release_date"], pkg["last_release_date"]) == ("2026-02-01T08:00:00+00:00", "2026-06-01T08:00:00+00:00")
    assert (pkg["releases_last_year"], pkg["releases_total"], pkg["index_status"]) == (2, 3, "ok")
    acc = {c["check"]: c["outcome"] for c in rec.scores["accessibility"]["checks"]}
    assert "inconclusive" not in acc.values(), acc
    assert acc["has_license"] == acc["install_docs"] == acc["has_docs_or_examples"] == "pass"
    assert acc["dependencies_bounded"] == "measured"
    # the import verdict is stored in the environment after the first real check
    imp = rec.stage("import")
    assert imp is not None and not imp.cached and imp.details["measured_at"]
    assert len(list(env_dir.glob(".harness-import-*.json"))) == 1

    again = evaluate(m, EvaluateOptions(repeats=1), settings)
    build2, fetch2 = again.stage("build"), again.stage("fetch")
    assert build2 is not None and build2.cached and again.facts["run"]["env_cached"] is True
    assert fetch2 is not None and fetch2.cached
    assert again.job_id == rec.job_id and again.run_id != rec.run_id
    imp2 = again.stage("import")
    assert imp2 is not None and imp2.status == "passed" and imp2.cached
    assert imp2.details["measured_at"] == imp.details["measured_at"]
    assert imp2.details["note"].startswith(f"passed when measured at {imp.details['measured_at']}")
    assert imp2.peak_rss_bytes == imp.peak_rss_bytes and again.facts["run"]["import_versions"] == {"tinylib": "1.0"}
    assert again.facts["package"]["index_checked_at"] == pkg["index_checked_at"]  # the day's cached answer
    edge = evaluate(m, EvaluateOptions(repeats=1, profile="edge-1g"), settings)
    edge_import = edge.stage("import")
    assert edge_import is not None and not edge_import.cached  # other limits: checked for real once


def test_build_installs_the_fetched_file(make_manifest_data: Any, settings: Settings, tmp_path: Path) -> None:
    from harness.pipeline import env_spec
    from harness.sources.pypi import artifact_file, release_dir

    s = settings.with_overrides(cache_dir=tmp_path / "cache")
    m = manifest(make_manifest_data)
    rec = evaluate(m, EvaluateOptions(repeats=1), s)
    fetched = artifact_file(release_dir(s, "tinylib", "1.0"))
    assert fetched is not None and fetched.name == rec.facts["package"]["artifact"]
    env_dir = s.envs_dir / rec.facts["run"]["env_fingerprint"]
    (direct_url,) = env_dir.glob("lib/python3*/site-packages/tinylib-1.0.dist-info/direct_url.json")
    assert json.loads(direct_url.read_text())["url"] == fetched.resolve().as_uri()
    # the fingerprint names the release, not the cache path
    spec = env_spec(m, s, "cpu", "uv")
    assert spec.requirements[0] == "tinylib==1.0" and rec.facts["run"]["env_fingerprint"] == spec.fingerprint()
    # another file in the source cache (a rebuilt 1.0) is what a fresh environment gets, not the index's
    make_wheel(fetched.parent, "tinylib", "1.0", {"tinylib/__init__.py": "def score(seed):\n    return 0.5\n"})
    import shutil

    shutil.rmtree(env_dir)
    rec2 = evaluate(m, EvaluateOptions(repeats=1), s)
    assert rec2.facts["run"]["env_fingerprint"] == spec.fingerprint()
    assert rec2.experiments[0].repeats[0].metrics["accuracy"] == 0.5
    assert rec2.facts["package"]["artifact_sha256"] != rec.facts["package"]["artifact_sha256"]


def test_install_targets_replace_only_the_pinned_release(tmp_path: Path) -> None:
    from harness.envs.venv import install_targets
    from harness.errors import BuildError

    whl = tmp_path / "Tiny_Lib-1.0-py3-none-any.whl"
    uri = whl.resolve().as_uri()
    reqs = ("tiny-lib[fast]==1.0", "numpy<3")
    assert install_targets(reqs, whl) == [f"tiny-lib[fast] @ {uri}", "numpy<3"]
    assert install_targets(reqs, None) == list(reqs)
    assert install_targets(("numpy<3",), whl) == ["numpy<3"]  # no pin of that release: nothing replaced
    with pytest.raises(BuildError, match=r"is version 1\.0, but the environment needs 'tiny-lib==2\.0'"):
        install_targets(("tiny-lib==2.0",), whl)


def test_constraint_contents_change_the_environment(
    make_manifest_data: Any, settings: Settings, tmp_path: Path
) -> None:
    from harness.pipeline import env_spec

    other = tmp_path / "c.txt"
    other.write_text("torch==2.13.0\nnumpy<3\n")
    m = manifest(make_manifest_data)
    a = env_spec(m, settings, "cpu", "uv")
    b = env_spec(m, settings.with_overrides(constraints=(other,)), "cpu", "uv")
    assert a.fingerprint() != b.fingerprint()
    assert b.constraints == ("torch==2.13.0", "numpy<3")


def test_undeclared_dependency_then_patched(make_manifest_data: Any, settings: Settings) -> None:
    broken = manifest(
        make_manifest_data,
        source={"kind": "pypi", "repository": "example/tinylib", "package": "tinylib", "version": "2.0"},
    )
    rec = evaluate(broken, EvaluateOptions(repeats=1), settings)
    assert statuses(rec) == {
        "fetch": "passed",
        "build": "passed",
        "import": "failed",
        "smoke": "skipped",
        "reproduce": "skipped",
    }
    imp = rec.stage("import")
    assert imp is not None and imp.failure is not None
    assert imp.failure.failure_class == "undeclared-dependency"
    assert "undeclared_mod" in imp.failure.message and "environment.patches" in imp.failure.hint
    assert "No module named 'undeclared_mod'" in imp.log_tail
    assert rec.reproducibility.verdict == "not-run" and rec.patches == []
    # a failed import is not cached: the next run checks it again (and fails again)
    env_dir = settings.envs_dir / rec.facts["run"]["env_fingerprint"]
    assert list(env_dir.glob(".harness-import-*.json")) == []
    retry = evaluate(broken, EvaluateOptions(repeats=1), settings)
    retry_import, retry_build = retry.stage("import"), retry.stage("build")
    assert retry_build is not None and retry_build.cached
    assert retry_import is not None and retry_import.status == "failed" and not retry_import.cached
    assert "No module named 'undeclared_mod'" in retry_import.log_tail

    patched = manifest(
        make_manifest_data,
        source={"kind": "pypi", "repository": "example/tinylib", "package": "tinylib", "version": "2.0"},
        environment={"patches": [{"requirement": "undeclared-mod", "reason": "tinylib imports it"}]},
    )
    data = patched.model_dump(mode="json")
    data["experiments"][0]["metrics"]["accuracy"]["reference"] = 0.5
    rec2 = evaluate(parse_manifest(data, "tinylib.yaml"), EvaluateOptions(repeats=1), settings)
    assert statuses(rec2)["reproduce"] == "passed", rec2.stages
    assert rec2.patches == [{"requirement": "undeclared-mod", "reason": "tinylib imports it"}]
    assert rec2.facts["run"]["patches_count"] == 1


def test_timeout_kills_the_experiment_tree(make_manifest_data: Any, settings: Settings, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    m = manifest(
        make_manifest_data,
        experiments=[{"name": "smoke", "script": "smoke/hang.py", "args": [str(pids)], "timeout_s": 600}],
    )
    started = time.perf_counter()
    rec = evaluate(m, EvaluateOptions(repeats=3, timeout_s=3), settings)
    assert time.perf_counter() - started < 120
    smoke = rec.stage("smoke")
    assert smoke is not None and smoke.status == "failed" and smoke.failure is not None
    assert smoke.failure.failure_class == "timeout"
    assert statuses(rec)["reproduce"] == "skipped"
    assert len(rec.experiments[0].repeats) == 1  # stops at the first failed repeat
    assert rec.experiments[0].repeats[0].exit_code == -9
    listed = [int(p) for p in pids.read_text().split()]
    assert len(listed) == 3
    time.sleep(0.2)
    survivors = [p for p in listed if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert survivors == []


def test_python_version_unsatisfiable(make_manifest_data: Any, settings: Settings) -> None:
    m = manifest(make_manifest_data, environment={"python": "==3.99.*"})
    rec = evaluate(m, EvaluateOptions(repeats=1), settings)
    build = rec.stage("build")
    assert build is not None and build.failure is not None
    assert build.failure.failure_class == "python-version"
    assert "--backend docker" in build.failure.hint
    assert statuses(rec)["import"] == "skipped"
    # Python-2-only code gets the true remedy: no backend builds Python 2 environments
    py2 = evaluate(manifest(make_manifest_data, environment={"python": ">=2.7,<3"}), EvaluateOptions(repeats=1),
                   settings).stage("build")
    assert py2 is not None and py2.failure is not None and py2.failure.failure_class == "python-version"
    assert py2.failure.hint.startswith("the library is Python 2 code")


def test_missing_version_is_source_unavailable(make_manifest_data: Any, settings: Settings) -> None:
    m = manifest(
        make_manifest_data,
        source={"kind": "pypi", "repository": "example/tinylib", "package": "tinylib", "version": "9.9"},
    )
    rec = evaluate(m, EvaluateOptions(repeats=1), settings)
    fetch = rec.stage("fetch")
    assert fetch is not None and fetch.status == "failed" and fetch.failure is not None
    assert fetch.failure.failure_class == "source-unavailable"
    assert [s.status for s in rec.stages[1:]] == ["skipped"] * 4
    assert rec.source.version == "9.9"


def test_metric_mismatch(make_manifest_data: Any, settings: Settings) -> None:
    data = manifest(make_manifest_data).model_dump(mode="json")
    data["experiments"][0]["metrics"]["accuracy"]["reference"] = 0.2
    rec = evaluate(parse_manifest(data, "tinylib.yaml"), EvaluateOptions(repeats=1), settings)
    assert statuses(rec)["smoke"] == "passed"
    rep = rec.stage("reproduce")
    assert rep is not None and rep.failure is not None and rep.failure.failure_class == "metric-mismatch"
    assert rec.reproducibility.verdict == "mismatch"
    assert rec.reproducibility.details["metrics"]["smoke"]["accuracy"]["delta"] == pytest.approx(0.55)


@pytest.mark.parametrize(
    ("line", "named"),
    [('{"metrics": {"accuracy": NaN}}', "accuracy=NaN"),
     ('{"metrics": {"accuracy": 0.75, "loss": Infinity}}', "loss=Infinity"),
     ('{"metrics": {"accuracy": "0.75"}}', 'accuracy="0.75"'),
     ('{"metrics": {}}', "names no metric")],
)
def test_non_finite_or_empty_metrics_fail_the_repeat(
    make_manifest_data: Any, settings: Settings, tmp_path: Path, line: str, named: str
) -> None:
    from harness.store import load_records, write_record

    script = settings.manifests_dir / "smoke" / "badmetric.py"
    script.write_text(f"print({line!r})\n")
    m = manifest(make_manifest_data, experiments=[{
        "name": "smoke", "script": "smoke/badmetric.py",
        "metrics": {"accuracy": {"reference": 0.75, "tolerance": 0.01}},
    }])
    rec = evaluate(m, EvaluateOptions(repeats=2), settings)
    smoke = rec.stage("smoke")
    assert smoke is not None and smoke.status == "failed" and smoke.failure is not None
    assert smoke.failure.failure_class == "no-metrics"
    assert named in smoke.failure.message
    assert len(rec.experiments[0].repeats) == 1 and rec.experiments[0].repeats[0].metrics == {}
    assert rec.reproducibility.verdict == "not-run"
    # the stored record is strict JSON (no NaN/Infinity constants) and loads back
    path = write_record(rec, tmp_path / "results")

    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name} in the record")

    json.loads(path.read_text(), parse_constant=no_constants)
    assert [r.run_id for r in load_records(tmp_path / "results")] == [rec.run_id]


def test_failure_message_and_log_tail_are_capped(make_manifest_data: Any, settings: Settings) -> None:
    from harness.pipeline import LOG_TAIL_MAX_CHARS, MESSAGE_MAX_CHARS

    script = settings.manifests_dir / "smoke" / "bigfail.py"
    script.write_text("import sys\nprint('x' * 200_000)\nsys.stderr.write('y' * 100_000 + 'END\\n')\n"
                      "raise ValueError('v' * 5000 + 'TAIL')\n")
    m = manifest(make_manifest_data, experiments=[{"name": "smoke", "script": "smoke/bigfail.py"}])
    rec = evaluate(m, EvaluateOptions(repeats=1), settings)
    smoke = rec.stage("smoke")
    assert smoke is not None and smoke.failure is not None and smoke.failure.failure_class == "crash"
    assert len(smoke.failure.message) == MESSAGE_MAX_CHARS
    assert smoke.failure.message.startswith("smoke: exit code 1: ValueError: vvv")
    assert smoke.failure.message.endswith("v\u2026")
    assert len(smoke.log_tail) == LOG_TAIL_MAX_CHARS
    assert smoke.log_tail.endswith("v" * 100 + "TAIL")  # the end of the log is what is kept


def test_evaluate_command_stores_and_prints_the_record_when_the_page_fails(
    make_manifest_data: Any, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    import yaml

    from harness.commands.evaluate import run_evaluate
    from harness.store import load_records

    data = manifest(make_manifest_data).model_dump(mode="json", exclude_defaults=True)
    (settings.manifests_dir / "tinylib.yaml").write_text(yaml.safe_dump(data))
    results, reports = tmp_path / "results", tmp_path / "reports"
    reports.mkdir()
    (reports / "badges").write_text("a file where the page's badges folder goes")  # rendering fails
    local = dataclasses.replace(settings, results_dir=results, reports_dir=reports)
    record = run_evaluate(local, "tinylib", EvaluateOptions(repeats=1), as_json=True)
    captured = capsys.readouterr()
    assert json.loads(captured.out)["run_id"] == record.run_id  # the record is still printed
    assert "warning: could not render the page" in " ".join(captured.err.split())
    assert [r.run_id for r in load_records(results)] == [record.run_id]  # and stored


def test_missing_data(make_manifest_data: Any, settings: Settings, tmp_path: Path) -> None:
    data = manifest(make_manifest_data).model_dump(mode="json")
    data["experiments"][0]["data"] = [
        {
            "name": "traffic",
            "url": "https://example.org/t.csv",
            "checksum": "sha256:" + "0" * 64,
            "path": "t.csv",
        }
    ]
    cache = tmp_path / "data"
    cache.mkdir()
    (cache / "t.csv").write_text("not the right bytes")
    rec = evaluate(
        parse_manifest(data, "tinylib.yaml"),
        EvaluateOptions(repeats=1),
        settings.with_overrides(data_cache=cache),
    )
    smoke = rec.stage("smoke")
    assert smoke is not None and smoke.failure is not None and smoke.failure.failure_class == "missing-data"
    assert "sha256" in smoke.failure.message


def test_gpu_requested_without_gpu(make_manifest_data: Any, settings: Settings) -> None:
    from harness import gpu

    if gpu.has_gpu():
        pytest.skip("this host has a GPU")
    rec = evaluate(manifest(make_manifest_data), EvaluateOptions(device="gpu", repeats=1), settings)
    assert rec.device == "gpu"
    assert statuses(rec) == {
        "fetch": "passed",
        "build": "passed",
        "import": "passed",
        "smoke": "failed",
        "reproduce": "skipped",
    }
    smoke = rec.stage("smoke")
    assert smoke is not None and smoke.failure is not None and smoke.failure.failure_class == "cuda-unavailable"
    assert "no GPU" in smoke.failure.message


def test_edge_profile_limits_the_run(make_manifest_data: Any, settings: Settings, offline: dict[str, Any]) -> None:
    (offline["manifests"] / "smoke" / "cpus.py").write_text(
        "import json, os\nprint(json.dumps({'metrics': {'cpus': len(os.sched_getaffinity(0)),"
        " 'omp': int(os.environ['OMP_NUM_THREADS'])}}))\n"
    )
    m = manifest(make_manifest_data, experiments=[{"name": "smoke", "script": "smoke/cpus.py"}])
    rec = evaluate(m, EvaluateOptions(profile="edge-1g", repeats=1), settings)
    assert rec.profile == "edge-1g" and rec.device == "cpu"
    assert rec.experiments[0].repeats[0].metrics == {"cpus": 1.0, "omp": 1.0}


def test_bad_usage_raises_before_running(make_manifest_data: Any, settings: Settings) -> None:
    from harness.errors import UsageError

    m = manifest(make_manifest_data)
    for options in (
        EvaluateOptions(profile="mainframe"),
        EvaluateOptions(backend="conda"),
        EvaluateOptions(device="tpu"),
    ):
        with pytest.raises(UsageError):
            evaluate(m, options, settings)
    assert sys.executable


def test_concurrent_builds_of_one_spec_share_one_env(make_manifest_data: Any, settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from harness.envs.venv import VenvBackend
    from harness.pipeline import env_spec

    s = settings.with_overrides(cache_dir=settings.cache_dir / "concurrent")
    spec = env_spec(manifest(make_manifest_data), s, "cpu", "uv")
    partial = s.envs_dir / spec.fingerprint()
    partial.mkdir(parents=True)
    (partial / "junk-from-a-killed-build").write_text("x")
    backend = VenvBackend()
    with ThreadPoolExecutor(3) as pool:
        built = list(pool.map(lambda _: backend.build(spec, None, s), range(3)))
    assert sorted(b.cached for b in built) == [False, True, True]
    assert {b.location for b in built} == {str(partial)}
    assert not (partial / "junk-from-a-killed-build").exists()
    assert (partial / MARKER).is_file()


def test_pip_fallback_builds_the_same_spec(make_manifest_data: Any, settings: Settings) -> None:
    from harness.envs.venv import VenvBackend
    from harness.pipeline import env_spec

    s = settings.with_overrides(installer="pip")
    backend = VenvBackend()
    assert backend.installer(s) == "pip"
    spec = env_spec(manifest(make_manifest_data), s, "cpu", backend.installer(s))
    built = backend.build(spec, None, s)
    assert not built.cached and "-m pip install" in built.log
    out = Path(built.location) / "lib"
    assert list(out.glob("python3*/site-packages/tinylib/__init__.py"))
    rec = evaluate(manifest(make_manifest_data), EvaluateOptions(repeats=1), s)
    assert rec.facts["run"]["installer"] == "pip"
    assert rec.reproducibility.verdict == "reproduced"


def test_requirements_and_steps_modes_use_the_checkout(settings: Settings, tmp_path: Path) -> None:
    from harness.envs.base import EnvSpec
    from harness.envs.venv import VenvBackend
    from harness.errors import BuildError

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "reqs.txt").write_text("tinylib==1.0\n")
    backend = VenvBackend()
    spec = EnvSpec(
        library="tinylib",
        python=">=3.8",
        install="requirements",
        requirements_file="reqs.txt",
        constraints=("torch==2.13.0",),
    )
    built = backend.build(spec, checkout, settings)
    assert list(Path(built.location).glob("lib/python3*/site-packages/tinylib/__init__.py"))

    step = ("python", "-c", "import pathlib, sys; pathlib.Path('built-by').write_text(sys.prefix)")
    spec2 = EnvSpec(library="tinylib", python=">=3.8", install="steps", steps=(step,), requirements=("tinylib==1.0",))
    built2 = backend.build(spec2, checkout, settings)
    assert (checkout / "built-by").read_text() == built2.location  # the venv's python came first on PATH
    assert list(Path(built2.location).glob("lib/python3*/site-packages/tinylib/__init__.py"))

    spec3 = EnvSpec(library="tinylib", python=">=3.8", install="requirements", requirements_file="nope.txt")
    with pytest.raises(BuildError, match="not in the checkout"):
        backend.build(spec3, checkout, settings)
    assert not (settings.envs_dir / spec3.fingerprint()).exists()  # a failed build leaves nothing


def test_an_older_host_python_is_chosen_when_required(make_manifest_data: Any, settings: Settings) -> None:
    from packaging.version import Version

    from harness.envs.venv import host_pythons

    older = [p for p in host_pythons() if p.version < Version("3.11")]
    if not older:
        pytest.skip("no host Python older than 3.11")
    rec = evaluate(manifest(make_manifest_data, environment={"python": "<3.11"}), EvaluateOptions(repeats=1), settings)
    assert Version(rec.facts["run"]["python_version"]) == older[0].version
    assert rec.reproducibility.verdict == "reproduced"


def test_device_resolution() -> None:
    from harness import gpu
    from harness.envs.profiles import get_profile
    from harness.errors import UsageError
    from harness.pipeline import resolve_device

    assert resolve_device("auto", get_profile("default")) == ("gpu" if gpu.has_gpu() else "cpu")
    assert resolve_device("auto", get_profile("edge-1g")) == "cpu"
    assert resolve_device("gpu", get_profile("default")) == "gpu"  # recorded as cuda-unavailable later
    with pytest.raises(UsageError, match="no GPU"):
        resolve_device("gpu", get_profile("gateway-4g"))


def test_a_harness_bug_is_an_error_stage_not_a_crash(
    make_manifest_data: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.envs.venv import VenvBackend

    def broken_build(*_: object, **__: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(VenvBackend, "build", broken_build)
    rec = evaluate(manifest(make_manifest_data), EvaluateOptions(repeats=1), settings)
    assert statuses(rec) == {
        "fetch": "passed",
        "build": "error",
        "import": "skipped",
        "smoke": "skipped",
        "reproduce": "skipped",
    }
    build = rec.stage("build")
    assert build is not None and build.failure is not None
    assert build.failure.failure_class == "harness-error" and "ZeroDivisionError: boom" in build.failure.message
    assert "broken_build" in build.log_tail  # the traceback


def test_import_cache_keys_and_unreadable_entries(tmp_path: Path) -> None:
    """The stored verdict is per (environment, imports, python_path, device, limits); junk reads as a miss."""
    from harness import importcache
    from harness.envs.base import BuiltEnv, Limits, ProcessResult

    env = BuiltEnv(kind="venv", fingerprint="f" * 16, location=str(tmp_path), python="python",
                   python_version="3.11.7", cached=True)
    key = importcache.cache_key(env, ["tinylib"], [], "cpu", Limits())
    others = {
        importcache.cache_key(env, ["tinylib", "tinylib.sub"], [], "cpu", Limits()),
        importcache.cache_key(env, ["tinylib"], ["src"], "cpu", Limits()),
        importcache.cache_key(env, ["tinylib"], [], "gpu", Limits()),
        importcache.cache_key(env, ["tinylib"], [], "cpu", Limits(cpus=1, memory_bytes=2**30, gpu=False)),
    }
    assert key not in others and len(others) == 4
    assert importcache.lookup(env, key) is None
    result = ProcessResult(exit_code=0, wall_s=1.23456, cpu_s=0.5, peak_rss_bytes=42 * 2**20)
    stored = importcache.store(env, key, result, {"tinylib": "1.0"})
    assert stored is not None and importcache.lookup(env, key) == stored
    assert (stored.wall_s, stored.peak_rss_bytes, stored.versions) == (1.2346, 42 * 2**20, {"tinylib": "1.0"})
    (tmp_path / f"{importcache.PREFIX}{key}.json").write_text("{not json")
    assert importcache.lookup(env, key) is None
    image = BuiltEnv(kind="docker", fingerprint="f" * 16, location="harness-env/tinylib:1.0-py3.11-abc",
                     python="/opt/venv/bin/python", python_version="3.11.7", cached=True)
    assert importcache.store(image, key, result, {}) is None and importcache.lookup(image, key) is None
