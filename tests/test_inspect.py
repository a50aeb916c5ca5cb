"""``harness inspect``: facts of a real (test-made) repository through the CLI; nothing is run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from git_support import ATTACKLIB_FACTS, DATES, bare_copy, make_attacklib, manifest_data

from harness.cli import main


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    work, commits = make_attacklib(tmp_path / "work" / "attacklib")
    server = bare_copy(work, tmp_path / "server" / "attacklib.git")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    data = manifest_data("attacklib", "acme/attacklib", commits[2], url=str(server), ref="main")
    (manifests / "attacklib.yaml").write_text(yaml.safe_dump(data))
    evil = manifest_data("evil", "acme/evil", commits[2], url=f"ext::sh -c touch% {tmp_path / 'pwned'}")
    (manifests / "evil.yaml").write_text(yaml.safe_dump(evil))
    monkeypatch.setenv("HARNESS_MANIFESTS_DIR", str(manifests))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HARNESS_GIT_ALLOW_FILE", "1")
    monkeypatch.delenv("HARNESS_GIT_MIRROR", raising=False)
    return server, commits


def test_inspect_json_prints_exact_facts_only(catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    server, commits = catalogue
    assert main(["inspect", "--lib", "attacklib", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # stdout is the JSON document and nothing else
    assert out["library"] == "attacklib"
    assert out["failure"] is None
    assert out["cached"] is False
    assert out["source"] == {"kind": "git", "url": str(server), "commit": commits[2], "version": None,
                             "ref": "main", "commit_date": DATES[2]}
    assert out["facts"] == ATTACKLIB_FACTS
    assert main(["inspect", "--lib", "attacklib", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True


def test_inspect_table_for_people(catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--lib", "attacklib"]) == 0
    out = capsys.readouterr().out
    assert "license" in out and "MIT" in out and "torch, keras, theano, sklearn, numpy" in out


def test_inspect_unsafe_source_is_a_classified_result(catalogue, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--lib", "evil", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["failure"]["class"] == "unsafe-source"
    assert out["facts"] == {}
    assert not (tmp_path / "pwned").exists()


def test_inspect_unknown_library_exits_2(catalogue) -> None:
    assert main(["inspect", "--lib", "attaklib", "--json"]) == 2


def test_inspect_pypi_library_uses_its_repository_at_the_ref(catalogue, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    server, commits = catalogue
    data = manifest_data("attacklib-pypi", "acme/attacklib", commits[2], url=str(server), ref="v1.0")
    source = data["source"]
    assert isinstance(source, dict)
    data["source"] = {**{k: v for k, v in source.items() if k != "commit"}, "kind": "pypi",
                      "package": "attacklib", "version": "1.0"}
    (tmp_path / "manifests" / "attacklib-pypi.yaml").write_text(yaml.safe_dump(data))
    assert main(["inspect", "--lib", "attacklib-pypi", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"]["commit"] == commits[1]  # the annotated tag v1.0, peeled
    assert out["facts"]["repository"]["on_pypi"] is True
    assert out["facts"]["repository"]["last_commit_date"] == DATES[1]
    # attacklib 1.0 is not a real release: its facts are missing, and the inspect says why
    assert "package" not in out["facts"]
    assert out["release_failure"]["class"] in {"source-unavailable", "network"}
