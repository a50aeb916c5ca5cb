"""Rescoring stored records without running anything, and where the newest scores live.

Records are written once and never edited, so rescored scores go into a separate *scores file*:
``<results>/scores/rescore-<UTC stamp>-<rubric hash 12>.jsonl``. JSON Lines (not ``.json``) keeps
them apart from the records that ``harness.store.load_records`` globs. The first line is a header
``{"kind": "harness-scores", "created_at", "rubric": {version, sha256, file}}``; every further line is
``{"record": <record key>, "scores": {...}}``. The effective scores of a record are those of the
newest scores file that holds its key, else the scores stored in the record, else scores computed now.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.atomicfile import write_text_atomic
from harness.records import ResultRecord
from harness.scoring.rubric import DIMENSIONS, Rubric, load_rubric
from harness.scoring.scores import score_record

SCORES_DIR = "scores"
HEADER_KIND = "harness-scores"


def evaluation_key(
    library: str, backend: str, device: str, profile: str, started_at: str, run_id: str
) -> str:
    """The key of one evaluation of one configuration, at one time, in one run."""
    return "--".join((library, backend, device, profile, started_at, run_id))


def record_key(record: ResultRecord) -> str:
    """A stored record's identity (see :func:`evaluation_key`)."""
    return evaluation_key(
        record.library, record.backend, record.device, record.profile, record.started_at, record.run_id
    )


def peers_by_library(records: Iterable[ResultRecord]) -> dict[str, list[ResultRecord]]:
    groups: dict[str, list[ResultRecord]] = defaultdict(list)
    for rec in records:
        groups[rec.library].append(rec)
    return groups


def scores_files(results_dir: Path) -> list[Path]:
    """Scores files, oldest first (their names start with a sortable UTC stamp)."""
    folder = results_dir / SCORES_DIR
    return sorted(folder.glob("rescore-*.jsonl")) if folder.is_dir() else []


def load_overlay(results_dir: Path) -> dict[str, dict[str, Any]]:
    """record key -> scores from the newest scores file that holds the key."""
    overlay: dict[str, dict[str, Any]] = {}
    for path in scores_files(results_dir):
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or json.loads(lines[0]).get("kind") != HEADER_KIND:
            continue
        for line in lines[1:]:
            if line.strip():
                entry = json.loads(line)
                overlay[entry["record"]] = entry["scores"]
    return overlay


def effective_scores(records: Sequence[ResultRecord], results_dir: Path) -> dict[str, dict[str, Any]]:
    """record key -> the scores the report shows (newest scores file, else stored, else computed now)."""
    overlay = load_overlay(results_dir)
    peers = peers_by_library(records)
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = record_key(rec)
        if key in overlay:
            out[key] = overlay[key]
        elif rec.scores and all(d in rec.scores for d in DIMENSIONS):
            out[key] = dict(rec.scores)
        else:
            out[key] = score_record(rec, peers=peers[rec.library])
    return out


@dataclass(frozen=True)
class Change:
    key: str
    before: dict[str, float | None]
    after: dict[str, float | None]

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class RescoreResult:
    rubric: Rubric
    changes: list[Change]
    written: Path | None  # None when no score changed


def dimension_scores(scores: dict[str, Any]) -> dict[str, float | None]:
    return {d: (scores.get(d) or {}).get("score") for d in DIMENSIONS}


def rescore(
    records: Sequence[ResultRecord], results_dir: Path, rubric_path: Path | None = None
) -> RescoreResult:
    """Score every record with the rubric; write a new scores file when anything differs."""
    rubric = load_rubric(rubric_path)
    current = effective_scores(records, results_dir)
    peers = peers_by_library(records)
    fresh = {record_key(r): score_record(r, rubric=rubric, peers=peers[r.library]) for r in records}
    changes = [Change(k, dimension_scores(current[k]), dimension_scores(v)) for k, v in fresh.items()]
    differs = any(current[k] != v for k, v in fresh.items())
    written = _write(results_dir, rubric, rubric_path, fresh) if differs else None
    return RescoreResult(rubric, changes, written)


def _write(results_dir: Path, rubric: Rubric, rubric_path: Path | None, fresh: dict[str, Any]) -> Path:
    now = datetime.now(timezone.utc)
    folder = results_dir / SCORES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    header = {
        "kind": HEADER_KIND,
        "created_at": now.isoformat(timespec="seconds"),
        "rubric": {**rubric.stamp(), "file": Path(rubric_path).name if rubric_path else "(shipped)"},
    }
    lines = [json.dumps(header, sort_keys=True)]
    lines += [json.dumps({"record": k, "scores": v}, sort_keys=True) for k, v in sorted(fresh.items())]
    base = f"rescore-{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{rubric.sha256[:12]}"
    return write_text_atomic(folder / f"{base}.jsonl", "\n".join(lines) + "\n")
