"""Helpers for the scoring and report tests: the golden set of hand-written result records.

tests/golden/results/ holds seven records (valid per harness/records.py) of four fictional
libraries: evasion-kit (venv/cpu on two nights - the older one fails at import -, venv/gpu and
docker/cpu/edge-1g), shadow-mia (build fails; a ``<script>`` in its log tail; no manifest in
tests/golden/manifests), grad-leak (fetch fails: reaches no stage; no facts) and model-thief (smoke
crashes). tests/golden/package/ holds a PyPI record whose accessibility facts come from the release
(``facts["package"]``) and not from a repository: poison-pack (kept apart so the report tests' tree is
unchanged).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.records import ResultRecord

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_RESULTS = GOLDEN / "results"
GOLDEN_MANIFESTS = GOLDEN / "manifests"
GOLDEN_PACKAGE = GOLDEN / "package"


def golden(name: str, folder: Path = GOLDEN_RESULTS) -> ResultRecord:
    """One golden record by file stem, e.g. ``golden("shadow-mia--venv--cpu--default")``."""
    return ResultRecord.model_validate_json((folder / f"{name}.json").read_text(encoding="utf-8"))


def golden_records() -> list[ResultRecord]:
    return [golden(p.stem) for p in sorted(GOLDEN_RESULTS.glob("*.json"))]


def copy_golden(target: Path) -> Path:
    """A writable copy of the golden results tree (tests never write into the committed one)."""
    shutil.copytree(GOLDEN_RESULTS, target)
    return target
