"""Maintenance facts from the checkout's git history: the pinned commit's date and recent activity.

``commits_last_year`` counts the commits reachable from the pinned commit whose committer date is
within the 365 days *before the pinned commit's own date* (not before today): the fact describes the
pinned snapshot and does not change as time passes. It is ``None`` when the history of that year is
not present (a shallow clone the server would not deepen).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness.sources.gitsafety import run_git

WINDOW_DAYS = 365
HISTORY_CONFIG_KEY = "harness.historysince"  # written by the git source after deepening
MISSING_CONFIG_KEY = "harness.missingfile"  # files of the commit the (partial) mirror did not have
ESCAPING_CONFIG_KEY = "harness.escapingsymlink"  # JSON {path, target} of escaping links the git source removed


def _git(checkout: Path, *args: str) -> str | None:
    r = run_git(list(args), checkout, allow_file=False, timeout_s=120)
    return r.stdout.strip() if r.ok else None


def missing_files(checkout: Path) -> list[str]:
    """Files of the pinned commit that the source lacked and that are therefore not checked out."""
    if not (checkout / ".git").exists():
        return []
    return sorted((_git(checkout, "config", "--get-all", MISSING_CONFIG_KEY) or "").splitlines())


def recorded_escaping_links(checkout: Path) -> list[dict[str, str]]:
    """The escaping symlinks the git source removed from ``checkout`` (``[{path, target}]``)."""
    if not (checkout / ".git").exists():
        return []
    links: list[dict[str, str]] = []
    for line in (_git(checkout, "config", "--get-all", ESCAPING_CONFIG_KEY) or "").splitlines():
        try:
            link = json.loads(line)
        except ValueError:
            continue
        if isinstance(link, dict) and isinstance(link.get("path"), str) and isinstance(link.get("target"), str):
            links.append({"path": link["path"], "target": link["target"]})
    return links


def collect(checkout: Path, commit_date: str | None = None) -> dict[str, Any]:
    """``last_commit_date`` and ``commits_last_year`` (see the module docstring)."""
    if not (checkout / ".git").exists():
        return {"last_commit_date": commit_date, "commits_last_year": None}
    date = commit_date or _git(checkout, "show", "-s", "--format=%cI", "HEAD")
    if not date:
        return {"last_commit_date": None, "commits_last_year": None}
    since = datetime.fromisoformat(date) - timedelta(days=WINDOW_DAYS)
    if _git(checkout, "rev-parse", "--is-shallow-repository") == "true":
        have = _git(checkout, "config", "--get", HISTORY_CONFIG_KEY)
        if not have or (have != "full" and datetime.fromisoformat(have) > since):
            return {"last_commit_date": date, "commits_last_year": None}
    count = _git(checkout, "rev-list", "--count", f"--since={since.isoformat()}", "HEAD")
    return {"last_commit_date": date, "commits_last_year": int(count) if count else None}
