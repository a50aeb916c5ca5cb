"""The fetch stage's entry point: dispatch a manifest's source to the PyPI or the git fetcher."""

from __future__ import annotations

from harness.config import Settings
from harness.manifest import Manifest
from harness.sources.base import FetchedSource


def fetch_source(manifest: Manifest, settings: Settings) -> FetchedSource:
    if manifest.source.kind == "pypi":
        from harness.sources.pypi import fetch_pypi

        return fetch_pypi(manifest, settings)
    from harness.sources.git import fetch_git  # owned by the git-sources implementation

    return fetch_git(manifest, settings)
