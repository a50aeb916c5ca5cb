"""The import stage's cache: a passed import check, remembered inside the environment it ran in.

Whether a library imports is a function of the environment (its fingerprint: every package and the
interpreter) and of what is imported, how (the manifest's ``imports`` and ``python_path``) and under
which limits (device, CPUs, memory). A *passed* check is stored as
``<env dir>/.harness-import-<key>.json`` (success, wall and CPU time, peak memory, the imported
versions, when it was measured); a warm run reuses it instead of starting the interpreter again. A
failed check is never stored, so a failure is re-checked every time. The file lives and dies with
the environment directory (a rebuilt environment starts without it); backends whose environment is
not a local directory (docker images) are not cached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.atomicfile import write_text_atomic
from harness.envs.base import BuiltEnv, Limits, ProcessResult

PREFIX = ".harness-import-"
CACHE_VERSION = 1


@dataclass(frozen=True)
class ImportVerdict:
    """A passed import check as measured (what a warm run reports instead of running it)."""

    measured_at: str
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int | None
    peak_gpu_bytes: int | None
    versions: dict[str, str]


def cache_key(env: BuiltEnv, imports: list[str], python_path: list[str], device: str, limits: Limits) -> str:
    """What the verdict depends on besides the environment's own contents."""
    blob = json.dumps(
        {
            "v": CACHE_VERSION,
            "fingerprint": env.fingerprint,
            "python": env.python_version,
            "imports": list(imports),
            "python_path": list(python_path),
            "device": device,
            "limits": asdict(limits),
        },
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _path(env: BuiltEnv, key: str) -> Path | None:
    location = Path(env.location)
    if not location.is_dir():  # an image tag, not a folder
        return None
    return location / f"{PREFIX}{key}.json"


def lookup(env: BuiltEnv, key: str) -> ImportVerdict | None:
    """The stored passed verdict for ``key`` (None when there is none, or it cannot be read)."""
    path = _path(env, key)
    if path is None or not path.is_file():
        return None
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return ImportVerdict(
            measured_at=str(data["measured_at"]),
            wall_s=float(data["wall_s"]),
            cpu_s=float(data["cpu_s"]),
            peak_rss_bytes=data.get("peak_rss_bytes"),
            peak_gpu_bytes=data.get("peak_gpu_bytes"),
            versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(env: BuiltEnv, key: str, result: ProcessResult, versions: dict[str, str]) -> ImportVerdict | None:
    """Remember a passed check (atomically); None when this environment cannot hold the cache."""
    path = _path(env, key)
    if path is None:
        return None
    verdict = ImportVerdict(
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        wall_s=round(result.wall_s, 4),
        cpu_s=round(result.cpu_s, 4),
        peak_rss_bytes=result.peak_rss_bytes,
        peak_gpu_bytes=result.peak_gpu_bytes,
        versions=dict(versions),
    )
    try:
        write_text_atomic(path, json.dumps({"passed": True, **asdict(verdict)}, sort_keys=True))
    except OSError:  # a read-only environment only costs a real check next time
        return None
    return verdict


__all__ = ["ImportVerdict", "cache_key", "lookup", "store"]
