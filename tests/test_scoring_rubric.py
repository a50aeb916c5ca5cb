"""The rubric file and the registered probes match; the rubric is strict; docs/scoring.md is current."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from scoring_support import golden

from harness.scoring import DEFAULT_RUBRIC, PROBES, RubricError, check_registry, load_rubric, score_record
from harness.scoring.docgen import render_doc
from harness.scoring.probes import Outcome, ProbeInput, probe

DOC = Path(__file__).resolve().parent.parent / "docs" / "scoring.md"


def _rubric_data() -> dict:
    return yaml.safe_load(DEFAULT_RUBRIC.read_text(encoding="utf-8"))


def test_every_probe_has_a_rubric_entry_and_vice_versa() -> None:
    rubric = load_rubric()
    assert set(PROBES) == set(rubric.checks)
    check_registry(rubric)  # does not raise


@pytest.fixture
def extra_probe() -> Iterator[str]:
    @probe
    def probe_without_rubric_entry(inp: ProbeInput) -> Outcome:
        return Outcome("pass", "always")

    try:
        yield "probe_without_rubric_entry"
    finally:
        del PROBES["probe_without_rubric_entry"]


def test_a_probe_without_rubric_entry_fails(extra_probe: str) -> None:
    with pytest.raises(RubricError, match=f"no entry for registered probe '{extra_probe}'"):
        check_registry(load_rubric())
    with pytest.raises(RubricError):
        score_record(golden("model-thief--venv--cpu--default"))


def test_a_rubric_entry_without_probe_fails(tmp_path: Path) -> None:
    data = _rubric_data()
    data["checks"]["runs_on_a_toaster"] = {
        "dimension": "applicability",
        "weight": 1,
        "title": "t",
        "motivation": "m",
        "remedy": "r",
    }
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RubricError, match=r"checks\.runs_on_a_toaster: no probe is registered"):
        check_registry(load_rubric(path))


def test_a_removed_rubric_entry_fails(tmp_path: Path) -> None:
    data = _rubric_data()
    del data["checks"]["has_license"]
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RubricError, match="no entry for registered probe 'has_license'"):
        check_registry(load_rubric(path))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["checks"]["imports"].update(weight=0),
            "checks.imports.weight: Input should be greater than 0",
        ),
        (lambda d: d["checks"]["imports"].update(colour="red"), "checks.imports.colour: unknown field"),
        (
            lambda d: d["checks"]["imports"].update(dimension="speed"),
            "checks.imports.dimension: Input should be",
        ),
        (lambda d: d["dimensions"].pop("usability"), "(top level): missing dimensions: usability"),
    ],
)
def test_invalid_rubric_is_one_clear_line(tmp_path: Path, edit, message: str) -> None:
    data = _rubric_data()
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert "\n" not in str(info.value)


def test_a_measured_probe_needs_a_scale(tmp_path: Path) -> None:
    data = _rubric_data()
    del data["checks"]["install_time"]["scale"]
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RubricError, match=r"checks\.install_time\.scale"):
        score_record(golden("evasion-kit--venv--cpu--default"), rubric=load_rubric(path))


def test_rubric_hash_follows_content_not_formatting(tmp_path: Path) -> None:
    data = _rubric_data()
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump(data, default_flow_style=True))
    assert load_rubric(same).sha256 == load_rubric().sha256
    data["checks"]["imports"]["weight"] = 5
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    assert load_rubric(other).sha256 != load_rubric().sha256


def test_every_check_says_why_and_how() -> None:
    for name, check in load_rubric().checks.items():
        assert len(check.motivation) > 40, name
        assert len(check.remedy) > 20, name


def test_committed_scoring_doc_matches_the_rubric() -> None:
    expected = render_doc(load_rubric())
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/scoring.md is stale: run `python -m harness.scoring.docgen > docs/scoring.md`"
    )
    for name in load_rubric().checks:
        assert f"### `{name}`" in expected
