"""The survey's catalogue (``library_manifests/survey-libraries.csv``) and its link to the manifests.

The CSV is the data-driven list of the libraries the survey assessed (one row each: slug, attack
category, name, GitHub repository, PyPI package if any, origin, how sure we are the survey listed it).
``load_catalogue`` reads it into typed rows; ``catalogue_problems`` says, one line per problem, where
the manifests and the rows disagree, so a corrected row or a new manifest is checked by the tests.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast, get_args

from harness.errors import ManifestError
from harness.manifest import SLUG_RE, Manifest
from harness.taxonomy import Confidence, Family, Origin

CATALOGUE_FILE = "survey-libraries.csv"
COLUMNS = ("slug", "category", "name", "repository", "pypi", "origin", "confidence", "notes")

# What each family goes after: the training data (privacy attacks) or the model (integrity attacks,
# model stealing). A manifest's taxonomy.targets must name at least one of these per family.
FAMILY_TARGETS: dict[str, frozenset[str]] = {
    "membership-inference": frozenset({"data"}),
    "reconstruction": frozenset({"data"}),
    "property-inference": frozenset({"data"}),
    "model-extraction": frozenset({"model"}),
    "adversarial": frozenset({"model"}),
    "poisoning": frozenset({"model", "data"}),
}


@dataclass(frozen=True)
class CatalogueRow:
    """One library of the survey's table, as reconstructed."""

    slug: str
    category: Family  # the survey's attack family for it (a manifest's first family)
    name: str
    repository: str  # owner/name on GitHub
    pypi: str | None  # PyPI distribution name, None for git-only libraries
    origin: Origin  # "author" (the paper's own code) or "third-party"
    confidence: Confidence  # how sure we are the survey listed this library
    notes: str = ""


def default_catalogue_path() -> Path:
    from harness.config import load_settings

    return load_settings().manifests_dir / CATALOGUE_FILE


def _choice(value: str, allowed: tuple[str, ...], file: str, where: str) -> str:
    if value not in allowed:
        raise ManifestError(file, where, f"'{value}' is not one of {', '.join(allowed)}")
    return value


def _parse_row(raw: dict[str, str], file: str, line: int) -> CatalogueRow:
    def field(name: str) -> str:
        return (raw.get(name) or "").strip()

    def where(name: str) -> str:
        return f"line {line}.{name}"

    slug = field("slug")
    if not SLUG_RE.match(slug):
        raise ManifestError(file, where("slug"), "must be lowercase letters, digits and dashes")
    for required in ("name", "repository"):
        if not field(required):
            raise ManifestError(file, where(required), "must not be empty")
    return CatalogueRow(
        slug=slug,
        category=cast(Family, _choice(field("category"), get_args(Family), file, where("category"))),
        name=field("name"),
        repository=field("repository"),
        pypi=field("pypi") or None,
        origin=cast(Origin, _choice(field("origin"), get_args(Origin), file, where("origin"))),
        confidence=cast(
            Confidence, _choice(field("confidence"), get_args(Confidence), file, where("confidence"))
        ),
        notes=field("notes"),
    )


def load_catalogue(path: Path | None = None) -> list[CatalogueRow]:
    """The catalogue's rows in file order; a malformed file raises ``ManifestError``."""
    path = path or default_catalogue_path()
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(file, "(file)", exc.strerror or str(exc)) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ManifestError(file, "(header)", f"missing column(s): {', '.join(missing)}")
    rows: list[CatalogueRow] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        row = _parse_row(raw, file, line)
        if row.slug in seen:
            raise ManifestError(file, f"line {line}.slug", f"duplicate slug '{row.slug}'")
        seen.add(row.slug)
        rows.append(row)
    return rows


def row_problems(manifest: Manifest, row: CatalogueRow) -> list[str]:
    """Where one manifest disagrees with its catalogue row (empty when they agree)."""
    problems: list[str] = []

    def differ(field: str, manifest_value: object, row_value: object) -> None:
        if manifest_value != row_value:
            problems.append(
                f"{row.slug}: {field}: manifest has {manifest_value!r}, catalogue has {row_value!r}"
            )

    differ("name", manifest.name, row.name)
    differ("families[0]", manifest.families[0], row.category)
    differ("origin", manifest.origin, row.origin)
    differ("confidence", manifest.confidence, row.confidence)
    differ("source.repository", manifest.source.repository, row.repository)
    if row.pypi is None:
        differ("source.kind", manifest.source.kind, "git")
    else:
        differ("source.kind", manifest.source.kind, "pypi")
        differ("source.package", manifest.source.package, row.pypi)
    return problems


def taxonomy_problems(manifest: Manifest) -> list[str]:
    """Inconsistencies inside one manifest's classification (beyond what the schema already checks)."""
    problems: list[str] = []
    if len(set(manifest.families)) != len(manifest.families):
        problems.append(f"{manifest.slug}: families: listed twice")
    targets = set(manifest.taxonomy.targets)
    for fam in manifest.families:
        if not targets & FAMILY_TARGETS[fam]:
            problems.append(
                f"{manifest.slug}: taxonomy.targets: family '{fam}' attacks {sorted(FAMILY_TARGETS[fam])}, "
                f"but targets is {sorted(targets)}"
            )
    if any(e.tabular for e in manifest.experiments) and "tabular" not in manifest.taxonomy.data_types:
        problems.append(f"{manifest.slug}: taxonomy.data_types: an experiment runs on tabular data, "
                        "but 'tabular' is not listed")
    for field, values in (("security_properties", manifest.taxonomy.security_properties),
                          ("adversary_knowledge", manifest.taxonomy.adversary_knowledge),
                          ("data_types", manifest.taxonomy.data_types),
                          ("frameworks", manifest.taxonomy.frameworks)):
        if len(set(values)) != len(values):
            problems.append(f"{manifest.slug}: taxonomy.{field}: listed twice")
    return problems


def catalogue_problems(manifests: Iterable[Manifest], rows: Iterable[CatalogueRow]) -> list[str]:
    """Every disagreement of manifests and catalogue: missing on either side, or differing fields."""
    by_slug = {m.slug: m for m in manifests}
    row_list = list(rows)
    problems: list[str] = []
    for row in row_list:
        manifest = by_slug.get(row.slug)
        if manifest is None:
            problems.append(
                f"{row.slug}: no manifest library_manifests/{row.slug}.yaml for this catalogue row"
            )
        else:
            problems.extend(row_problems(manifest, row))
    listed = {r.slug for r in row_list}
    problems.extend(
        f"{slug}: manifest has no row in {CATALOGUE_FILE}" for slug in sorted(by_slug) if slug not in listed
    )
    return problems
