"""Batch jobs: what one evaluation in a batch is, its deterministic id, and its resource request.

A job is one (library, backend, device, profile[, Python]) evaluation. Its id is a hash of the
library, the pinned commit or version, the environment hash (the manifest's environment section plus
the contents of the user's constraint files), the backend, the device, the profile and, when one was
requested (``--python X.Y``, docker), the Python version: the same inputs give the same id on every
run, which is what lets ``--resume`` recognise work that is already stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from harness.config import Settings
from harness.envs.profiles import get_profile
from harness.errors import UsageError
from harness.manifest import Manifest, load_all


def job_id(
    library: str, pin: str, env_hash: str, backend: str, device: str, profile: str, python: str | None = None
) -> str:
    """The deterministic id of one evaluation: 16 hex digits of a sha256 over its named inputs.

    ``python`` (a requested ``X.Y``) only enters the hash when given, so ids without one are unchanged.
    """
    inputs = {"library": library, "pin": pin, "env": env_hash, "backend": backend, "device": device,
              "profile": profile}
    if python is not None:
        inputs["python"] = python
    blob = json.dumps(inputs, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def source_pin(manifest: Manifest) -> str:
    """The commit (git) or version (PyPI) the manifest pins."""
    src = manifest.source
    return (src.commit or "") if src.kind == "git" else f"{src.package}=={src.version}"


def environment_hash(manifest: Manifest, settings: Settings) -> str:
    """A hash of what decides the environment's contents: the manifest's section and the constraints."""
    constraints = []
    for path in settings.constraints:
        try:
            constraints.append(Path(path).read_text(encoding="utf-8"))
        except OSError:
            constraints.append(f"<unreadable {Path(path).name}>")
    blob = json.dumps(
        {"environment": manifest.environment.model_dump(mode="json"), "constraints": constraints},
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Resources:
    """What one evaluation asks of the machine (or of a Ray cluster)."""

    cpus: float = 1.0
    memory_bytes: int = 2 * 1024**3
    gpus: int = 0  # 0 or 1: a GPU job holds one GPU ...
    gpu_memory_bytes: int | None = None  # ... alone, unless it declares how much GPU memory it needs


@dataclass(frozen=True)
class Job:
    """One evaluation of a batch, fully planned (device already resolved to cpu or gpu)."""

    job_id: str
    library: str
    backend: str
    device: str
    profile: str
    resources: Resources
    python: str | None = None  # the requested Python X.Y (docker), None: the backend's choice

    @property
    def label(self) -> str:
        return f"{self.library} [{self.backend}/{self.device}" + (
            f"/{self.profile}" if self.profile != "default" else ""
        ) + (f"/py{self.python}]" if self.python else "]")

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"job_id": self.job_id, "library": self.library, "backend": self.backend,
                                   "device": self.device, "profile": self.profile}
        if self.python is not None:
            data["python"] = self.python
        return data


def resources_for(manifest: Manifest, device: str, profile: str) -> Resources:
    """The manifest's resource request (``resources``), narrowed by the profile's limits."""
    declared = manifest.resources
    cpus, memory, gpu_mb = declared.cpus, declared.memory_mb * 1024**2, declared.gpu_memory_mb
    limits = get_profile(profile)  # an unknown profile is a usage error, before anything runs
    if limits.cpus:
        cpus = min(cpus, float(limits.cpus))
    if limits.memory_bytes:
        memory = min(memory, limits.memory_bytes)
    on_gpu = device == "gpu"
    return Resources(cpus=cpus, memory_bytes=memory, gpus=1 if on_gpu else 0,
                     gpu_memory_bytes=int(gpu_mb) * 1024**2 if (on_gpu and gpu_mb) else None)


def make_job(
    manifest: Manifest, settings: Settings, backend: str, device: str, profile: str, python: str | None = None
) -> Job:
    jid = job_id(manifest.slug, source_pin(manifest), environment_hash(manifest, settings), backend,
                 device, profile, python)
    return Job(job_id=jid, library=manifest.slug, backend=backend, device=device, profile=profile,
               resources=resources_for(manifest, device, profile), python=python)


def select_manifests(
    settings: Settings, *, all_: bool = False, libs: list[str] | None = None, category: str | None = None
) -> list[Manifest]:
    """The manifests a batch covers: every one, the named slugs (in order), or one attack family."""
    from harness.manifest import find_manifest
    from harness.taxonomy import FAMILIES

    chosen = [bool(all_), bool(libs), category is not None]
    if sum(chosen) != 1:
        raise UsageError("harness run: give exactly one of --all, --lib SLUG ... or --category C")
    if libs:
        seen: dict[str, Manifest] = {}
        for slug in libs:
            seen.setdefault(slug, find_manifest(slug, settings.manifests_dir))
        return list(seen.values())
    manifests = load_all(settings.manifests_dir)
    if category is not None:
        if category not in FAMILIES:
            raise UsageError(f"--category: unknown category '{category}'; one of {', '.join(FAMILIES)}")
        manifests = [m for m in manifests if category in m.families]
    return manifests


def plan_jobs(
    manifests: list[Manifest], settings: Settings, *, backend: str, devices: list[str], profile: str,
    python: str | None = None,
) -> list[Job]:
    """Every (library, device) job, in a stable order, without duplicates."""
    jobs: dict[str, Job] = {}
    for manifest in manifests:
        for device in devices:
            job = make_job(manifest, settings, backend, device, profile, python)
            jobs.setdefault(job.job_id, job)
    return list(jobs.values())
