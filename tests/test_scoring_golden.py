"""Scores of the golden records, asserted exactly.

Every expected number is worked out by hand below from the weights and bands in
harness/scoring/rubric.yaml (version 2026.12.2), never by calling the scoring code:

    score = 10 x sum(weight x credit) / sum(weight) over conclusive checks, rounded half up to 0.1

Weights - accessibility: pinned_source 2, has_license 2, on_pypi 1, install_docs 1,
has_docs_or_examples 1, maintained_last_year 1, dependencies_declared 1, dependencies_bounded 1
(>=0.9 -> 1, >=0.5 -> 0.5). usability: installs_without_patches 2 (<=0 -> 1, <=1 -> 0.5),
install_time 1 (<=60 s -> 1, <=300 s -> 0.5), imports 2, smoke_runs 3, clear_failure 1,
reproduces_reference 2. applicability: smoke_runs_on_cpu 3, smoke_runs_on_gpu 1, fits_edge_memory 2
(<=1 GiB -> 1, <=4 GiB -> 0.5), cpu_runtime 1 (<=10 s -> 1, <=60 s -> 0.5), gpu_speedup 1
(>=2 -> 1, >=1 -> 0.5), accepts_tabular_data 2, frameworks_supported 1 (>=2 -> 1, >=1 -> 0.5),
threat_models_covered 1 (>=3 -> 1, >=2 -> 0.75, >=1 -> 0.5).
"""

from __future__ import annotations

import pytest
from scoring_support import GOLDEN_PACKAGE, golden, golden_records

from harness.records import ResultRecord
from harness.scoring import load_rubric, run_probes, score_record

