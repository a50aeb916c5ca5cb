"""Fetch stage for PyPI sources: obtain the pinned release file into the source cache.

``pip download --no-deps PACKAGE==VERSION`` (through the harness's own Python, honouring the
user's index URL, extra indexes, find-links and CA bundle) fills
``<sources_dir>/pypi/<package>-<version>/``; a ``.complete`` marker written last makes the next
fetch a cache hit. A version the indexes do not have is a ``FetchError`` (source-unavailable).
The fetched file is what the build installs (``FetchedSource.artifact``); its raw facts (metadata,
release history) go to ``facts["package"]``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.classify import classify_build
from harness.config import Settings
from harness.errors import FetchError
from harness.manifest import Manifest
from harness.records import SourceInfo
from harness.sources.base import FetchedSource

MARKER = ".complete"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def release_dir(settings: Settings, package: str, version: str) -> Path:
    return settings.sources_dir / "pypi" / f"{_normalise(package)}-{version}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def artifact_file(directory: Path) -> Path | None:
    """The downloaded distribution file of a release directory (None when there is none)."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    return files[0] if files else None


def _artifact_facts(artifact: Path | None) -> dict[str, object]:
    if artifact is None:
        return {}
    return {
        "artifact": artifact.name,
        "artifact_sha256": _sha256(artifact),
        "artifact_bytes": artifact.stat().st_size,
        "artifact_kind": "wheel" if artifact.suffix == ".whl" else "sdist",
    }


def package_facts(directory: Path, package: str, version: str, settings: Settings) -> dict[str, object]:
    """``facts["package"]``: the artifact, its metadata and its release history (harness.facts.package,
    harness.facts.pypi_index)."""
    from harness.facts import FACTS_VERSION
    from harness.facts.package import collect_package_facts
    from harness.facts.pypi_index import index_facts

    artifact = artifact_file(directory)
    facts: dict[str, object] = {"facts_version": FACTS_VERSION, **_artifact_facts(artifact)}
    if artifact is not None:
        facts |= collect_package_facts(artifact)
    return facts | index_facts(package, version, settings, cache_dir=directory)


def _fetched(
    info: SourceInfo, target: Path, package: str, version: str, settings: Settings, *, cached: bool, log: str
) -> FetchedSource:
    return FetchedSource(
        info=info,
        checkout=None,
        cached=cached,
        log=log,
        artifact=artifact_file(target),
        facts=package_facts(target, package, version, settings),
    )


def download_args(settings: Settings) -> list[str]:
    args: list[str] = []
    if settings.index_url:
        args += ["--index-url", settings.index_url]
    for url in settings.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in settings.find_links:
        args += ["--find-links", link]
    if settings.ca_bundle:
        args += ["--cert", settings.ca_bundle]
    return args


def fetch_pypi(manifest: Manifest, settings: Settings) -> FetchedSource:
    src = manifest.source
    assert src.package and src.version  # guaranteed by the manifest schema
    url = f"https://pypi.org/project/{src.package}/{src.version}/"
    info = SourceInfo(kind="pypi", url=url, version=src.version, ref=src.ref)
    target = release_dir(settings, src.package, src.version)
    if (target / MARKER).is_file():
        return _fetched(info, target, src.package, src.version, settings, cached=True, log=f"cached: {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            # the release is for the library's Python, not necessarily the harness's own
            "--ignore-requires-python",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            str(tmp),
            *download_args(settings),
            f"{src.package}=={src.version}",
        ]
        env = os.environ | settings.index_env() | {"PIP_NO_INPUT": "1"}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        except subprocess.TimeoutExpired as exc:
            raise FetchError(
                f"downloading {src.package}=={src.version} timed out", log_tail=str(exc.stderr or "")
            ) from None
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            lines = [ln for ln in log.splitlines() if "ERROR" in ln] or log.splitlines()[-1:] or ["pip failed"]
            network = classify_build(log)
            raise FetchError(
                f"{src.package}=={src.version} could not be obtained: {lines[-1].strip()}",
                log_tail=log,
                **({"failure_class": "network", "hint": network.hint} if network.failure_class == "network" else {}),
            )
        (tmp / MARKER).write_text(f"{src.package}=={src.version}\n")
        try:
            os.replace(tmp, target)  # atomic; fails when another process finished first
        except OSError:
            if not (target / MARKER).is_file():
                shutil.rmtree(target, ignore_errors=True)  # a partial dir from an older harness: redo once
                os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return _fetched(info, target, src.package, src.version, settings, cached=False, log=log)
