"""ART evaluated end to end in a container through the real CLI, on the default and edge-1g profiles.

Needs a Docker engine with the bookworm base (.ci/docker-setup.sh) and the package index (the
install phase downloads ART and scikit-learn); the image is reused while its spec is unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import images
from harness.envs.docker import DockerBackend

pytestmark = [pytest.mark.docker, pytest.mark.network, pytest.mark.slow]

LIB = "adversarial-robustness-toolbox"
GIB = 2**30


@pytest.fixture(scope="module")
def engine() -> DockerBackend:
    backend = DockerBackend()
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"no Docker engine: {reason}")
    if not images.image_exists(backend.client(), images.base_tag("bookworm")):
        pytest.fail("base image harness-base:debian-bookworm is missing: run .ci/docker-setup.sh")
    return backend


def evaluate(tmp_path: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "evaluate", "--lib", LIB, "--backend", "docker",
         "--repeats", "2", "--results-dir", str(tmp_path / "results"),
         "--reports-dir", str(tmp_path / "reports"), "--json", *extra],
        capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record: dict[str, Any] = json.loads(proc.stdout)
    return record


def check_record(record: dict[str, Any], profile: str, memory_limit: int | None) -> None:
    assert record["backend"] == "docker" and record["device"] == "cpu" and record["profile"] == profile
    statuses = {s["name"]: s["status"] for s in record["stages"]}
    stages = ("fetch", "build", "import", "smoke", "reproduce")
    assert statuses == dict.fromkeys(stages, "passed"), record["stages"]
    assert "cgroup" in record["measurement"]["rss"] and "cgroup" in record["measurement"]["cpu"]
    assert record["facts"]["run"]["measurement"]["method"] == "cgroup"
    repeats = record["experiments"][0]["repeats"]
    assert len(repeats) == 2
    for rep in repeats:
        assert rep["exit_code"] == 0
        assert rep["metrics"]["clean_accuracy"] == pytest.approx(0.98, abs=0.03)
        # python + numpy + scikit-learn + ART hold tens of MiB at least; under the profile's limit
        assert 30 * 2**20 < rep["peak_rss_bytes"] < (memory_limit or 4 * GIB)
        assert rep["cpu_s"] > 0
    assert record["reproducibility"]["verdict"] in ("reproduced", "stable")


def test_art_in_docker_default_profile(engine: DockerBackend, tmp_path: Path) -> None:
    check_record(evaluate(tmp_path), "default", None)
    assert engine.client().containers.list(all=True, filters={"label": images.MANAGED_LABEL}) == []


def test_art_in_docker_edge_profile(engine: DockerBackend, tmp_path: Path) -> None:
    record = evaluate(tmp_path, "--profile", "edge-1g")
    check_record(record, "edge-1g", GIB)
    assert "1073741824 bytes" in record["facts"]["run"]["measurement"]["memory_limit"]
    assert engine.client().containers.list(all=True, filters={"label": images.MANAGED_LABEL}) == []
