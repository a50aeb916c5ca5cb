"""``harness inspect --lib SLUG [--json]``: a library's repository facts; nothing is installed or run.

The repository is fetched (or taken from the source cache) exactly as the ``fetch`` stage does --
same mirror setting, same safety rules -- and its raw facts (:mod:`harness.facts`) are printed: a
table for people, or ``--json`` (``{library, source, cached, fetch_seconds, facts, failure}``) alone
on stdout. A PyPI library's facts come from its repository at the manifest's ``ref`` (or the
default branch's head), resolved to a commit first. A source that cannot be fetched is reported as a
classified failure (exit 0, like any library result); bad usage exits 2.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from harness.config import Settings, load_settings
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


def inspect_library(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    """Fetch (cached) and collect facts; a fetch failure is returned under ``failure``."""
    try:
        target = _as_git(manifest, settings) if manifest.source.kind == "pypi" else manifest
        fetched: FetchedSource = fetch_git(target, settings)
    except FetchError as exc:
        failure = {"class": exc.failure_class, "message": scrub(exc.message), "hint": exc.hint}
        return {"library": manifest.slug, "source": None, "cached": False, "fetch_seconds": None,
                "facts": {}, "failure": failure}
    return {"library": manifest.slug, "source": fetched.info.model_dump(), "cached": fetched.cached,
            "fetch_seconds": round(fetched.duration_s, 3), "facts": fetched.facts, "failure": None}


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "-"
    return "-" if value is None else str(value)


def render(result: dict[str, Any], console: Console) -> None:
    if result["failure"]:
        f = result["failure"]
        console.print(f"[red]{result['library']}: fetch failed[/red] ({f['class']}): {f['message']}",
                      highlight=False)
        if f["hint"]:
            console.print(f"  hint: {f['hint']}", highlight=False)
        return
    src = result["source"]
    title = (f"{result['library']}  {src['url']} @ {src['commit']}"
             f"{' (cached)' if result['cached'] else ''}")
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("fact")
    table.add_column("value", overflow="fold")
    for key, value in result["facts"].items():
        table.add_row(key, _cell(value))
    console.print(table)


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
        err = Console(stderr=True)
        with err.status(f"{lib}: fetching {manifest.source.repository}", spinner="dots"):
            result = inspect_library(manifest, settings)
        if as_json:
            typer.echo(json.dumps(result, indent=2, sort_keys=False))
        else:
            render(result, Console())
