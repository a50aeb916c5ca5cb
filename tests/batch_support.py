"""Helpers for the batch tests: tiny real libraries, installable offline, with their manifests.

Each library is a real wheel (written as a zip by hand, so no build backend is needed), served from
a local PEP 503 index made in the test's temp dir; its manifest and smoke script live in a temp
``library_manifests`` that ``HARNESS_MANIFESTS_DIR`` points at.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

import yaml

SMOKE = """\
import json, os, time
import {module}
time.sleep(float(os.environ.get("TINY_SLEEP_S", "{sleep}")))
if {fail}:
    raise RuntimeError("planted smoke failure")
print(json.dumps({{"metrics": {{"accuracy": {module}.ACCURACY}}}}))
"""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(wheels: Path, package: str, version: str, code: str) -> Path:
    """A pure-Python wheel with one module named like the package (dashes become underscores)."""
    module = package.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": code.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheels.mkdir(parents=True, exist_ok=True)
    path = wheels / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def make_index(wheels: Path, index: Path) -> str:
    """A PEP 503 simple index over the wheels; returns its file:// URL."""
    by_project: dict[str, list[Path]] = {}
    for whl in sorted(wheels.glob("*.whl")):
        by_project.setdefault(whl.name.split("-")[0].replace("_", "-").lower(), []).append(whl)
    for project, wheel_files in by_project.items():
        page = index / project
        page.mkdir(parents=True, exist_ok=True)
        links = "".join(f'<a href="{w.resolve().as_uri()}">{w.name}</a>\n' for w in wheel_files)
        (page / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    (index / "index.html").write_text(
        "<html><body>\n" + "".join(f'<a href="{p}/">{p}</a>\n' for p in by_project) + "</body></html>\n")
    return index.resolve().as_uri()


def write_library(manifests: Path, wheels: Path, slug: str, *, accuracy: float = 0.9, sleep_s: float = 0.0,
                  family: str = "adversarial", reference: float | None = None, fail: bool = False) -> None:
    """A tiny library: its wheel, its manifest and its smoke script."""
    package = f"tiny-{slug}"
    module = package.replace("-", "_")
    make_wheel(wheels, package, "1.0.0", f"ACCURACY = {accuracy}\n")
    (manifests / "smoke").mkdir(parents=True, exist_ok=True)
    (manifests / "smoke" / f"{slug}.py").write_text(SMOKE.format(module=module, sleep=sleep_s, fail=fail))
    props = ["integrity"] if family in ("adversarial", "poisoning") else ["confidentiality"]
    manifest = {
        "slug": slug,
        "name": f"Tiny {slug}",
        "families": [family],
        "origin": "third-party",
        "taxonomy": {"security_properties": props, "adversary_knowledge": ["black-box"],
                     "targets": ["model"]},
        "source": {"kind": "pypi", "repository": f"example/{package}", "package": package,
                   "version": "1.0.0"},
        "environment": {"python": ">=3.9"},
        "imports": [module],
        "experiments": [{"name": "smoke", "script": f"smoke/{slug}.py", "timeout_s": 120,
                         "metrics": {"accuracy": {"reference": reference if reference is not None
                                                  else accuracy, "tolerance": 0.01}}}],
        "resources": {"cpus": 1, "memory_mb": 512},
    }
    (manifests / f"{slug}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))


def harness_env(root: Path) -> dict[str, str]:
    """Environment variables pointing the harness at the catalogue, index and cache under root (offline).

    Libraries are written with ``write_library(root / "manifests", root / "wheels", ...)`` first.
    """
    manifests, wheels = root / "manifests", root / "wheels"
    env = dict(os.environ)
    index_url = make_index(wheels, root / "simple")
    constraints = root / "constraints.txt"
    constraints.write_text("torch==2.13.0\n")  # never let anything pull a CUDA build of torch
    env |= {
        "HARNESS_MANIFESTS_DIR": str(manifests),
        "HARNESS_CACHE_DIR": str(root / "cache"),
        "HARNESS_RESULTS_DIR": str(root / "results"),
        "HARNESS_REPORTS_DIR": str(root / "reports"),
        "HARNESS_INDEX_URL": index_url,
        "HARNESS_FIND_LINKS": str(wheels),
        "HARNESS_EXTRA_INDEX_URLS": index_url,
        "HARNESS_CONSTRAINTS": str(constraints),
        "UV_OFFLINE": "1",
    }
    return env


def harness_cmd(*args: str) -> list[str]:
    """The ``harness`` command line, run with this interpreter."""
    return [sys.executable, "-m", "harness.cli", *args]


def journal_events(results: Path, run_id: str) -> list[dict[str, object]]:
    lines = (results / "runs" / f"{run_id}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]
