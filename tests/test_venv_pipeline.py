"""Integration: real venvs built OFFLINE from tiny wheels this test makes, driven through all stages.

A local PEP 503 index (``file://``) holds hand-made wheels: ``tinylib`` 1.0 (fine), ``tinylib`` 2.0
(imports a module nobody declared), ``undeclared-mod`` 1.0 (that module). uv runs with
``UV_OFFLINE=1`` and pip without its config files, so nothing leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
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


def make_wheel(dest: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal valid pure-Python wheel, written by hand (no build backend needed offline)."""
    dist = f"{name.replace('-', '_')}-{version}"
    entries = {path: text.encode() for path, text in files.items()}
    entries[f"{dist}.dist-info/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
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
            f'<a href="../../files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">'
            f"{w.name}</a>\n"
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
                {
                    "tinylib/__init__.py": "__version__ = '1.0'\n\ndef score(seed):\n"
                    "    return 0.75 + 0.0 * seed\n"
                },
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
            make_wheel(
                root / "files", "undeclared-mod", "1.0", {"undeclared_mod/__init__.py": "VALUE = 0.5\n"}
            ),
        ),
    ]
    index = make_index(root, wheels)
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
    m = manifest(make_manifest_data)
    calls: list[tuple[str, str]] = []
    rec = evaluate(m, EvaluateOptions(repeats=2), settings, lambda s, st, _: calls.append((s, st)))
    assert statuses(rec) == dict.fromkeys(("fetch", "build", "import", "smoke", "reproduce"), "passed"), (
        rec.stages[2].log_tail
    )
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

    again = evaluate(m, EvaluateOptions(repeats=1), settings)
    build2, fetch2 = again.stage("build"), again.stage("fetch")
    assert build2 is not None and build2.cached and again.facts["run"]["env_cached"] is True
    assert fetch2 is not None and fetch2.cached
    assert again.job_id == rec.job_id and again.run_id != rec.run_id


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


def test_timeout_kills_the_experiment_tree(
    make_manifest_data: Any, settings: Settings, tmp_path: Path
) -> None:
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
    survivors = [
        p for p in listed if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert survivors == []


def test_python_version_unsatisfiable(make_manifest_data: Any, settings: Settings) -> None:
    m = manifest(make_manifest_data, environment={"python": "<3.0"})
    rec = evaluate(m, EvaluateOptions(repeats=1), settings)
    build = rec.stage("build")
    assert build is not None and build.failure is not None
    assert build.failure.failure_class == "python-version"
    assert "--backend docker" in build.failure.hint
    assert statuses(rec)["import"] == "skipped"


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
    assert (
        smoke is not None and smoke.failure is not None and smoke.failure.failure_class == "cuda-unavailable"
    )
    assert "no GPU" in smoke.failure.message


def test_edge_profile_limits_the_run(
    make_manifest_data: Any, settings: Settings, offline: dict[str, Any]
) -> None:
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