# (record, with peers?) -> (accessibility, usability, applicability)
EXPECTED = {
    # evasion-kit, venv/cpu: all stages pass, 1 patch, install 42 s, smoke mean (4+5+6)/3 = 5 s, 700 MiB.
    # acc: 2+2+1+1+1+1+1 + 1x0.5 (3/4 bounded = 0.75 -> 0.5) = 9.5 / 10 -> 9.5
    # use: patches 1 -> 0.5 x2 = 1; install 42 s -> 1; imports 2; smoke 3; clear_failure inconclusive;
    #      reproduced 2 -> 9 / 10 -> 9.0
    # app without peers: cpu 3, gpu inconclusive, 700 MiB -> 2, 5 s -> 1, speed-up inconclusive,
    #      tabular 2, 3 frameworks -> 1, 2 families -> 0.75: 9.75 / 10 = 9.75 -> 9.8
    # app with peers: the GPU record's smoke mean is 4 s: 5/4 = 1.25x -> 0.5: 10.25 / 11 = 9.318 -> 9.3
    ("evasion-kit--venv--cpu--default", False): (9.5, 9.0, 9.8),
    ("evasion-kit--venv--cpu--default", True): (9.5, 9.0, 9.3),
    # evasion-kit, venv/gpu: build cached, no install_s -> install_time inconclusive.
    # use: 1 + 2 + 3 + 2 = 8 / 9 = 8.889 -> 8.9
    # app with peers: gpu 1, 900 MiB -> 2, speed-up 1.25 -> 0.5, tabular 2, frameworks 1, families 0.75
    #      = 7.25 / 8 = 9.0625 -> 9.1 (cpu and cpu_runtime inconclusive on a GPU record)
    # app without peers: 6.75 / 7 = 9.643 -> 9.6
    ("evasion-kit--venv--gpu--default", True): (9.5, 8.9, 9.1),
    ("evasion-kit--venv--gpu--default", False): (9.5, 8.9, 9.6),
    # evasion-kit, docker/cpu/edge-1g: smoke killed out-of-memory (class + hint), install_s 80.
    # use: patches 1 -> 1; install 80 s -> 0.5; imports 2; smoke 0 of 3; clear_failure 1;
    #      reproduce not run after a failed smoke -> 0 of 2: 4.5 / 11 = 4.09 -> 4.1
    # app: cpu 0 of 3; fits_edge fail (OOM) 0 of 2; cpu_runtime inconclusive (no completed run);
    #      no docker/edge-1g GPU peer -> inconclusive; tabular experiment failed 0 of 2; frameworks 1;
    #      families 0.75: 1.75 / 9 = 1.94 -> 1.9
    ("evasion-kit--docker--cpu--edge-1g", True): (9.5, 4.1, 1.9),
    # shadow-mia: build fails (dependency-resolution + hint), later stages skipped.
    # acc: pinned 2, licence "none" 0/2, not on PyPI 0/1, README 120 bytes 0/1, examples 1, no commit
    #      in the last year 0/1, requirements.txt 1, 5/5 pinned -> 1: 5 / 10 -> 5.0
    # use: install failed 0/2, install_time inconclusive, imports never reached 0/2, smoke 0/3,
    #      clear failure 1/1, reproduce 0/2: 1 / 10 -> 1.0
    # app: cpu 0/3, tabular: no tabular experiment and only image data 0/2, 2 frameworks 1/1,
    #      1 family 0.5/1; memory, runtimes, gpu inconclusive: 1.5 / 7 = 0.214 -> 2.1
    ("shadow-mia--venv--cpu--default", True): (5.0, 1.0, 2.1),
    # grad-leak: fetch fails (source-unavailable + hint); no facts at all.
    # acc: only pinned_source is conclusive (fails): 0 / 2 -> 0.0
    # use: patches/imports/smoke/reproduce fail (2+2+3+2), clear failure 1: 1 / 10 -> 1.0
    # app: only cpu is conclusive (fails): 0 / 3 -> 0.0
    ("grad-leak--venv--cpu--default", True): (0.0, 1.0, 0.0),
    # model-thief: smoke crashes (class "crash", no hint); build cached.
    # acc: pinned 2, licence "unknown" (a file exists) 2, not on PyPI 0/1, no README 0/1, no docs 0/1,
    #      last commit 2026-06-01, 183 days before the run 1/1, declaration "none" 0/1, 0 dependencies
    #      -> inconclusive: 5 / 9 = 0.5556 -> 5.6
    # use: 0 patches -> 2/2, install_time inconclusive, imports 2/2, smoke 0/3, crash is not a clear
    #      failure 0/1, reproduce 0/2: 4 / 10 -> 4.0
    # app: cpu 0/3, tabular experiment failed 0/2, frameworks: manifest lists none -> repository scan
    #      [torch] = 1 -> 0.5, 1 family 0.5: 1 / 7 = 0.1429 -> 1.4
    ("model-thief--venv--cpu--default", True): (5.6, 4.0, 1.4),
}


@pytest.mark.parametrize(("name", "with_peers"), list(EXPECTED), ids=[f"{n}-{p}" for n, p in EXPECTED])
def test_golden_scores_exact(name: str, with_peers: bool) -> None:
    record = golden(name)
    scores = score_record(record, peers=golden_records() if with_peers else ())
    got = tuple(scores[d]["score"] for d in ("accessibility", "usability", "applicability"))
    assert got == EXPECTED[(name, with_peers)]


def test_breakdown_of_one_record() -> None:
    """Per-check breakdown of evasion-kit on GPU: outcome, points and reasons, by hand."""
    scores = score_record(golden("evasion-kit--venv--gpu--default"), peers=golden_records())
    use = {c["check"]: c for c in scores["usability"]["checks"]}
    assert use["install_time"]["outcome"] == "inconclusive"
    assert use["install_time"]["points"] is None and use["install_time"]["credit"] is None
    assert use["clear_failure"]["outcome"] == "inconclusive"
    assert scores["usability"]["inconclusive"] == 2
    assert scores["usability"]["conclusive_weight"] == 9
    # smoke_runs: weight 3 of 9 conclusive -> max 10 x 3/9 = 3.33 points, all earned
    assert (use["smoke_runs"]["points"], use["smoke_runs"]["max_points"]) == (3.33, 3.33)
    # installs_without_patches: 1 patch -> credit 0.5; 10 x 2/9 = 2.22 max, 1.11 earned
    assert use["installs_without_patches"]["outcome"] == "measured"
    assert use["installs_without_patches"]["value"] == 1
    assert (use["installs_without_patches"]["points"], use["installs_without_patches"]["max_points"]) == (
        1.11,
        2.22,
    )
    app = {c["check"]: c for c in scores["applicability"]["checks"]}
    assert app["gpu_speedup"]["value"] == pytest.approx(1.25)
    assert app["gpu_speedup"]["credit"] == 0.5
    assert app["smoke_runs_on_cpu"]["outcome"] == "inconclusive"
    assert app["fits_edge_memory"]["value"] == 900 * 2**20
    for row in use.values():
        assert set(row) >= {"check", "outcome", "points", "weight", "reason", "remedy"}
        assert row["reason"]


