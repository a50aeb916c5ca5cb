"""Verdicts: stability across repeats and agreement with references, kept apart."""

from __future__ import annotations

from typing import Any

import pytest

from harness.manifest import Manifest, parse_manifest
from harness.records import ExperimentResult, Repeat
from harness.reproducibility import failure_of, judge


def manifest(make_manifest_data: Any, metrics: dict[str, Any]) -> Manifest:
    data = make_manifest_data()
    data["experiments"] = [{"name": "smoke", "script": "smoke/tinylib.py", "metrics": metrics}]
    return parse_manifest(data, "tinylib.yaml")


def runs(*values: dict[str, float], exit_code: int = 0) -> list[ExperimentResult]:
    reps = [Repeat(metrics=v, wall_s=1.0, cpu_s=1.0, exit_code=exit_code) for v in values]
    return [ExperimentResult(name="smoke", repeats=reps)]


def test_not_run_without_successful_repeat(make_manifest_data: Any) -> None:
    m = manifest(make_manifest_data, {"acc": {"reference": 0.9}})
    assert judge([], m).verdict == "not-run"
    assert judge(runs({"acc": 0.9}, exit_code=1), m).verdict == "not-run"
    assert judge(runs({}), m).verdict == "not-run"


def test_reproduced_when_all_references_match(make_manifest_data: Any) -> None:
    m = manifest(
        make_manifest_data,
        {
            "acc": {"reference": 0.90, "tolerance": 0.05, "stability": 0.02},
            "adv": {"reference": 0.30, "tolerance": 0.05, "stability": 0.02},
        },
    )
    r = judge(runs({"acc": 0.91, "adv": 0.28}, {"acc": 0.92, "adv": 0.29}), m)
    assert r.verdict == "reproduced"
    acc = r.details["metrics"]["smoke"]["acc"]
    assert acc["mean"] == pytest.approx(0.915)
    assert acc["spread"] == pytest.approx(0.01)
    assert acc["delta"] == pytest.approx(0.015)
    assert failure_of(r) is None


def test_mismatch_when_a_reference_is_too_far(make_manifest_data: Any) -> None:
    m = manifest(make_manifest_data, {"acc": {"reference": 0.90, "tolerance": 0.05}})
    r = judge(runs({"acc": 0.80}, {"acc": 0.80}), m)
    assert r.verdict == "mismatch"
    assert r.details["mismatched"] == ["smoke.acc"]
    failed = failure_of(r)
    assert failed is not None and failed[0] == "metric-mismatch"


def test_tolerance_boundary_is_inclusive(make_manifest_data: Any) -> None:
    m = manifest(make_manifest_data, {"acc": {"reference": 0.90, "tolerance": 0.05}})
    assert judge(runs({"acc": 0.85}), m).verdict == "reproduced"
    assert judge(runs({"acc": 0.8499}), m).verdict == "mismatch"


def test_unstable_beats_mismatch(make_manifest_data: Any) -> None:
    m = manifest(make_manifest_data, {"acc": {"reference": 0.5, "tolerance": 0.01, "stability": 0.01}})
    r = judge(runs({"acc": 0.90}, {"acc": 0.70}), m)
    assert r.verdict == "unstable"
    assert r.details["metrics"]["smoke"]["acc"]["spread"] == pytest.approx(0.2)
    failed = failure_of(r)
    assert failed is not None and failed[0] == "unstable"


def test_stable_without_references(make_manifest_data: Any) -> None:
    m = manifest(make_manifest_data, {"acc": {"stability": 0.0}})
    assert judge(runs({"acc": 0.7}, {"acc": 0.7}, {"acc": 0.7}), m).verdict == "stable"
    # no declared metrics at all: every reported metric is judged with the defaults
    m2 = manifest(make_manifest_data, {})
    assert judge(runs({"x": 1.0}, {"x": 1.0}), m2).verdict == "stable"
    assert judge(runs({"x": 1.0}, {"x": 2.0}), m2).verdict == "unstable"


def test_unreported_referenced_metric_is_a_mismatch(make_manifest_data: Any) -> None:
    m = manifest(make_manifest_data, {"acc": {"reference": 0.9}})
    r = judge(runs({"other": 1.0}), m)
    assert r.verdict == "mismatch"
    assert r.details["metrics"]["smoke"]["acc"]["reported"] is False


def test_failed_repeats_are_left_out(make_manifest_data: Any) -> None:
    m = manifest(make_manifest_data, {"acc": {"reference": 0.9, "tolerance": 0.01}})
    ok = Repeat(metrics={"acc": 0.9}, wall_s=1, cpu_s=1, exit_code=0)
    bad = Repeat(metrics={"acc": 0.1}, wall_s=1, cpu_s=1, exit_code=1)
    r = judge([ExperimentResult(name="smoke", repeats=[ok, bad])], m)
    assert r.verdict == "reproduced"
    assert r.details["metrics"]["smoke"]["acc"]["n"] == 1


@pytest.mark.parametrize(
    ("line", "metrics", "problem"),
    [
        ('{"metrics": {"acc": 0.5, "n": 3}}', {"acc": 0.5, "n": 3.0}, None),
        ('{"metrics": {"acc": NaN}}', {}, "acc=NaN"),
        ('{"metrics": {"acc": 0.5, "b": Infinity}}', {"acc": 0.5}, "b=Infinity"),
        ('{"metrics": {"acc": -Infinity}}', {}, "acc=-Infinity"),
        ('{"metrics": {"acc": "0.5"}}', {}, 'acc="0.5"'),
        ('{"metrics": {"ok": true}}', {}, "ok=true"),
        ('{"metrics": {"acc": null}}', {}, "acc=null"),
        ('{"metrics": {}}', {}, "names no metric"),
    ],
)
def test_parse_metrics_flags_non_finite_and_non_numeric_values(
    line: str, metrics: dict[str, float], problem: str | None
) -> None:
    from harness.experiments import parse_metrics

    found, why = parse_metrics(f"progress\n{line}\n")
    assert found == metrics
    if problem is None:
        assert why is None
    else:
        assert why is not None and problem in why


def test_parse_metrics_without_a_metrics_line() -> None:
    from harness.experiments import parse_metrics

    assert parse_metrics("no json here\n{not json \"metrics\"}\n") == (None, None)
    assert parse_metrics('{"metrics": {"acc": 0.1}}\n{"metrics": {"acc": 0.2}}\n') == ({"acc": 0.2}, None)
