"""Planning docker images without a daemon: Dockerfile snapshots for a few manifests, base choice,
the CPU torch pin, image tags, host-path translation and install-phase mounts.

Snapshots live in tests/snapshots/docker/; regenerate them after a deliberate template change with
HARNESS_UPDATE_SNAPSHOTS=1 pytest tests/test_docker_render.py (and review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import TORCH_PIN, base_manifest_data

from harness.cli import main
from harness.config import Settings
from harness.envs import dockerfile as df
from harness.envs.base import EnvSpec
from harness.envs.docker import PathMap, assumed_bases, install_mounts
from harness.errors import BuildError
from harness.images import BaseImage, choose_base, python_matrix, registry_bases
from harness.manifest import parse_manifest
from harness.pipeline import env_spec

SNAPSHOTS = Path(__file__).parent / "snapshots" / "docker"
CONTAINERS = Path(__file__).resolve().parent.parent / "containers"
COMMIT = "0123456789abcdef0123456789abcdef01234567"



def local(release: str, python: str) -> BaseImage:
    return BaseImage(ref=f"harness-base:debian-{release}", python=python, origin="bootstrap", release=release)


def pypi(slug: str, version: str) -> dict[str, str]:
    return {"kind": "pypi", "repository": f"example/{slug}", "package": slug, "version": version}


BOOKWORM, BULLSEYE = local("bookworm", "3.11.2"), local("bullseye", "3.9.2")
TRIXIE = local("trixie", "3.13.5")


def settings_with_pin(tmp_path: Path, **kw: Any) -> Settings:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"# the project's pin\n{TORCH_PIN}\n")
    return Settings(constraints=(constraints,), containers_dir=CONTAINERS, **kw)


def manifest(slug: str, **changes: Any) -> Any:
    data = base_manifest_data(slug)
    data.update(changes)
    return parse_manifest(data, f"{slug}.yaml")


CASES: dict[str, dict[str, Any]] = {
    # a PyPI release with an extra requirement and a patch, CPU, on the local bookworm base
    "pypi-package": {
        "manifest": {"source": pypi("pypi-package", "1.20.1"),
                     "environment": {"python": ">=3.10,<3.12", "requirements": ["scikit-learn>=1.3"],
                                     "patches": [{"requirement": "numpy<2", "reason": "uses np.float"}]}},
        "device": "cpu", "docker_base": "local", "bases": [BOOKWORM, BULLSEYE],
    },
    # a git checkout installed from its requirements file, Python 3.9 only (bullseye)
    "git-requirements": {
        "manifest": {"source": {"kind": "git", "repository": "example/git-requirements", "commit": COMMIT},
                     "environment": {"python": ">=3.8,<3.10", "install": "requirements",
                                     "requirements_file": "requirements.txt", "python_path": ["src"]}},
        "device": "cpu", "docker_base": "local", "bases": [BOOKWORM, BULLSEYE],
    },
    # a git checkout installed by its own steps, for the GPU (torch pin left as is)
    "git-steps-gpu": {
        "manifest": {"source": {"kind": "git", "repository": "example/git-steps-gpu", "commit": COMMIT},
                     "environment": {"python": ">=3.11", "install": "steps",
                                     "steps": [["pip", "install", "-e", "."],
                                               ["python", "setup.py", "build_ext"]],
                                     "requirements": ["torch"]}},
        "device": "gpu", "docker_base": "local", "bases": [BOOKWORM, BULLSEYE, TRIXIE],
    },
    # where a registry is reachable: NVIDIA's CUDA runtime image, Python from apt
    "registry-cuda": {
        "manifest": {"source": pypi("registry-cuda", "0.3"),
                     "environment": {"python": ">=3.10,<3.11"}},
        "device": "gpu", "docker_base": "registry", "bases": registry_bases(gpu=True),
    },
    # where a registry is reachable: the official slim image
    "registry-slim": {
        "manifest": {"source": pypi("registry-slim", "2.0.0"),
                     "environment": {"python": "==3.12.*"}},
        "device": "cpu", "docker_base": "registry", "bases": registry_bases(gpu=False),
    },
}


def plan_for(case: str, tmp_path: Path) -> df.ImagePlan:
    c = CASES[case]
    settings = settings_with_pin(tmp_path, docker_base=c["docker_base"])
    m = manifest(case, **c["manifest"])
    spec = env_spec(m, settings, c["device"], "pip")
    base = choose_base(spec.python, c["bases"], docker_base=c["docker_base"])
    return df.plan_image(spec, base, has_checkout=m.source.kind == "git", templates_dir=CONTAINERS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_dockerfile_snapshot(case: str, tmp_path: Path) -> None:
    text = df.dry_run_text(plan_for(case, tmp_path))
    snapshot = SNAPSHOTS / f"{case}.txt"
    if os.environ.get("HARNESS_UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text)
    assert snapshot.is_file(), f"no snapshot {snapshot}: run with HARNESS_UPDATE_SNAPSHOTS=1"
    assert text == snapshot.read_text()


def test_rendered_files_say_what_the_case_needs(tmp_path: Path) -> None:
    pypi = plan_for("pypi-package", tmp_path)
    assert "FROM harness-base:debian-bookworm AS base\n" in pypi.dockerfile
    assert "COPY src/" not in pypi.dockerfile
    assert "python -m pip install pypi-package==1.20.1 'scikit-learn>=1.3' 'numpy<2'" in pypi.install_script
    assert pypi.files["harness/constraints.txt"] == "torch==2.13.0+cpu\n"
    assert pypi.tag.startswith("harness-env/pypi-package:1.20.1-py3.11-")

    req = plan_for("git-requirements", tmp_path)
    assert "FROM harness-base:debian-bullseye AS base" in req.dockerfile
    assert f"COPY src/ {df.SRC}/" in req.dockerfile
    assert f"python -m pip install -r {df.SRC}/requirements.txt" in req.install_script
    assert req.tag.startswith(f"harness-env/git-requirements:{COMMIT[:12]}-py3.9-")

    steps = plan_for("git-steps-gpu", tmp_path)
    assert steps.files["harness/constraints.txt"] == "torch==2.13.0\n"  # GPU images may use CUDA torch
    lines = steps.install_script.splitlines()
    assert lines.index("pip install -e .") < lines.index("python setup.py build_ext") < \
        lines.index("python -m pip install torch")

    cuda = plan_for("registry-cuda", tmp_path)
    assert "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04 AS base" in cuda.dockerfile
    assert "apt-get install -y --no-install-recommends" in cuda.dockerfile

    slim = plan_for("registry-slim", tmp_path)
    assert "FROM python:3.12-slim AS base" in slim.dockerfile
    assert "apt-get" not in slim.dockerfile


def test_cpu_images_pin_the_cpu_build_of_torch() -> None:
    lines = ("torch==2.13.0", "torch == 2.13.0 ; python_version >= '3.10'", "torch==2.13.0+cpu",
             "torchvision==0.29.1", "numpy<2")
    assert df.image_constraints(lines, "cpu") == [
        "torch==2.13.0+cpu", "torch==2.13.0+cpu ; python_version >= '3.10'", "torch==2.13.0+cpu",
        "torchvision==0.29.1", "numpy<2"]
    assert df.image_constraints(lines, "gpu") == list(lines)


def test_tag_follows_the_spec_and_the_base_image(tmp_path: Path) -> None:
    spec = EnvSpec(library="x", python=">=3.9", install="package", requirements=("x==1.0",))
    one = df.plan_image(spec, BOOKWORM, has_checkout=False, templates_dir=CONTAINERS)
    same = df.plan_image(spec, BOOKWORM, has_checkout=False, templates_dir=CONTAINERS)
    assert one.tag == same.tag
    more = EnvSpec(library="x", python=">=3.9", install="package", requirements=("x==1.0", "numpy<2"))
    assert df.plan_image(more, BOOKWORM, has_checkout=False, templates_dir=CONTAINERS).tag != one.tag
    rebuilt = BaseImage(ref=BOOKWORM.ref, python="3.11.2", origin="bootstrap", image_id="sha256:other")
    assert df.plan_image(spec, rebuilt, has_checkout=False, templates_dir=CONTAINERS).tag != one.tag
    assert one.tag.startswith("harness-env/x:1.0-py3.11-")


def test_base_choice_and_python_version_failures() -> None:
    bases = [BOOKWORM, BULLSEYE]
    assert choose_base(">=3.8,<3.10", bases) == BULLSEYE
    assert choose_base(">=3.9", bases, requested="3.9") == BULLSEYE
    assert choose_base(">=3.9", bases, requested="3.11") == BOOKWORM
    assert python_matrix(">=3.9", [BOOKWORM, BULLSEYE, TRIXIE]) == ["3.9", "3.11", "3.13"]
    assert python_matrix(">=3.10,<3.13", [BOOKWORM, BULLSEYE, TRIXIE]) == ["3.11"]

    with pytest.raises(BuildError) as newer:
        choose_base(">=3.12", bases)
    assert newer.value.failure_class == "python-version"
    assert "harness image bootstrap --release trixie" in newer.value.hint
    assert "3.9.2, 3.11.2" in newer.value.message

    with pytest.raises(BuildError) as older:
        choose_base("<3.8", bases)
    assert older.value.failure_class == "python-version"
    assert "no Debian release here ships Python" in older.value.hint

    with pytest.raises(BuildError) as excluded:
        choose_base(">=3.10", bases, requested="3.9")
    assert excluded.value.failure_class == "python-version"
    assert "declares Python '>=3.10'" in excluded.value.hint

    with pytest.raises(BuildError) as none:
        choose_base(">=3.9", [])
    assert "available: none" in none.value.message


def test_dry_run_cli_prints_the_plan_without_an_engine(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # no engine answers here
    assert [b.release for b in assumed_bases()] == ["bookworm", "bullseye"]
    code = main(["evaluate", "--lib", "adversarial-robustness-toolbox", "--backend", "docker", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("# no Docker engine answered: planned on the default bootstrap bases\n")
    assert "# image: harness-env/adversarial-robustness-toolbox:1.20.1-py3.11-" in out
    assert "FROM harness-base:debian-bookworm AS base\n" in out
    assert "python -m pip install adversarial-robustness-toolbox==1.20.1" in out
    assert "torch==2.13.0+cpu" in out  # the session's constraint, CPU build
    assert main(["evaluate", "--lib", "adversarial-robustness-toolbox", "--dry-run"]) == 2


def test_host_paths_are_translated_whole_components() -> None:
    paths = PathMap()
    paths.add("/data/run/work", "rw", "/work")
    paths.add("/data/lib", "ro")
    paths.add("/data/lib/smoke/x.py", "ro")
    paths.add("/", "ro")  # never mounted
    paths.add("/etc", "ro")
    paths.add("/opt/harness-env/bin", "ro")  # lives in the image
    assert set(paths.binds) == {"/data/run/work", "/data/lib", "/data/lib/smoke/x.py"}
    assert paths.translate("/data/lib/smoke/x.py") == "/host/data/lib/smoke/x.py"
    assert paths.translate("/data/lib:/data/library:/data/run/work/out") == \
        "/host/data/lib:/data/library:/work/out"
    assert paths.translate("--out=/data/run/work") == "--out=/work"
    assert paths.translate("x/data/lib") == "x/data/lib"
    volumes = paths.volumes()
    assert volumes["/data/run/work"] == {"bind": "/work", "mode": "rw"}
    assert "/data/lib/smoke/x.py" not in volumes  # covered by the read-only /data/lib mount


def test_install_phase_mounts_local_indexes_read_only(tmp_path: Path) -> None:
    index_root = tmp_path / "mirror"
    (index_root / "simple").mkdir(parents=True)
    (index_root / "files").mkdir()
    links = tmp_path / "wheels"
    links.mkdir()
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings(index_url="https://pypi.example.org/simple",
                        extra_index_urls=(f"file://{index_root}/simple", f"file://{tmp_path}/absent/simple"),
                        find_links=(str(links), "https://download.example.org/wheels"), ca_bundle=str(ca))
    spec = EnvSpec(library="x", python=">=3.9", install="package")
    volumes, env = install_mounts(spec, settings)
    assert volumes[str(index_root)] == {"bind": "/opt/harness-index/1", "mode": "ro"}  # simple/ + files/
    assert volumes[str(links)] == {"bind": "/opt/harness-links/0", "mode": "ro"}
    assert volumes[str(ca)] == {"bind": "/etc/ssl/certs/ca-certificates.crt", "mode": "ro"}
    assert env["PIP_INDEX_URL"] == "https://pypi.example.org/simple"
    assert env["PIP_EXTRA_INDEX_URL"] == "file:///opt/harness-index/1/simple"  # the absent one is dropped
    assert env["PIP_FIND_LINKS"] == "/opt/harness-links/0 https://download.example.org/wheels"
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert not any(str(tmp_path) in v for v in env.values())  # no host path leaks into the container
