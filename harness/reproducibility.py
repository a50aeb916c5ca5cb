"""Reproducibility verdicts: stability across repeats, and agreement with the manifest's references.

Two questions kept apart (DESIGN.md): is each metric stable (its spread = max - min across the
successful repeats is at most the metric's ``stability``), and does its mean lie within
``tolerance`` of the ``reference`` the manifest cites. Verdicts:

- ``not-run``: no successful repeat (exit 0 with a metrics line);
- ``unstable``: some metric spreads more than its ``stability``;
- ``mismatch``: some referenced metric is farther than its ``tolerance`` (or was not reported);
- ``reproduced``: every referenced metric matches, and there is at least one reference;
- ``stable``: stable, but nothing to compare with.
"""

from __future__ import annotations

from typing import Any

from harness.manifest import Manifest, MetricSpec
from harness.records import ExperimentResult, Reproducibility, Verdict

PASSING = ("reproduced", "stable")
EPS = 1e-9


def _successful(result: ExperimentResult) -> list[dict[str, float]]:
    return [r.metrics for r in result.repeats if r.exit_code == 0 and r.metrics]


def judge(results: list[ExperimentResult], manifest: Manifest) -> Reproducibility:
    specs = {e.name: e.metrics for e in manifest.experiments}
    details: dict[str, Any] = {}
    unstable, mismatched, references = [], [], 0
    ran = False
    for result in results:
        runs = _successful(result)
        if not runs:
            continue
        ran = True
        declared = specs.get(result.name, {})
        names = list(declared) or sorted({k for m in runs for k in m})
        per_metric: dict[str, Any] = {}
        for name in names:
            spec = declared.get(name, MetricSpec())
            values = [m[name] for m in runs if name in m]
            key = f"{result.name}.{name}"
            if not values:
                per_metric[name] = {"reported": False, "reference": spec.reference}
                if spec.reference is not None:
                    references += 1
                    mismatched.append(key)
                continue
            mean = sum(values) / len(values)
            spread = max(values) - min(values)
            entry: dict[str, Any] = {
                "mean": mean,
                "spread": spread,
                "n": len(values),
                "stability": spec.stability,
                "reference": spec.reference,
                "tolerance": spec.tolerance,
                "delta": None,
                "source": spec.source,
            }
            if spread > spec.stability + EPS:
                unstable.append(key)
            if spec.reference is not None:
                references += 1
                entry["delta"] = mean - spec.reference
                if abs(entry["delta"]) > spec.tolerance + EPS:
                    mismatched.append(key)
            per_metric[name] = entry
        details[result.name] = per_metric
    if not ran:
        return Reproducibility(verdict="not-run", details={"reason": "no successful repeat"})
    verdict: Verdict
    if unstable:
        verdict = "unstable"
    elif mismatched:
        verdict = "mismatch"
    else:
        verdict = "reproduced" if references else "stable"
    summary = {"unstable": unstable, "mismatched": mismatched, "references": references}
    return Reproducibility(verdict=verdict, details={"metrics": details, **summary})


def failure_of(repro: Reproducibility) -> tuple[str, str, str] | None:
    """(class, message, hint) when the reproduce stage fails on this verdict, else None."""
    if repro.verdict in PASSING:
        return None
    if repro.verdict == "unstable":
        names = ", ".join(repro.details.get("unstable", []))
        return (
            "unstable",
            f"metrics vary across repeats with the same seed: {names}",
            "seed every source of randomness, or widen the metric's 'stability' in the manifest",
        )
    if repro.verdict == "mismatch":
        names = ", ".join(repro.details.get("mismatched", []))
        return (
            "metric-mismatch",
            f"metrics differ from their reference beyond tolerance: {names}",
            "check the reference and its tolerance in the manifest, or what changed in the library",
        )
    return ("no-metrics", "no successful repeat to judge", "make the smoke experiment pass first")