def test_inconclusive_is_not_zero() -> None:
    """grad-leak: a dimension with one conclusive check scores from that check alone; none -> n/a."""
    scores = score_record(golden("grad-leak--venv--cpu--default"))
    acc = scores["accessibility"]
    assert acc["inconclusive"] == 7 and acc["conclusive_weight"] == 2
    assert [c["check"] for c in acc["checks"] if c["outcome"] != "inconclusive"] == ["pinned_source"]


def test_rubric_stamp_travels_with_scores() -> None:
    rubric = load_rubric()
    scores = score_record(golden("model-thief--venv--cpu--default"))
    assert scores["rubric"] == {"version": "2026.12.2", "sha256": rubric.sha256}


def test_log_tail_and_stages_do_not_change_with_scoring() -> None:
    """Scoring is pure: the record is not modified and two calls agree."""
    record = golden("shadow-mia--venv--cpu--default")
    before = record.model_dump_json()
    assert score_record(record) == score_record(record)
    assert record.model_dump_json() == before


def _with_repository(name: str, **repo: object) -> ResultRecord:
    record = golden(name)
    facts = {**record.facts, "repository": {**record.facts.get("repository", {}), **repo}}
    return record.model_copy(update={"facts": facts})


@pytest.mark.parametrize(
    ("last_commit", "commits", "outcome"),
    [
        ("2025-12-02T02:00:00+00:00", 0, "pass"),  # 364 days before the run (2026-12-01)
        ("2025-11-30T02:00:00+00:00", 50, "fail"),  # 366 days: busy then, but not maintained since
        (None, 12, "inconclusive"),  # activity counted before an unknown date says nothing
    ],
)
def test_maintained_is_relative_to_the_run(last_commit: str | None, commits: int, outcome: str) -> None:
    record = _with_repository(
        "shadow-mia--venv--cpu--default", last_commit_date=last_commit, commits_last_year=commits
    )
    record = record.model_copy(update={"source": record.source.model_copy(update={"commit_date": None})})
    assert run_probes(record)["maintained_last_year"].kind == outcome


def test_numpy_is_not_counted_as_a_framework() -> None:
    record = _with_repository("model-thief--venv--cpu--default", frameworks=["numpy", "sklearn"])
    out = run_probes(record)["frameworks_supported"]
    assert (out.kind, out.value) == ("value", 1)


# poison-pack: a PyPI release whose accessibility facts come from the release (facts["package"]), not a
# repository. Worked out by hand from tests/golden/package/poison-pack--venv--cpu--default.json:
# acc: pinned 0.4.1 + fetch passed 2/2; licence BSD-3-Clause (classifier) 2/2; PyPI release 1/1;
#      long description 180 bytes < 300 -> 0/1; Documentation URL 1/1; newest release 2025-10-15,
#      411 full days (10:00 to 03:00) before the run (2026-12-01) 0/1; Requires-Dist 1/1; bounded 3 of 5 = 0.6 -> 0.5:
#      7.5 / 10 -> 7.5
# use: 0 patches 2/2; install 120 s -> 0.5; imports (cached verdict) 2/2; smoke 3/3; nothing failed ->
#      clear_failure inconclusive; "stable" (no reference) -> inconclusive: 7.5 / 8 = 0.9375 -> 9.4
# app: cpu 3/3; gpu inconclusive; peak 1.5 GiB -> 0.5 x 2 = 1; runtime (12 + 14) / 2 = 13 s -> 0.5;
#      no GPU peer -> inconclusive; tabular experiment ran 2/2; frameworks [torch] -> 0.5;
#      2 families -> 0.75: 7.75 / 10 -> 7.8
def test_golden_pypi_record_scores_from_package_facts() -> None:
    record = golden("poison-pack--venv--cpu--default", GOLDEN_PACKAGE)
    scores = score_record(record)
    got = tuple(scores[d]["score"] for d in ("accessibility", "usability", "applicability"))
    assert got == (7.5, 9.4, 7.8)
    acc = {c["check"]: c for c in scores["accessibility"]["checks"]}
    assert all(c["outcome"] != "inconclusive" for c in acc.values())
    assert acc["has_license"]["reason"] == "licence BSD-3-Clause (from the release's metadata)"
    assert acc["install_docs"]["reason"].startswith("the long description (the README on PyPI) has only 180 bytes")
    assert acc["maintained_last_year"]["reason"] == (
        "last release 2025-10-15, 411 days before the run; 3 releases in the year up to the pinned one"
    )
    assert acc["dependencies_bounded"]["value"] == pytest.approx(0.6)


