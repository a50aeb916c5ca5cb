"""Shared fixtures: every test session builds environments with the project's torch pin, in an
isolated cache, and writes results and reports into temporary folders.

- ``HARNESS_CONSTRAINTS`` points at a session constraints file pinning ``torch==2.13.0`` (the CPU
  wheel; nothing may install a CUDA build of torch);
- ``HARNESS_CACHE_DIR`` is a fresh folder per session (environments, fetched sources);
- the user's config file and HARNESS_* settings (mirrors, constraint groups, folders) are cleared;
- ``results_dir`` / ``reports_dir`` are per-test temporary folders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TORCH_PIN = "torch==2.13.0"


@pytest.fixture(scope="session", autouse=True)
def harness_session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Constraints file + isolated cache dir, set in the environment for the whole session."""
    root = tmp_path_factory.mktemp("harness-session")
    constraints = root / "constraints.txt"
    constraints.write_text(TORCH_PIN + "\n")
    cache = root / "cache"
    cache.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        # the user's own harness settings (config file, mirrors, constraint groups) never reach a test
        mp.setenv("HARNESS_CONFIG", str(root / "no-user-config.yaml"))
        for name in ("HARNESS_GIT_MIRROR", "HARNESS_GIT_ALLOW_FILE", "HARNESS_CONSTRAINT_GROUPS",
                     "HARNESS_RESULTS_DIR", "HARNESS_REPORTS_DIR", "HARNESS_DATA_CACHE", "HARNESS_MANIFESTS_DIR",
                     "HARNESS_INSTALLER"):
            mp.delenv(name, raising=False)
        mp.setenv("HARNESS_CONSTRAINTS", str(constraints))
        mp.setenv("HARNESS_CACHE_DIR", str(cache))
        yield {"constraints": constraints, "cache": cache}


@pytest.fixture
def constraints_file(harness_session_env: dict[str, Path]) -> Path:
    return harness_session_env["constraints"]


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    return d


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    d = tmp_path / "reports"
    d.mkdir()
    return d


def base_manifest_data(slug: str = "tinylib") -> dict[str, object]:
    """A minimal valid manifest (PyPI source) as a dict, for tests to modify."""
    return {
        "slug": slug,
        "name": "Tiny library",
        "families": ["adversarial"],
        "origin": "third-party",
        "taxonomy": {
            "security_properties": ["integrity"],
            "adversary_knowledge": ["white-box"],
            "targets": ["model"],
        },
        "source": {"kind": "pypi", "repository": "example/tinylib", "package": slug, "version": "1.0"},
        "imports": [slug],
        "experiments": [{"name": "smoke", "script": "smoke/tinylib.py"}],
    }


@pytest.fixture
def make_manifest_data() -> object:
    """Factory of minimal valid manifest dicts: ``make_manifest_data(slug)``."""
    return base_manifest_data
