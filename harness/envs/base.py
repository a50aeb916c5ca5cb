"""The one small interface every environment backend implements, and the records it exchanges.

A backend turns an ``EnvSpec`` into a ``BuiltEnv`` (cached by the spec's fingerprint) and runs
commands inside it under a ``Limits`` profile, returning a measured ``ProcessResult``. It knows
nothing of stages, scoring or reports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from harness.config import Settings


@dataclass(frozen=True)
class Limits:
    """Resource limits of a profile; None means unlimited."""

    cpus: float | None = None
    memory_bytes: int | None = None
    pids: int | None = None
    gpu: bool = True


@dataclass(frozen=True)
class EnvSpec:
    """Everything that decides what an environment contains (and so its cache key)."""

    library: str
    python: str  # a PEP 440 specifier from the manifest, e.g. ">=3.8,<3.12"
    install: str  # "package" | "requirements" | "steps" | "none"
    requirements: tuple[str, ...] = ()  # package pin + extra requirements + patch requirements
    source_commit: str | None = None  # git libraries: the checkout's commit (the checkout is installed)
    requirements_file: str | None = None
    steps: tuple[tuple[str, ...], ...] = ()
    constraints: tuple[str, ...] = ()  # constraint lines (contents, not paths: paths do not fingerprint)
    find_links: tuple[str, ...] = ()
    device: str = "cpu"
    installer: str = "uv"

    def fingerprint(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class BuiltEnv:
    kind: str  # backend kind
    fingerprint: str
    location: str  # venv directory or image tag
    python: str  # interpreter path inside the environment
    python_version: str  # e.g. "3.11.7"
    cached: bool
    log: str = ""
    build_s: float = 0.0
    peak_rss_bytes: int | None = None  # of the build's process trees (None when cached or unmeasured)


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int | None
    peak_gpu_bytes: int | None = None
    timed_out: bool = False
    oom_killed: bool = False
    stdout: str = ""
    stderr: str = ""
    how: dict[str, str] = field(default_factory=dict)  # how each number was measured

    @property
    def output(self) -> str:
        return self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr


class Backend(Protocol):
    kind: str

    def unavailable_reason(self) -> str | None:
        """None when the backend can be used here, else a one-line reason."""

    def build(
        self, spec: EnvSpec, checkout: Path | None, settings: Settings, *, artifact: Path | None = None
    ) -> BuiltEnv:
        """Create (or reuse) the environment; raise ``BuildError`` with a failure class on failure.

        ``artifact`` is the distribution file the fetch stage downloaded (PyPI sources): a backend that
        can install a local file installs exactly it in place of the spec's ``name==version`` pin.
        The spec (and so the fingerprint) names the release, never the file's path.
        """

    def run(
        self,
        env: BuiltEnv,
        argv: list[str],
        *,
        cwd: Path,
        env_vars: dict[str, str],
        timeout_s: float,
        limits: Limits,
        mounts: dict[Path, str] | None = None,
    ) -> ProcessResult:
        """Run argv inside the environment (no network where the backend can enforce it), measured."""
