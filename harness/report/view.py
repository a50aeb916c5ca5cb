"""The report's view model: stored records (+ scores, + catalogue taxonomy) turned into rows and pages.

Nothing here renders HTML. The overview shows the newest record per (library, backend, device,
profile) - a *configuration* - and one row per library: the library's preferred configuration
(default profile, venv, CPU first) unless the filters ask for another. Taxonomy comes from the
library's manifest when it is still in the catalogue, else from ``facts["manifest"]`` in the record,
else it is shown as unknown: the report renders from records alone.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.batch.history import HistoryPoint, library_series
from harness.errors import HarnessError
from harness.manifest import Manifest, find_manifest
from harness.records import STAGE_NAMES, ResultRecord
from harness.scoring.probes import peak_rss_bytes, smoke_wall_s
from harness.scoring.rescore import evaluation_key, record_key
from harness.scoring.rubric import DIMENSIONS

PROFILE_ORDER = ("default", "gateway-4g", "edge-1g")
UNKNOWN = "unknown"
EDGE_BYTES = 1024**3  # the smallest edge budget (the edge-1g profile)
# Columns of the CSV/JSON exports of the overview (one row per configuration), in order.
EXPORT_COLUMNS = (
    "library",
    "name",
    "families",
    "origin",
    "backend",
    "device",
    "profile",
    "status",
    "stage_reached",
    "failed_stage",
    "failure_class",
    *DIMENSIONS,
    "reproducibility",
    "smoke_runtime_s",
    "peak_rss_bytes",
    "peak_gpu_bytes",
    "source_kind",
    "source_url",
    "commit",
    "version",
    "started_at",
    "run_id",
    "rubric_version",
)


@dataclass(frozen=True)
class Taxonomy:
    name: str
    families: tuple[str, ...]
    origin: str
    details: dict[str, Any] = field(default_factory=dict)  # security properties, knowledge, ...
    paper: dict[str, Any] | None = None
    from_manifest: bool = False


def taxonomy_for(record: ResultRecord, manifests_dir: Path | None) -> Taxonomy:
    """Taxonomy from the manifest, else from the record's catalogue facts, else unknown."""
    manifest: Manifest | None = None
    if manifests_dir is not None:
        with contextlib.suppress(HarnessError, OSError):
            manifest = find_manifest(record.library, manifests_dir)
    if manifest is not None:
        return Taxonomy(
            manifest.name,
            tuple(manifest.families),
            manifest.origin,
            manifest.taxonomy.model_dump(mode="json"),
            manifest.paper.model_dump(mode="json") if manifest.paper else None,
            True,
        )
    stored = record.facts.get("manifest")
    facts: dict[str, Any] = stored if isinstance(stored, dict) else {}
    return Taxonomy(
        str(facts.get("name") or record.library),
        tuple(facts.get("families") or (UNKNOWN,)),
        str(facts.get("origin") or UNKNOWN),
        dict(facts.get("taxonomy") or {}),
        facts.get("paper") if isinstance(facts.get("paper"), dict) else None,
    )


def config_of(record: ResultRecord) -> tuple[str, str, str, str]:
    return (record.library, record.backend, record.device, record.profile)


def latest_per_config(records: Iterable[ResultRecord]) -> list[ResultRecord]:
    newest: dict[tuple[str, str, str, str], ResultRecord] = {}
    for rec in records:
        key = config_of(rec)
        if key not in newest or rec.started_at >= newest[key].started_at:
            newest[key] = rec
    return list(newest.values())


def preference(record: ResultRecord) -> tuple[int, int, int, str]:
    """Sort key: the configuration a library's row shows first (default profile, venv, CPU)."""
    profile = PROFILE_ORDER.index(record.profile) if record.profile in PROFILE_ORDER else len(PROFILE_ORDER)
    return (profile, 0 if record.backend == "venv" else 1, 0 if record.device == "cpu" else 1, record.profile)


