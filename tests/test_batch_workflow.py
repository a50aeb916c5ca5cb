"""The nightly GPU runner workflow: parsed, and checked for its schedule, runner, command and artifacts."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "nightly.yml"


def test_nightly_workflow() -> None:
    data = yaml.safe_load(WORKFLOW.read_text())
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as true
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons and all(len(c.split()) == 5 for c in crons)
    minute, hour, dom, month, dow = crons[0].split()
    assert (dom, month, dow) == ("*", "*", "*") and minute.isdigit() and hour.isdigit()  # once a night
    assert "workflow_dispatch" in triggers

    job = data["jobs"]["nightly"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "scripts/setup.sh" in runs
    nightly = next(step["run"] for step in job["steps"] if "harness nightly" in step.get("run", ""))
    for flag in ("--device gpu", "--device cpu", "--results-dir", "--reports-dir", "--fail-on-regression"):
        assert flag in nightly

    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    paths = sorted(s["with"]["path"] for s in uploads)
    assert paths == ["${{ env.HARNESS_REPORTS_DIR }}", "${{ env.HARNESS_RESULTS_DIR }}"]
    assert all(s.get("if") == "always()" for s in uploads)  # uploaded even when a regression fails the job
    assert str(job["steps"][0].get("uses", "")).startswith("actions/checkout@")
    for private in ("/work", "/root", "/opt", "/tmp"):
        assert private not in WORKFLOW.read_text()
