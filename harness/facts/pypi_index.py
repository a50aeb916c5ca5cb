"""Release-history facts of a PyPI package, from the index's JSON API (raw facts, no scoring).

``GET <index root>/pypi/<package>/json`` (``https://pypi.org/pypi/<package>/json`` unless the user
set an index URL: ``https://mirror.example/simple`` -> ``https://mirror.example/pypi/<package>/json``),
through the user's CA bundle and proxy variables. Keys (a contract with the scorecards):

- ``release_date``: the pinned release's upload date (its earliest file, ISO 8601, UTC);
- ``last_release_date``: the newest non-yanked release's upload date on the index when asked;
- ``releases_last_year``: non-yanked releases uploaded in the 365 days up to ``release_date``
  (the pinned one included), so the fact describes the pinned release and not the day it was asked;
- ``releases_total``: non-yanked releases on the index;
- ``index_status``: ``"ok"`` or ``"unknown: <why>"`` (then the dates and counts are None: the
  index could not be asked, or does not know the release); ``index_checked_at``: when it was asked.

Answers are cached next to the downloaded release for a day (an ``unknown`` one for an hour), so a
warm evaluation does not wait on the network. Nothing here raises for a network or data problem.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from harness.atomicfile import write_text_atomic
from harness.config import Settings
from harness.timeutil import parse_iso

CACHE_FILE = ".index-facts.json"
TTL_OK_S = 24 * 3600.0
TTL_UNKNOWN_S = 3600.0
TIMEOUT_S = 10.0
WINDOW_DAYS = 365
MAX_BYTES = 64 * 2**20


def json_api_url(package: str, settings: Settings) -> str:
    """The JSON API address of ``package`` on the user's primary index."""
    root = (settings.index_url or "https://pypi.org/simple").rstrip("/")
    for suffix in ("/+simple", "/simple"):
        if root.endswith(suffix):
            root = root.removesuffix(suffix)
            break
    return f"{root}/pypi/{canonicalize_name(package)}/json"


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds") if when else None


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def release_history(data: dict[str, Any], version: str) -> dict[str, Any]:
    """The release facts of ``version`` from a JSON API answer (see the module docstring)."""
    releases = data.get("releases")
    if not isinstance(releases, dict):
        return unknown("the index's answer lists no releases")
    first_upload: dict[str, datetime] = {}  # non-yanked releases -> earliest file upload
    pinned: datetime | None = None
    for name, files in releases.items():
        files = [f for f in files or [] if isinstance(f, dict)]
        times = [
            (t, bool(f.get("yanked")))
            for f in files
            if (t := parse_iso(f.get("upload_time_iso_8601") or f.get("upload_time")))
        ]
        if _same_version(str(name), version) and times:
            pinned = min(t for t, _ in times)
        live = [t for t, yanked in times if not yanked]
        if live:
            first_upload[str(name)] = min(live)
    if pinned is None:
        return unknown(f"the index has no files for version {version}")
    since = pinned - timedelta(days=WINDOW_DAYS)
    return {
        "release_date": _iso(pinned),
        "last_release_date": _iso(max(first_upload.values(), default=None)),
        "releases_last_year": sum(since < t <= pinned for t in first_upload.values()),
        "releases_total": len(first_upload),
        "index_status": "ok",
    }


def unknown(why: str) -> dict[str, Any]:
    return {
        "release_date": None,
        "last_release_date": None,
        "releases_last_year": None,
        "releases_total": None,
        "index_status": f"unknown: {why}",
    }


def query_index(package: str, version: str, settings: Settings) -> dict[str, Any]:
    """Ask the index now (no cache); an ``unknown`` answer on any failure."""
    url = json_api_url(package, settings)
    context = ssl.create_default_context(cafile=settings.ca_bundle) if settings.ca_bundle else None
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "iot-attack-harness"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as resp:
            data = json.loads(resp.read(MAX_BYTES))
    except urllib.error.HTTPError as exc:
        return unknown(f"HTTP {exc.code} from the index's JSON API")
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return unknown(f"the index's JSON API could not be read ({type(exc).__name__}: {reason})")
    if not isinstance(data, dict):
        return unknown("the index's JSON API did not answer with an object")
    return release_history(data, version)


def index_facts(
    package: str, version: str, settings: Settings, cache_dir: Path | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The release facts, from ``cache_dir``'s fresh cached answer or from the index."""
    now = now or datetime.now(timezone.utc)
    cache = cache_dir / CACHE_FILE if cache_dir is not None else None
    url = json_api_url(package, settings)
    if cache is not None and cache.is_file():
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cached = None
        checked = parse_iso(cached.get("index_checked_at")) if isinstance(cached, dict) else None
        if isinstance(cached, dict) and checked is not None and cached.get("index_json_url") == url:
            ttl = TTL_OK_S if cached.get("index_status") == "ok" else TTL_UNKNOWN_S
            if timedelta(0) <= now - checked <= timedelta(seconds=ttl):
                return cached
    facts = query_index(package, version, settings) | {"index_json_url": url, "index_checked_at": _iso(now)}
    if cache is not None:
        _write_atomic(cache, json.dumps(facts, sort_keys=True))
    return facts


def _write_atomic(path: Path, text: str) -> None:
    with contextlib.suppress(OSError):  # a read-only cache only costs another query next time
        write_text_atomic(path, text)


__all__ = ["index_facts", "json_api_url", "query_index", "release_history"]
