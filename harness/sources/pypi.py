"""Fetch stage for PyPI sources: obtain the pinned release file into the source cache.

``pip download --no-deps PACKAGE==VERSION`` (through the harness's own Python, honouring the
user's index URL, extra indexes, find-links and CA bundle) fills
``<sources_dir>/pypi/<package>-<version>/``; a ``.complete`` marker written last makes the next
fetch a cache hit. A version the indexes do not have is a ``FetchError`` (source-unavailable).
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


def _artifact_facts(directory: Path) -> dict[str, object]:
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name != MARKER)
    if not files:
        return {}
    f = files[0]
    return {
        "artifact": f.name,
        "artifact_sha256": _sha256(f),
        "artifact_bytes": f.stat().st_size,
        "artifact_kind": "wheel" if f.suffix == ".whl" else "sdist",
    }


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
        return FetchedSource(
            info=info, checkout=None, cached=True, facts=_artifact_facts(target), log=f"cached: {target.name}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
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
            lines = (
                [ln for ln in log.splitlines() if "ERROR" in ln] or log.splitlines()[-1:] or ["pip failed"]
            )
            raise FetchError(
                f"{src.package}=={src.version} could not be obtained: {lines[-1].strip()}", log_tail=log
            )
        (tmp / MARKER).write_text(f"{src.package}=={src.version}\n")
        if target.exists():  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return FetchedSource(info=info, checkout=None, cached=False, facts=_artifact_facts(target), log=log)