def _with_package(**package: object) -> ResultRecord:
    record = golden("poison-pack--venv--cpu--default", GOLDEN_PACKAGE)
    return record.model_copy(update={"facts": {**record.facts, "package": {**record.facts["package"], **package}}})


@pytest.mark.parametrize(
    ("package", "probe", "kind", "reason"),
    [
        ({"license": "none"}, "has_license", "fail", "the release's metadata names no licence"),
        ({"license": "unknown"}, "has_license", "pass", "the release's metadata declares a licence"),
        ({"readme": {"present": False, "bytes": 0}}, "install_docs", "fail", "the release's metadata has no long"),
        ({"has_docs": False}, "has_docs_or_examples", "fail", "the release's metadata links no documentation"),
        ({"last_release_date": "2026-02-01T00:00:00+00:00"}, "maintained_last_year", "pass", "last release 2026-02-01"),
        ({"last_release_date": None}, "maintained_last_year", "fail", "last release 2025-03-01"),  # the pinned one
        (
            {"last_release_date": None, "release_date": None, "index_status": "unknown: HTTP 404"},
            "maintained_last_year",
            "inconclusive",
            "no release date was recorded (unknown: HTTP 404)",
        ),
        ({"dependency_declaration": None}, "dependencies_declared", "inconclusive", "the release's metadata cannot"),
        ({"dependency_declaration": []}, "dependencies_declared", "fail", "the release's metadata declares no"),
        ({"dependencies": {"total": 4, "pinned": 4, "bounded": 4, "unbounded": 0}}, "dependencies_bounded",
         "value", "4 of 4 dependencies"),
    ],
)
def test_probes_read_package_facts(package: dict[str, object], probe: str, kind: str, reason: str) -> None:
    out = run_probes(_with_package(**package))[probe]
    assert out.kind == kind and out.reason.startswith(reason), out


def test_bounded_counts_pinned_once() -> None:
    """facts.dependencies counts pinned dependencies inside ``bounded``: 2 pinned + 1 bounded of 4 is 3/4."""
    record = _with_repository(
        "evasion-kit--venv--cpu--default", dependencies={"total": 4, "pinned": 2, "bounded": 3, "unbounded": 1}
    )
    out = run_probes(record)["dependencies_bounded"]
    assert (out.kind, out.value) == ("value", 0.75)


def test_evaluate_summary_lists_the_rubric_dimensions() -> None:
    """The summary line under `harness evaluate`: one part per dimension, never the "rubric" stamp."""
    from harness.commands.evaluate import score_line

    scores = score_record(golden("evasion-kit--venv--cpu--default"))
    assert "rubric" in scores
    # accessibility: all 8 conclusive; usability: clear_failure inconclusive; applicability: the two
    # GPU checks inconclusive without peers (see EXPECTED above)
    assert score_line(scores) == (
        "accessibility 9.5 (8/8 checks), usability 9.0 (5/6 checks), applicability 9.8 (6/8 checks)"
    )
    assert score_line({}) == "accessibility n/a, usability n/a, applicability n/a"
