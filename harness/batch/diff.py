"""Regressions between two runs, read from stored records only.

Records are matched by (library, backend, device, profile). A regression is a stage that passed and
now fails (or errors), a reproducibility verdict that changed for the worse or sideways, an
experiment's runtime or peak memory (RSS, GPU) grown beyond a noise threshold, or a score that
dropped by more than its threshold. When a stage regressed, the verdict, runtime and memory that
follow from it are not reported again. The same rules in reverse list improvements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.batch.history import (
    SCORE_DIMENSIONS,
    experiment_peak_gpu,
    experiment_peak_rss,
    experiment_runtime_s,
    score_value,
)
from harness.errors import UsageError
from harness.records import ResultRecord

Key = tuple[str, str, str, str]  # library, backend, device, profile
VERDICT_RANK = {"reproduced": 3, "stable": 2, "unstable": 1, "mismatch": 1, "not-run": 0}
MIB = 1024**2


@dataclass(frozen=True)
class Thresholds:
    """Noise thresholds: a change counts only beyond both the ratio and the absolute floor."""

    runtime_ratio: float = 1.5
    runtime_min_s: float = 1.0
    memory_ratio: float = 1.3
    memory_min_bytes: int = 64 * MIB
    score_drop: float = 0.5


@dataclass(frozen=True)
class Change:
    library: str
    backend: str
    device: str
    profile: str
    kind: str  # stage | verdict | runtime | memory | gpu-memory | score
    subject: str  # the stage, the score dimension, or the measured quantity
    before: Any
    after: Any
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunDiff:
    run_a: str
    run_b: str
    compared: int = 0
    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    missing: list[Key] = field(default_factory=list)  # in run A, not in run B
    added: list[Key] = field(default_factory=list)  # in run B, not in run A

    def to_json(self) -> dict[str, Any]:
        def keys(items: list[Key]) -> list[dict[str, str]]:
            return [dict(zip(("library", "backend", "device", "profile"), k, strict=True)) for k in items]

        return {"run_a": self.run_a, "run_b": self.run_b, "compared": self.compared,
                "regressions": [c.to_json() for c in self.regressions],
                "improvements": [c.to_json() for c in self.improvements],
                "missing": keys(self.missing), "added": keys(self.added)}


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    started_at: str
    records: int


def key_of(record: ResultRecord) -> Key:
    return (record.library, record.backend, record.device, record.profile)


def runs_of(records: Iterable[ResultRecord]) -> list[RunInfo]:
    """Every run that stored records, oldest first (by its first record's start)."""
    first: dict[str, str] = {}
    count: dict[str, int] = {}
    for r in records:
        first[r.run_id] = min(first.get(r.run_id, r.started_at), r.started_at)
        count[r.run_id] = count.get(r.run_id, 0) + 1
    return [RunInfo(run, first[run], count[run]) for run in sorted(first, key=lambda k: (first[k], k))]


def _by_key(records: Iterable[ResultRecord], run_id: str) -> dict[Key, ResultRecord]:
    chosen: dict[Key, ResultRecord] = {}
    for r in records:
        if r.run_id == run_id and (key_of(r) not in chosen or r.finished_at > chosen[key_of(r)].finished_at):
            chosen[key_of(r)] = r
    return chosen


def previous_run(records: list[ResultRecord], run_id: str) -> str | None:
    """The latest run before ``run_id`` that evaluated at least one of the same (library, ...) keys."""
    runs = [r.run_id for r in runs_of(records)]
    if run_id not in runs:
        return None
    mine = set(_by_key(records, run_id))
    for candidate in reversed(runs[: runs.index(run_id)]):
        if mine & set(_by_key(records, candidate)):
            return candidate
    return None


def pick_runs(records: list[ResultRecord], run_a: str | None, run_b: str | None) -> tuple[str, str]:
    """The two runs to compare: as given, or run B and the run before it, or the last two runs."""
    runs = [r.run_id for r in runs_of(records)]
    for given in (run_a, run_b):
        if given is not None and given not in runs:
            known = ", ".join(runs[-5:]) or "none"
            raise UsageError(f"harness diff: run: no stored records of run '{given}'; latest runs: {known}")
    if run_a is not None and run_b is not None:
        return run_a, run_b
    b = run_b or run_a
    if b is None:  # the latest run that has an earlier run to compare with (same library/backend/...)
        b = next((r for r in reversed(runs) if previous_run(records, r) is not None), runs[-1] if runs else None)
    a = previous_run(records, b) if b else None
    if a is None or b is None:
        raise UsageError(
            f"harness diff: runs: need two runs with records in common; found {len(runs)} run(s)")
    return a, b


def _grew(before: float | None, after: float | None, ratio: float, floor: float) -> bool:
    return before is not None and after is not None and after > before * ratio and after - before > floor


def _compare(a: ResultRecord, b: ResultRecord, t: Thresholds, diff: RunDiff) -> None:
    def change(kind: str, subject: str, before: Any, after: Any, message: str, worse: bool) -> None:
        item = Change(b.library, b.backend, b.device, b.profile, kind, subject, before, after, message)
        (diff.regressions if worse else diff.improvements).append(item)

    stage_regressed = False
    for sa in a.stages:
        sb = b.stage(sa.name)
        if sb is None:
            continue
        if sa.status == "passed" and sb.status in ("failed", "error"):
            klass = f" ({sb.failure.failure_class})" if sb.failure else ""
            change("stage", sa.name, sa.status, sb.status, f"{sa.name} passed, now {sb.status}{klass}", True)
            stage_regressed = True
            break
        if sa.status in ("failed", "error") and sb.status == "passed":
            change("stage", sa.name, sa.status, sb.status, f"{sa.name} {sa.status}, now passes", False)
            break
    for dim in SCORE_DIMENSIONS:
        va, vb = score_value(a.scores.get(dim)), score_value(b.scores.get(dim))
        if va is not None and vb is not None and abs(vb - va) > t.score_drop:
            change("score", dim, va, vb, f"{dim} score {va:g} -> {vb:g}", vb < va)
    if stage_regressed:
        return
    va_, vb_ = a.reproducibility.verdict, b.reproducibility.verdict
    if va_ != vb_:
        worse = VERDICT_RANK[vb_] <= VERDICT_RANK[va_]
        change("verdict", "reproducibility", va_, vb_, f"verdict {va_} -> {vb_}", worse)
    smoke_a, smoke_b = a.stage("smoke"), b.stage("smoke")
    if not (smoke_a and smoke_b and smoke_a.status == smoke_b.status == "passed"):
        return
    measures: list[tuple[str, Callable[[ResultRecord], float | int | None], float, float, str]] = [
        ("runtime", experiment_runtime_s, t.runtime_ratio, t.runtime_min_s, "s"),
        ("memory", experiment_peak_rss, t.memory_ratio, t.memory_min_bytes, "B"),
        ("gpu-memory", experiment_peak_gpu, t.memory_ratio, t.memory_min_bytes, "B"),
    ]
    for kind, measure, ratio, floor, unit in measures:
        before, after = measure(a), measure(b)
        if before is None or after is None:
            continue
        text = (f"{kind} {before:.2f} s -> {after:.2f} s" if unit == "s"
                else f"{kind} {before / MIB:.0f} MiB -> {after / MIB:.0f} MiB")
        if _grew(before, after, ratio, floor):
            change(kind, "experiments", before, after, text, True)
        elif _grew(after, before, ratio, floor):
            change(kind, "experiments", before, after, text, False)


def diff_runs(
    records: list[ResultRecord], run_a: str, run_b: str, thresholds: Thresholds | None = None
) -> RunDiff:
    """Compare two stored runs; every matched (library, backend, device, profile) is checked."""
    t = thresholds or Thresholds()
    a, b = _by_key(records, run_a), _by_key(records, run_b)
    diff = RunDiff(run_a=run_a, run_b=run_b, compared=len(a.keys() & b.keys()),
                   missing=sorted(a.keys() - b.keys()), added=sorted(b.keys() - a.keys()))
    for key in sorted(a.keys() & b.keys()):
        _compare(a[key], b[key], t, diff)
    return diff
