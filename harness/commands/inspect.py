"""``harness inspect --lib SLUG [--json]``: a library's repository facts; nothing is installed or run.

The repository is fetched (or taken from the source cache) exactly as the ``fetch`` stage does --
same mirror setting, same safety rules -- and its raw facts (:mod:`harness.facts`) are printed: a
table for people, or ``--json`` (``{library, source, cached, fetch_seconds, facts, failure}``) alone
on stdout. A PyPI library's facts come from its repository at the manifest's ``ref`` (or the
default branch's head), resolved to a commit first, when it can be reached; the pinned release's own facts
(metadata, release history) are always shown. A source that cannot be fetched is reported as a
classified failure (exit 0, like any library result); bad usage exits 2.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from harness.config import Settings, load_settings
from harness.console import make_console
from harness.errors import FetchError
from harness.manifest import Manifest, find_manifest
from harness.sources.base import FetchedSource
from harness.sources.git import fetch_git, remote_for, resolve_ref
from harness.sources.gitsafety import scrub


def _as_git(manifest: Manifest, settings: Settings) -> Manifest:
    """A PyPI manifest's repository, pinned to the commit its ``ref`` (or HEAD) points to now."""
    source = manifest.source
    git_source = source.model_copy(update={"kind": "git", "commit": "0" * 40})
    remote = remote_for(git_source, settings)
    commit = resolve_ref(remote.url, source.ref or "HEAD", allow_file=remote.allow_file,
                         ca_bundle=settings.ca_bundle)
    pinned = git_source.model_copy(update={"commit": commit, "package": source.package or manifest.slug})
    return manifest.model_copy(update={"source": pinned})


def _failure(exc: FetchError) -> dict[str, str]:
    return {"class": exc.failure_class, "message": scrub(exc.message), "hint": exc.hint}


def inspect_library(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    """Fetch (cached) and collect facts; a fetch failure is returned under ``failure``.

    A PyPI library's facts come from the pinned release (metadata and release history, as the fetch
    stage stores them); its repository's facts are added when the repository can be reached (or is
    mirrored), and the reason is recorded under ``repository_failure`` when it cannot.
    """
    if manifest.source.kind == "pypi":
        return _inspect_pypi(manifest, settings)
    try:
        fetched: FetchedSource = fetch_git(manifest, settings)
    except FetchError as exc:
        return {"library": manifest.slug, "source": None, "cached": False, "fetch_seconds": None,
                "facts": {}, "failure": _failure(exc)}
    return {"library": manifest.slug, "source": fetched.info.model_dump(), "cached": fetched.cached,
            "fetch_seconds": round(fetched.duration_s, 3), "facts": fetched.facts, "failure": None}


def _inspect_pypi(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    """The release's facts and, when reachable, the repository's; a failure only when neither is had."""
    from harness.sources.pypi import fetch_pypi

    facts: dict[str, Any] = {}
    result: dict[str, Any] = {"library": manifest.slug, "source": None, "cached": False, "fetch_seconds": None,
                              "facts": facts, "failure": None, "release_failure": None, "repository_failure": None}
    try:
        release = fetch_pypi(manifest, settings)
        facts["package"] = dict(release.facts)
        result |= {"source": release.info.model_dump(), "cached": release.cached,
                   "fetch_seconds": round(release.duration_s, 3)}
    except FetchError as exc:
        result["release_failure"] = _failure(exc)
    try:
        repo = fetch_git(_as_git(manifest, settings), settings)
        facts["repository"] = repo.facts
        result |= {"source": repo.info.model_dump(), "cached": repo.cached,
                   "fetch_seconds": round(repo.duration_s, 3)}
    except FetchError as exc:
        result["repository_failure"] = _failure(exc)
    if not facts:
        result["failure"] = result["repository_failure"] or result["release_failure"]
    return result


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "-"
    return "-" if value is None else str(value)


def render(result: dict[str, Any], console: Console) -> None:
    if result["failure"]:
        f = result["failure"]
        console.print(f"{result['library']}: fetch failed ({f['class']}): {f['message']}",
                      highlight=False, markup=False)
        if f["hint"]:
            console.print(f"  hint: {f['hint']}", highlight=False, markup=False)
        return
    src = result["source"]
    title = (f"{result['library']}  {src['url']} @ {src.get('commit') or src.get('version')}"
             f"{' (cached)' if result['cached'] else ''}")
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("fact")
    table.add_column("value", overflow="fold")
    facts = result["facts"]
    groups = facts if set(facts) <= {"package", "repository"} else {"": facts}
    for group, values in groups.items():
        for key, value in values.items():
            table.add_row(f"{group}.{key}" if group else key, _cell(value))
    console.print(table)
    repo_failure = result.get("repository_failure")
    if repo_failure:
        console.print(f"  repository facts unavailable ({repo_failure['class']}): {repo_failure['message']}",
                      highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``inspect`` to the app."""

    @app.command("inspect")
    def inspect_cmd(
        lib: str = typer.Option(..., "--lib", help="library slug (see `harness list`)"),
        as_json: bool = typer.Option(False, "--json", help="print the facts as JSON on stdout only"),
    ) -> None:
        """Print a library's repository facts (licence, activity, dependencies, frameworks...)."""
        settings = load_settings()
        manifest = find_manifest(lib, settings.manifests_dir)
        err = make_console()
        with err.status(f"{lib}: fetching {manifest.source.repository}", spinner="dots"):
            result = inspect_library(manifest, settings)
        if as_json:
            typer.echo(json.dumps(result, indent=2, sort_keys=False))
        else:
            render(result, make_console(stderr=False))