@dataclass(frozen=True)
class Row:
    """One configuration of one library, as the overview and the exports show it."""

    record: ResultRecord
    taxonomy: Taxonomy
    scores: dict[str, Any]
    rank: int  # 0 = the library's preferred configuration
    history: tuple[HistoryPoint, ...] = ()  # every stored evaluation of this configuration, oldest first

    @property
    def slug(self) -> str:
        return self.record.library

    @property
    def config(self) -> str:
        r = self.record
        return f"{r.backend} · {r.device} · {r.profile}"

    @property
    def status(self) -> str:
        return self.record.overall_status

    @property
    def stage_reached(self) -> str:
        return self.record.stage_reached

    @property
    def stage_index(self) -> int:
        reached = self.stage_reached
        return STAGE_NAMES.index(reached) + 1 if reached in STAGE_NAMES else 0

    @property
    def first_problem(self) -> Any:
        return next((s for s in self.record.stages if s.status in ("failed", "error")), None)

    @property
    def smoke_passed(self) -> bool:
        smoke = self.record.stage("smoke")
        return smoke is not None and smoke.status == "passed"

    @property
    def fits_edge(self) -> bool:
        """The smoke experiment completed within an edge device's 1 GiB."""
        return self.smoke_passed and self.peak_rss is not None and self.peak_rss <= EDGE_BYTES

    @property
    def runtime_s(self) -> float | None:
        return smoke_wall_s(self.record)

    @property
    def peak_rss(self) -> int | None:
        return peak_rss_bytes(self.record)

    @property
    def peak_gpu(self) -> int | None:
        values = [r.peak_gpu_bytes for e in self.record.experiments for r in e.repeats if r.peak_gpu_bytes]
        return max(values) if values else None

    def score(self, dimension: str) -> float | None:
        value = (self.scores.get(dimension) or {}).get("score")
        return float(value) if isinstance(value, (int, float)) else None

    def coverage(self, dimension: str) -> tuple[int, int]:
        """(checks that could be measured, checks) of one dimension."""
        checks = (self.scores.get(dimension) or {}).get("checks") or []
        return sum(1 for c in checks if c.get("outcome") != "inconclusive"), len(checks)

    def export(self) -> dict[str, Any]:
        r, problem = self.record, self.first_problem
        return {
            "library": r.library,
            "name": self.taxonomy.name,
            "families": ";".join(self.taxonomy.families),
            "origin": self.taxonomy.origin,
            "backend": r.backend,
            "device": r.device,
            "profile": r.profile,
            "status": self.status,
            "stage_reached": self.stage_reached,
            "failed_stage": problem.name if problem else None,
            "failure_class": problem.failure.failure_class if problem and problem.failure else None,
            **{d: self.score(d) for d in DIMENSIONS},
            "reproducibility": r.reproducibility.verdict,
            "smoke_runtime_s": self.runtime_s,
            "peak_rss_bytes": self.peak_rss,
            "peak_gpu_bytes": self.peak_gpu,
            "source_kind": r.source.kind,
            "source_url": r.source.url,
            "commit": r.source.commit,
            "version": r.source.version,
            "started_at": r.started_at,
            "run_id": r.run_id,
            "rubric_version": (self.scores.get("rubric") or {}).get("version"),
        }


@dataclass(frozen=True)
class MetricCheck:
    """One metric of one experiment as the reproducibility table shows it (numbers already formatted)."""

    experiment: str
    metric: str
    mean: str
    spread: str
    reference: str
    tolerance: str
    delta: str
    match: str  # "yes", "no", or an en dash when there is no reference to match


def _sig(value: Any) -> str:
    """A number to 4 significant digits (``-4.444e-05``), or an en dash when there is none."""
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "\u2013"


def reproducibility_table(details: dict[str, Any]) -> list[MetricCheck]:
    """The per-metric judgement stored by harness.reproducibility, one row per experiment metric."""
    metrics = details.get("metrics")
    mismatched = set(details.get("mismatched") or [])
    rows: list[MetricCheck] = []
    for experiment, per_metric in (metrics.items() if isinstance(metrics, dict) else []):
        for metric, entry in (per_metric.items() if isinstance(per_metric, dict) else []):
            if not isinstance(entry, dict):
                continue
            has_reference = entry.get("reference") is not None
            reported = entry.get("reported", True)
            missing = f"{experiment}.{metric}" in mismatched or not reported
            rows.append(
                MetricCheck(
                    experiment,
                    metric,
                    _sig(entry.get("mean")) if reported else "not reported",
                    _sig(entry.get("spread")),
                    _sig(entry.get("reference")),
                    _sig(entry.get("tolerance")) if has_reference else "\u2013",
                    _sig(entry.get("delta")),
                    ("no" if missing else "yes") if has_reference else "\u2013",
                )
            )
    return rows


@dataclass(frozen=True)
class LibraryView:
    slug: str
    taxonomy: Taxonomy
    rows: list[Row]  # preferred configuration first

    @property
    def primary(self) -> Row:
        return self.rows[0]


def _with_scores(slug: str, point: HistoryPoint, scores: dict[str, dict[str, Any]]) -> HistoryPoint:
    """A history point with the scores the report shows (the newest rescore, not only the stored ones)."""
    shown = scores.get(
        evaluation_key(slug, point.backend, point.device, point.profile, point.started_at, point.run_id)
    )
    if shown is None:
        return point
    return replace(point, scores={d: (shown.get(d) or {}).get("score") for d in DIMENSIONS})


def build_libraries(
    records: Sequence[ResultRecord],
    scores: dict[str, dict[str, Any]],
    manifests_dir: Path | None,
) -> list[LibraryView]:
    """Libraries (sorted by slug), each with its newest record per configuration."""
    series = library_series(records)
    by_lib: dict[str, list[ResultRecord]] = defaultdict(list)
    for rec in latest_per_config(records):
        by_lib[rec.library].append(rec)
    libraries = []
    for slug in sorted(by_lib):
        recs = sorted(by_lib[slug], key=preference)
        taxonomy = taxonomy_for(recs[0], manifests_dir)
        rows = [
            Row(
                rec,
                taxonomy,
                scores.get(record_key(rec), {}),
                i,
                tuple(
                    _with_scores(slug, p, scores)
                    for p in series.get(slug, [])
                    if p.key == f"{rec.backend}/{rec.device}/{rec.profile}"
                ),
            )
            for i, rec in enumerate(recs)
        ]
        libraries.append(LibraryView(slug, taxonomy, rows))
    return libraries
