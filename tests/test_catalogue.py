"""The catalogue: every manifest is a test item of its own, and the CSV and the manifests agree.

The whole-set agreement (``test_catalogue_row_has_agreeing_manifest``) is parametrised over the CSV
rows, so a missing or disagreeing manifest fails as its own item naming the slug.
"""

from __future__ import annotations

import py_compile
from pathlib import Path

import pytest

from harness.catalogue import (
    CatalogueRow,
    catalogue_problems,
    load_catalogue,
    row_problems,
    taxonomy_problems,
)
from harness.errors import ManifestError
from harness.manifest import Manifest, load_manifest, manifest_paths, parse_manifest

MANIFESTS_DIR = Path(__file__).resolve().parent.parent / "library_manifests"
CATALOGUE_CSV = MANIFESTS_DIR / "survey-libraries.csv"
MANIFEST_FILES = manifest_paths(MANIFESTS_DIR)
ROWS = load_catalogue(CATALOGUE_CSV)


@pytest.fixture(scope="module")
def manifests_by_slug() -> dict[str, Manifest]:
    return {p.stem: load_manifest(p) for p in MANIFEST_FILES}


# --- one item per manifest file -------------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=[p.stem for p in MANIFEST_FILES])
def test_manifest_validates(path: Path) -> None:
    manifest = load_manifest(path)
    assert manifest.slug == path.stem


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=[p.stem for p in MANIFEST_FILES])
def test_manifest_smoke_script_compiles(path: Path, tmp_path: Path) -> None:
    manifest = load_manifest(path)
    for exp in manifest.experiments:
        if exp.script is None:
            continue
        script = MANIFESTS_DIR / exp.script
        assert script.is_file(), f"{path.name}: experiments.{exp.name}.script: {exp.script} does not exist"
        py_compile.compile(str(script), cfile=str(tmp_path / "out.pyc"), doraise=True)


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=[p.stem for p in MANIFEST_FILES])
def test_manifest_taxonomy_consistent(path: Path) -> None:
    assert taxonomy_problems(load_manifest(path)) == []


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=[p.stem for p in MANIFEST_FILES])
def test_manifest_is_in_the_catalogue(path: Path) -> None:
    assert path.stem in {r.slug for r in ROWS}, f"{path.name} has no row in {CATALOGUE_CSV.name}"


# --- one item per catalogue row -------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=[r.slug for r in ROWS])
def test_catalogue_row_has_agreeing_manifest(
    row: CatalogueRow, manifests_by_slug: dict[str, Manifest]
) -> None:
    manifest = manifests_by_slug.get(row.slug)
    assert manifest is not None, f"missing manifest: library_manifests/{row.slug}.yaml"
    assert row_problems(manifest, row) == []


def test_whole_catalogue_agrees(manifests_by_slug: dict[str, Manifest]) -> None:
    assert catalogue_problems(manifests_by_slug.values(), ROWS) == []


# --- the catalogue file itself --------------------------------------------------------------------


def test_catalogue_has_the_surveys_65_libraries() -> None:
    assert len(ROWS) == 65
    assert len({r.slug for r in ROWS}) == 65
    pypi = sorted(r.slug for r in ROWS if r.pypi)
    assert len(pypi) == 14
    assert "adversarial-robustness-toolbox" in pypi
    art = next(r for r in ROWS if r.slug == "adversarial-robustness-toolbox")
    assert (art.category, art.pypi, art.origin) == (
        "adversarial", "adversarial-robustness-toolbox", "third-party"
    )


def test_catalogue_categories_cover_the_six_families() -> None:
    assert {r.category for r in ROWS} == {
        "membership-inference", "adversarial", "reconstruction",
        "property-inference", "model-extraction", "poisoning",
    }


def _write_csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "survey-libraries.csv"
    path.write_text("slug,category,name,repository,pypi,origin,confidence,notes\n" + body)
    return path


