"""A library over time, read from stored records only (every night's records are kept).

``library_series(records)`` is the function the report calls for its sparklines: per library slug,
the points of every stored evaluation, oldest first, each with the numbers worth plotting.
``harness history --lib SLUG`` prints the same points as a table (or ``--json``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.records import ResultRecord

SCORE_DIMENSIONS = ("accessibility", "usability", "applicability")


def score_value(raw: object) -> float | None:
    """A stored score dimension as a number: ``{"score": x, ...}`` or a bare number; None if absent."""
    if isinstance(raw, dict):
        raw = raw.get("score")
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def experiment_runtime_s(record: ResultRecord) -> float | None:
    """Sum over experiments of the median wall time of a repeat (None when nothing ran)."""
    walls = [statistics.median(r.wall_s for r in e.repeats) for e in record.experiments if e.repeats]
    return round(sum(walls), 6) if walls else None


def _peak(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def experiment_peak_rss(record: ResultRecord) -> int | None:
    return _peak(r.peak_rss_bytes for e in record.experiments for r in e.repeats)


def experiment_peak_gpu(record: ResultRecord) -> int | None:
    return _peak(r.peak_gpu_bytes for e in record.experiments for r in e.repeats)


@dataclass(frozen=True)
class HistoryPoint:
    """One stored evaluation of a library, reduced to what changes from night to night."""

    run_id: str
    started_at: str
    backend: str
    device: str
    profile: str
    pin: str  # commit or version evaluated
    status: str  # passed | failed | skipped | error
    stage_reached: str
    verdict: str
    runtime_s: float | None
    peak_rss_bytes: int | None
    peak_gpu_bytes: int | None
    scores: dict[str, float | None] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Which series the point belongs to: ``backend/device/profile``."""
        return f"{self.backend}/{self.device}/{self.profile}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"key": self.key}


def point_of(record: ResultRecord) -> HistoryPoint:
    pin = record.source.commit or record.source.version or ""
    return HistoryPoint(
        run_id=record.run_id, started_at=record.started_at, backend=record.backend, device=record.device,
        profile=record.profile, pin=pin, status=record.overall_status, stage_reached=record.stage_reached,
        verdict=record.reproducibility.verdict, runtime_s=experiment_runtime_s(record),
        peak_rss_bytes=experiment_peak_rss(record), peak_gpu_bytes=experiment_peak_gpu(record),
        scores={dim: score_value(record.scores.get(dim)) for dim in SCORE_DIMENSIONS},
    )


def library_series(records: Iterable[ResultRecord]) -> dict[str, list[HistoryPoint]]:
    """Per library slug, every stored evaluation as a point, oldest first (for sparklines)."""
    series: dict[str, list[HistoryPoint]] = {}
    for record in sorted(records, key=lambda r: (r.started_at, r.run_id)):
        series.setdefault(record.library, []).append(point_of(record))
    return series


def library_history(records: Iterable[ResultRecord], slug: str) -> list[HistoryPoint]:
    return library_series(r for r in records if r.library == slug).get(slug, [])
