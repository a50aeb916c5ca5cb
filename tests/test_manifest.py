"""Manifest schema and the catalogue commands: strict fields, `file: field: message`, exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.config import load_settings
from harness.errors import ManifestError, UnknownLibrary
from harness.manifest import find_manifest, load_all, parse_manifest


def write(dir_: Path, data: dict[str, Any], name: str | None = None) -> Path:
    path = dir_ / f"{name or data['slug']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_art_manifest_is_valid() -> None:
    m = find_manifest("adversarial-robustness-toolbox", load_settings().manifests_dir)
    assert m.source.kind == "pypi" and m.source.package == "adversarial-robustness-toolbox"
    assert m.source.version == "1.20.1"
    assert set(m.families) == {"adversarial", "poisoning", "model-extraction", "membership-inference"}
    assert m.origin == "third-party"
    assert [p.requirement for p in m.patches] == ["packaging"] and m.patches[0].reason
    metrics = m.experiments[0].metrics
    assert (
        metrics["clean_accuracy"].reference is not None
        and metrics["adversarial_accuracy"].reference is not None
    )
    assert metrics["clean_accuracy"].reference > metrics["adversarial_accuracy"].reference
    script = load_settings().manifests_dir / str(m.experiments[0].script)
    assert script.is_file()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.update(colour="red"), "colour", "unknown field"),
        (lambda d: d.update(slug="Bad_Slug"), "slug", "lowercase"),
        (lambda d: d["source"].pop("version"), "source", "needs 'package' and 'version'"),
        (lambda d: d.update(source={"kind": "git", "repository": "o/r"}), "source", "needs 'commit'"),
        (lambda d: d["source"].update(kind="git", commit="abc"), "source.commit", "40-character"),
        (lambda d: d.update(families=["teleportation"]), "families.0", "Input should be"),
        (lambda d: d["experiments"][0].update(command=["python", "x.py"]), "experiments.0", "exactly one"),
        (lambda d: d["experiments"][0].update(timeout_s=0), "experiments.0.timeout_s", "> 0"),
        (lambda d: d["experiments"][0].update(timeout_s=-5), "experiments.0.timeout_s", "> 0"),
        (lambda d: d["experiments"][0].update(timeout_s=float("inf")), "experiments.0.timeout_s", "> 0"),
        (lambda d: d.update(environment={"python": "3.9+"}), "environment.python", "PEP 440"),
        (lambda d: d.update(environment={"python": ">=3.x"}), "environment.python", "PEP 440"),
        (lambda d: d["experiments"][0].update(script="/etc/passwd"), "experiments.0.script", "relative path"),
        (lambda d: d["experiments"][0].update(script="smoke/../../x.py"), "experiments.0.script", "no '..'"),
        (lambda d: d.update(schema_version=99), "schema_version", "must be 1"),
        (lambda d: d.update(schema_version=None), "schema_version", "must be 1"),
        (lambda d: d.update(schema_version=True), "schema_version", "must be 1"),
        (lambda d: d["experiments"][0].update(metrics={"acc": {"reference": float("nan")}}),
         "experiments.0.metrics.acc.reference", "finite"),
        (lambda d: d["experiments"][0].update(metrics={"acc": {"reference": 0.5, "tolerance": float("nan")}}),
         "experiments.0.metrics.acc.tolerance", "finite"),
        (lambda d: d["experiments"][0].update(metrics={"acc": {"reference": 0.5, "tolerance": -0.1}}),
         "experiments.0.metrics.acc.tolerance", ">= 0"),
        (lambda d: d["experiments"][0].update(metrics={"acc": {"stability": float("inf")}}),
         "experiments.0.metrics.acc.stability", "finite"),
        (lambda d: d["experiments"][0].update(metrics={"acc": {"stability": -1}}),
         "experiments.0.metrics.acc.stability", ">= 0"),
    ],
)
def test_invalid_manifests_name_file_and_field(
    make_manifest_data: Any, change: Any, field: str, message: str
) -> None:
    data = make_manifest_data()
    change(data)
    with pytest.raises(ManifestError) as err:
        parse_manifest(data, "lib/tinylib.yaml")
    assert err.value.file == "lib/tinylib.yaml"
    assert err.value.field == field
    assert message in err.value.message
    assert str(err.value).startswith(f"lib/tinylib.yaml: {field}: ")


def test_slug_must_match_file_name(make_manifest_data: Any, tmp_path: Path) -> None:
    path = write(tmp_path, make_manifest_data(), name="other")
    with pytest.raises(ManifestError, match="does not match the file name"):
        load_all(tmp_path)
    assert path.exists()


def test_validate_command(
    make_manifest_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, make_manifest_data())
    assert main(["validate", str(good)]) == 0
    bad = make_manifest_data("broken")
    bad["colour"] = "red"
    bad_path = write(tmp_path, bad)
    capsys.readouterr()
    assert main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{bad_path}: colour: unknown field" in err
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2


def test_validate_lists_every_problem_of_a_file(
    make_manifest_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = make_manifest_data("several")
    bad["colour"] = "red"
    bad["origin"] = "someone"
    path = write(tmp_path, bad)
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith(str(path))]
    assert lines == [
        f"{path}: origin: Input should be 'author' or 'third-party'",
        f"{path}: colour: unknown field",
    ]
    # evaluate and load_manifest still report one line: the first problem
    with pytest.raises(ManifestError) as info:
        load_all(tmp_path)
    assert str(info.value) == lines[0]


def test_valid_edge_values_are_accepted(make_manifest_data: Any) -> None:
    data = make_manifest_data()
    data["environment"] = {"python": ">=3.9,<3.13"}
    data["experiments"][0].update(script="smoke/sub/tinylib.py", timeout_s=0.5,
                                  metrics={"acc": {"reference": -1.5, "tolerance": 0, "stability": 0}})
    m = parse_manifest(data, "tinylib.yaml")
    assert m.experiments[0].timeout_s == 0.5 and m.experiments[0].metrics["acc"].tolerance == 0.0


def test_non_utf8_manifest_is_one_line_exit_2(
    make_manifest_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tinylib.yaml"
    path.write_bytes(yaml.safe_dump(make_manifest_data()).encode() + b"notes: caf\xe9\n")
    with pytest.raises(ManifestError) as err:
        load_all(tmp_path)
    assert str(err.value) == f"{path}: (file): not UTF-8 text"
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    err_text = capsys.readouterr().err
    assert "Traceback" not in err_text
    assert f"{path}: (file): not UTF-8 text" in err_text


def test_validate_shipped_manifests() -> None:
    assert main(["validate"]) == 0


def test_list_command(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["list", "--json", "--category", "membership-inference"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert "adversarial-robustness-toolbox" in [r["slug"] for r in rows]
    assert all("membership-inference" in r["families"] for r in rows)
    assert main(["list", "--category", "teleportation"]) == 2
    err = capsys.readouterr().err
    assert "unknown category" in err and "membership-inference" in err


def test_unknown_library_names_closest(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UnknownLibrary) as err:
        find_manifest("adversarial-robustness", load_settings().manifests_dir)
    assert "adversarial-robustness-toolbox" in err.value.suggestions
    assert main(["evaluate", "--lib", "adversarial-robustnes-toolbox"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert (
        "unknown library 'adversarial-robustnes-toolbox'; closest: adversarial-robustness-toolbox"
        in " ".join(out.err.split())
    )


def test_unknown_library_suggests_by_acronym_in_the_name() -> None:
    with pytest.raises(UnknownLibrary) as info:
        find_manifest("art", load_settings().manifests_dir)
    assert info.value.suggestions[0] == "adversarial-robustness-toolbox"  # "... Toolbox (ART)"