def test_load_catalogue_reads_typed_rows(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path,
        "x-lib,poisoning,X lib,o/x,x-lib,author,low,a note\ny-lib,adversarial,Y,o/y,,third-party,high,\n",
    )
    rows = load_catalogue(path)
    assert rows == [
        CatalogueRow("x-lib", "poisoning", "X lib", "o/x", "x-lib", "author", "low", "a note"),
        CatalogueRow("y-lib", "adversarial", "Y", "o/y", None, "third-party", "high", ""),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x-lib,evasion,X,o/x,,author,low,\n", "line 2.category: 'evasion' is not one of"),
        ("x-lib,poisoning,X,o/x,,someone,low,\n", "line 2.origin: 'someone' is not one of"),
        ("x-lib,poisoning,X,o/x,,author,sure,\n", "line 2.confidence: 'sure' is not one of"),
        ("X_lib,poisoning,X,o/x,,author,low,\n", "line 2.slug: must be lowercase"),
        ("x-lib,poisoning,X,,,author,low,\n", "line 2.repository: must not be empty"),
        ("x-lib,poisoning,X,o/x,,author,low,\nx-lib,poisoning,X,o/x,,author,low,\n",
         "line 3.slug: duplicate slug"),
    ],
)
def test_load_catalogue_rejects_bad_rows(tmp_path: Path, body: str, message: str) -> None:
    path = _write_csv(tmp_path, body)
    with pytest.raises(ManifestError) as info:
        load_catalogue(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_load_catalogue_rejects_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "survey-libraries.csv"
    path.write_text("slug,category,name\nx,poisoning,X\n")
    with pytest.raises(ManifestError, match=r": \(header\): missing column\(s\): repository, pypi, origin"):
        load_catalogue(path)


# --- the agreement check on hand-made manifests ---------------------------------------------------


def _manifest(slug: str, **over: object) -> Manifest:
    data: dict[str, object] = {
        "slug": slug, "name": "X lib", "families": ["poisoning", "adversarial"], "origin": "author",
        "confidence": "low",
        "taxonomy": {"security_properties": ["integrity"], "adversary_knowledge": ["white-box"],
                     "targets": ["model"]},
        "source": {"kind": "pypi", "repository": "o/x", "package": "x-lib", "version": "1.0"},
    }
    data.update(over)
    return parse_manifest(data, f"{slug}.yaml")


ROW = CatalogueRow("x-lib", "poisoning", "X lib", "o/x", "x-lib", "author", "low")


def test_agreeing_manifest_has_no_problems() -> None:
    assert catalogue_problems([_manifest("x-lib")], [ROW]) == []


def test_each_disagreement_is_reported() -> None:
    bad = _manifest(
        "x-lib", name="Other", families=["adversarial", "poisoning"], origin="third-party", confidence="high",
        source={"kind": "pypi", "repository": "o/other", "package": "other", "version": "1.0"},
    )
    assert catalogue_problems([bad], [ROW]) == [
        "x-lib: name: manifest has 'Other', catalogue has 'X lib'",
        "x-lib: families[0]: manifest has 'adversarial', catalogue has 'poisoning'",
        "x-lib: origin: manifest has 'third-party', catalogue has 'author'",
        "x-lib: confidence: manifest has 'high', catalogue has 'low'",
        "x-lib: source.repository: manifest has 'o/other', catalogue has 'o/x'",
        "x-lib: source.package: manifest has 'other', catalogue has 'x-lib'",
    ]


def test_git_row_needs_git_source() -> None:
    row = CatalogueRow("x-lib", "poisoning", "X lib", "o/x", None, "author", "low")
    assert catalogue_problems([_manifest("x-lib")], [row]) == [
        "x-lib: source.kind: manifest has 'pypi', catalogue has 'git'",
    ]


def test_missing_on_either_side_is_named() -> None:
    other = CatalogueRow("y-lib", "adversarial", "Y", "o/y", None, "author", "low")
    assert catalogue_problems([_manifest("x-lib")], [other]) == [
        "y-lib: no manifest library_manifests/y-lib.yaml for this catalogue row",
        "x-lib: manifest has no row in survey-libraries.csv",
    ]


def test_taxonomy_problems_found() -> None:
    bad = _manifest(
        "x-lib", families=["membership-inference"],
        taxonomy={"security_properties": ["confidentiality"],
                  "adversary_knowledge": ["black-box", "black-box"],
                  "targets": ["model"], "data_types": ["image"]},
        experiments=[{"name": "smoke", "script": "smoke/x.py", "tabular": True}],
    )
    assert taxonomy_problems(bad) == [
        "x-lib: taxonomy.targets: family 'membership-inference' attacks ['data'], but targets is ['model']",
        "x-lib: taxonomy.data_types: an experiment runs on tabular data, but 'tabular' is not listed",
        "x-lib: taxonomy.adversary_knowledge: listed twice",
    ]
    assert taxonomy_problems(_manifest("x-lib")) == []
