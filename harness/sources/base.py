"""The record a source hands to the environment stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.records import SourceInfo


@dataclass(frozen=True)
class FetchedSource:
    info: SourceInfo  # what goes into the result record
    checkout: Path | None  # a git checkout (None for a PyPI release, which the build installs)
    cached: bool = False
    facts: dict[str, object] = field(default_factory=dict)  # raw repository facts, when collected
    log: str = ""
    duration_s: float = 0.0  # time the source took to obtain (a cache hit is fast)
    artifact: Path | None = None  # a PyPI release: the downloaded file, which the build installs
