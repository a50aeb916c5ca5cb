"""The docker backend against a real engine: a tiny library built into an image from a real git repo,
then run in the sandbox: no network, read-only root, memory limit (OOM), timeout, cgroup numbers.

Skipped (with the reason) only where no Docker engine answers; .ci/docker-setup.sh starts one and
bootstraps the base images. Every test checks that no harness container is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import images
from harness.classify import classify_run
from harness.config import Settings, load_settings
from harness.envs.base import BuiltEnv, EnvSpec, Limits, ProcessResult
from harness.envs.docker import DockerBackend
from harness.errors import BuildError
from harness.pipeline import constraint_lines

pytestmark = pytest.mark.docker

MIB = 2**20
BASE_RELEASES = ("bookworm", "bullseye")


@pytest.fixture(scope="module")
def backend() -> DockerBackend:
    b = DockerBackend()
    reason = b.unavailable_reason()
    if reason:
        pytest.skip(f"no Docker engine: {reason}")
    return b


@pytest.fixture(scope="module")
def settings(harness_session_env: dict[str, Path], backend: DockerBackend) -> Settings:
    """The user's settings (indexes, CA) with the session's cache and torch constraint; bases present."""
    s = load_settings()
    for release in BASE_RELEASES:
        if not images.image_exists(backend.client(), images.base_tag(release)):
            if os.geteuid() != 0:
                pytest.fail(f"base image {images.base_tag(release)} is missing: run "
                            f"`harness image bootstrap --release {release}` as root (.ci/docker-setup.sh)")
            images.bootstrap(release, client=backend.client(), work_dir=s.cache_dir / "bootstrap")
    return s


def _git(repo: Path, *args: str) -> str:
    env = os.environ | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
                        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
                        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real git repository of a tiny installable library; returns (checkout, commit)."""
    repo = tmp_path_factory.mktemp("tinylib-repo")
    repo.chmod(0o755)  # as a clone is: the container's unprivileged user reads it
    (repo / "tinylib").mkdir()
    (repo / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "tinylib"
        version = "0.1.0"
        requires-python = ">=3.9"
        """))
    (repo / "tinylib" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "tiny library")
    return repo, _git(repo, "rev-parse", "HEAD")


def tiny_spec(commit: str, settings: Settings, **kw: Any) -> EnvSpec:
    fields: dict[str, Any] = {"library": "tinylib", "python": ">=3.9", "install": "package",
                              "source_commit": commit, "constraints": constraint_lines(settings)}
    return EnvSpec(**(fields | kw))


def remove_tiny_images(backend: DockerBackend) -> None:
    for item in images.env_images(backend.client()):
        if item["library"] == "tinylib":
            backend.client().images.remove(item["tag"])


@pytest.fixture(scope="module")
def tiny_env(backend: DockerBackend, settings: Settings, tiny_repo: tuple[Path, str]) -> Iterator[BuiltEnv]:
    """The tiny library's image, built for real (earlier images of it are removed first and after)."""
    checkout, commit = tiny_repo
    remove_tiny_images(backend)
    built = backend.build(tiny_spec(commit, settings), checkout, settings)
    yield built
    remove_tiny_images(backend)


@pytest.fixture(autouse=True)
def no_leftovers(request: pytest.FixtureRequest) -> Any:
    """After every test: no container the harness made exists any more (running or exited)."""
    yield
    if "backend" in request.fixturenames:
        client = request.getfixturevalue("backend").client()
        left = client.containers.list(all=True, filters={"label": images.MANAGED_LABEL})
        assert left == [], f"containers left behind: {[c.name for c in left]}"


def run_script(backend: DockerBackend, env: BuiltEnv, code: str, tmp_path: Path, *,
               limits: Limits | None = None, timeout_s: float = 120.0) -> ProcessResult:
    """Run a Python script the way the pipeline does: a host script, a host work dir, host PYTHONPATH."""
    scripts, work = tmp_path / "scripts", tmp_path / "work"
    scripts.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    script = scripts / "experiment.py"
    script.write_text(textwrap.dedent(code))
    env_vars = {"HARNESS_WORK_DIR": str(work), "PYTHONPATH": str(scripts), "HARNESS_DEVICE": "cpu",
                "HARNESS_SEED": "0"}
    return backend.run(env, [env.python, str(script)], cwd=work, env_vars=env_vars, timeout_s=timeout_s,
                       limits=limits or Limits())


def last_json(result: ProcessResult) -> dict[str, Any]:
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no JSON line; exit {result.exit_code}; output:\n{result.output[-2000:]}"
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def test_build_and_run_tiny_library(backend: DockerBackend, settings: Settings, tiny_repo: tuple[Path, str],
                                    tiny_env: BuiltEnv, tmp_path: Path) -> None:
    checkout, commit = tiny_repo
    assert tiny_env.kind == "docker"
    assert not tiny_env.cached and tiny_env.build_s > 0
    assert tiny_env.peak_rss_bytes is not None and tiny_env.peak_rss_bytes > 10 * MIB  # pip, from the cgroup
    assert tiny_env.location.startswith("harness-env/tinylib:" + commit[:12] + "-py3.11-")
    assert tiny_env.python_version.startswith("3.11.")
    image = backend.client().images.get(tiny_env.location)
    assert image.labels[images.KIND_LABEL] == "env"
    assert image.attrs["Config"]["User"] == "harness"
    assert not image.attrs["Config"].get("Volumes")  # install-time mounts must not become VOLUMEs
    again = backend.build(tiny_spec(commit, settings), checkout, settings)
    assert again.cached and again.location == tiny_env.location

    result = run_script(backend, tiny_env, """\
        import json, os, sys, tinylib
        open(os.path.join(os.environ["HARNESS_WORK_DIR"], "out.txt"), "w").write("written")
        open("/tmp/scratch", "w").write("tmpfs")
        print(json.dumps({"metrics": {"double": tinylib.double(21)}, "uid": os.getuid(), "cwd": os.getcwd(),
                          "prefix": sys.prefix, "lib": tinylib.__file__}))
        """, tmp_path)
    assert result.exit_code == 0, result.output
    data = last_json(result)
    assert data["metrics"] == {"double": 42}
    assert data["uid"] != 0
    assert data["cwd"] == "/work"
    assert data["prefix"] == "/opt/harness-env"
    assert data["lib"].startswith("/opt/harness-env/lib/python3.11/site-packages/tinylib")
    assert (tmp_path / "work" / "out.txt").read_text() == "written"  # the work dir is the host's
    assert result.how["method"] == "cgroup"
    assert "memory.max_usage_in_bytes" in result.how["rss"] or "memory.peak" in result.how["rss"]
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes > 0


def test_run_phase_has_no_network(backend: DockerBackend, tiny_env: BuiltEnv, tmp_path: Path) -> None:
    result = run_script(backend, tiny_env, """\
        import json, os, socket
        outcomes = []
        for host, port in [("1.1.1.1", 53), ("pypi.org", 443), ("8.8.8.8", 443)]:
            try:
                socket.create_connection((host, port), timeout=5).close()
                outcomes.append("connected")
            except OSError as exc:
                outcomes.append(type(exc).__name__)
        print(json.dumps({"outcomes": outcomes, "interfaces": sorted(os.listdir("/sys/class/net"))}))
        """, tmp_path)
    assert result.exit_code == 0, result.output
    data = last_json(result)
    assert "connected" not in data["outcomes"]
    assert data["interfaces"] == ["lo"]
    # and a script that needs the network fails as a crash, with the reason in its log
    failing = run_script(backend, tiny_env, """\
        import socket
        socket.create_connection(("1.1.1.1", 53), timeout=5)
        """, tmp_path)
    assert failing.exit_code == 1
    assert "Network is unreachable" in failing.stderr or "OSError" in failing.stderr


def test_writes_outside_the_work_dir_fail(backend: DockerBackend, tiny_env: BuiltEnv, tmp_path: Path) -> None:
    result = run_script(backend, tiny_env, """\
        import json, os
        targets = ["/opt/harness-env/pwned", "/etc/pwned", "/pwned", "/home/pwned",
                   os.path.join(os.path.dirname(os.path.abspath(__file__)), "pwned")]
        outcomes = {}
        for path in targets:
            try:
                open(path, "w").write("x")
                outcomes[path] = "written"
            except OSError as exc:
                outcomes[path] = exc.strerror
        print(json.dumps(outcomes))
        """, tmp_path)
    assert result.exit_code == 0, result.output
    outcomes = last_json(result)
    assert len(outcomes) == 5
    assert all(v != "written" for v in outcomes.values()), outcomes
    assert all(v == "Read-only file system" for v in outcomes.values()), outcomes
    assert not (tmp_path / "scripts" / "pwned").exists()
    # a script that insists on writing there fails
    failing = run_script(backend, tiny_env, "open('/opt/harness-env/pwned', 'w').write('x')\n", tmp_path)
    assert failing.exit_code == 1
    assert "Read-only file system" in failing.stderr


def test_peak_memory_and_cpu_come_from_the_cgroup(backend: DockerBackend, tiny_env: BuiltEnv,
                                                  tmp_path: Path) -> None:
    result = run_script(backend, tiny_env, """\
        import time
        block = b"\\x01" * (200 * 1024 * 1024)  # 200 MiB, every page written
        start = time.process_time()
        while time.process_time() - start < 1.0:
            pass
        del block
        print("{}")
        """, tmp_path)
    assert result.exit_code == 0, result.output
    assert result.peak_rss_bytes is not None
    assert 200 * MIB <= result.peak_rss_bytes <= 260 * MIB, result.peak_rss_bytes
    assert result.cpu_s >= 1.0, result.cpu_s
    assert result.cpu_s <= result.wall_s + 0.5


def test_allocating_past_the_limit_is_out_of_memory(backend: DockerBackend, tiny_env: BuiltEnv,
                                                    tmp_path: Path) -> None:
    limit = 256 * MIB
    result = run_script(backend, tiny_env, """\
        blocks = []
        for _ in range(64):
            blocks.append(b"\\x01" * (16 * 1024 * 1024))  # up to 1 GiB, 16 MiB at a time
        print("survived")
        """, tmp_path, limits=Limits(memory_bytes=limit, cpus=1))
    assert result.oom_killed
    assert result.exit_code == 137  # SIGKILL from the kernel's OOM killer
    assert "survived" not in result.stdout
    assert result.peak_rss_bytes is not None and 200 * MIB <= result.peak_rss_bytes <= limit
    c = classify_run(result, ["tinylib"], metrics_found=False)
    assert c is not None and c.failure_class == "out-of-memory"


def test_a_hanging_run_times_out_and_its_container_is_gone(backend: DockerBackend, tiny_env: BuiltEnv,
                                                           tmp_path: Path) -> None:
    result = run_script(backend, tiny_env, """\
        import subprocess, time
        subprocess.Popen(["sleep", "1000"])  # a child too: the whole container must go
        print("started", flush=True)
        time.sleep(1000)
        """, tmp_path, timeout_s=3.0)
    assert result.timed_out
    assert result.exit_code is None
    assert 3.0 <= result.wall_s < 30.0
    assert "started" in result.stdout
    c = classify_run(result, ["tinylib"], metrics_found=False)
    assert c is not None and c.failure_class == "timeout"
    left = backend.client().containers.list(all=True, filters={"label": images.MANAGED_LABEL})
    assert left == []


def test_pids_limit_stops_a_fork_bomb(backend: DockerBackend, tiny_env: BuiltEnv, tmp_path: Path) -> None:
    result = run_script(backend, tiny_env, """\
        import json, subprocess
        procs, error = [], ""
        try:
            for _ in range(200):
                procs.append(subprocess.Popen(["sleep", "60"]))
        except OSError as exc:
            error = exc.strerror
        print(json.dumps({"started": len(procs), "error": error}))
        """, tmp_path, limits=Limits(pids=32))
    data = last_json(result)
    assert data["started"] < 32
    assert data["error"] == "Resource temporarily unavailable"


def test_failed_build_leaves_no_container_or_image(backend: DockerBackend, settings: Settings,
                                                   tiny_repo: tuple[Path, str]) -> None:
    checkout, commit = tiny_repo
    client = backend.client()
    before = {i.id for i in client.images.list(all=True)}
    spec = tiny_spec(commit, settings, install="steps", steps=(("sh", "-c", "echo broken step >&2; exit 3"),))
    with pytest.raises(BuildError) as info:
        backend.build(spec, checkout, settings)
    assert "broken step" in info.value.log_tail
    after = {i.id for i in client.images.list(all=True)}
    assert after - before == set(), "the failed build left images behind"
    plan = backend.plan(spec, checkout, settings)
    assert not images.image_exists(client, plan.tag)
    assert not images.image_exists(client, plan.tag + "-prepared")


def test_requested_python_builds_on_another_base(backend: DockerBackend, settings: Settings,
                                                 tiny_repo: tuple[Path, str], tmp_path: Path) -> None:
    checkout, commit = tiny_repo
    old = DockerBackend(python="3.9")
    env = old.build(tiny_spec(commit, settings), checkout, settings)
    assert env.python_version.startswith("3.9.")
    assert "-py3.9-" in env.location
    result = run_script(old, env, """\
        import json, platform, tinylib
        print(json.dumps({"python": platform.python_version(), "double": tinylib.double(2)}))
        """, tmp_path)
    data = last_json(result)
    assert data["python"].startswith("3.9.") and data["double"] == 4
    # a version the library excludes is a classified python-version failure
    with pytest.raises(BuildError) as info:
        old.build(tiny_spec(commit, settings, python=">=3.10"), checkout, settings)
    assert info.value.failure_class == "python-version"


DRIVER = """\
import sys
from pathlib import Path
from harness.envs.base import BuiltEnv, Limits
from harness.envs.docker import DockerBackend
env = BuiltEnv(kind="docker", fingerprint="-", location=sys.argv[1], python="/opt/harness-env/bin/python",
               python_version="", cached=True)
work = Path(sys.argv[2])
DockerBackend().run(env, [env.python, "-c", "import time; print('hanging', flush=True); time.sleep(1000)"],
                    cwd=work, env_vars={"HARNESS_WORK_DIR": str(work)}, timeout_s=600, limits=Limits())
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_removes_its_container(backend: DockerBackend, tiny_env: BuiltEnv, tmp_path: Path,
                                                  sig: signal.Signals) -> None:
    client = backend.client()
    run_filter = {"label": [images.MANAGED_LABEL, f"{images.KIND_LABEL}=run"]}
    (tmp_path / "work").mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver), tiny_env.location, str(tmp_path / "work")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not client.containers.list(filters=run_filter):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run container never started"
            time.sleep(0.2)
        time.sleep(1.0)  # let the command start inside
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    assert client.containers.list(all=True, filters=run_filter) == []


def test_a_checkout_as_working_directory_is_read_only(backend: DockerBackend, tiny_env: BuiltEnv,
                                                      tiny_repo: tuple[Path, str], tmp_path: Path) -> None:
    checkout, _ = tiny_repo
    work = tmp_path / "work"
    work.mkdir()
    code = textwrap.dedent("""\
        import json, os
        out = {"cwd": os.getcwd(), "listing": sorted(os.listdir("."))}
        for name, path in [("checkout", "results.txt"), ("work", os.environ["HARNESS_WORK_DIR"] + "/r.txt")]:
            try:
                open(path, "w").write("x")
                out[name] = "written"
            except OSError as exc:
                out[name] = exc.strerror
        print(json.dumps(out))
        """)
    result = backend.run(tiny_env, ["python", "-c", code], cwd=checkout,
                         env_vars={"HARNESS_WORK_DIR": str(work)}, timeout_s=60, limits=Limits())
    data = last_json(result)
    assert data["cwd"] == "/host" + str(checkout)
    assert "pyproject.toml" in data["listing"]
    assert data["checkout"] == "Read-only file system"
    assert data["work"] == "written" and (work / "r.txt").read_text() == "x"
    assert not (checkout / "results.txt").exists()
