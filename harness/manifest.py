"""Library manifests: the strict schema, loading from YAML, and finding one by slug.

A manifest says where a library comes from (git at a pinned commit, or a PyPI release), how its
environment is built, which imports prove it installed, and which smoke experiment to run with its
reference metrics. Unknown fields are errors; every error reads ``file: field: message``.
"""

from __future__ import annotations

import difflib
import math
import re
from functools import cached_property
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ManifestError, UnknownLibrary
from harness.taxonomy import (
    FAMILY_PROPERTIES,
    Confidence,
    DataType,
    Family,
    Framework,
    Knowledge,
    Origin,
    SecurityProperty,
    Target,
)

SCHEMA_VERSION = 1
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paper(Strict):
    title: str
    venue: str | None = None
    year: int | None = None
    url: str | None = None


class Taxonomy(Strict):
    security_properties: list[SecurityProperty] = Field(min_length=1)
    adversary_knowledge: list[Knowledge] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)
    data_types: list[DataType] = Field(default_factory=list)
    frameworks: list[Framework] = Field(default_factory=list)
    defences: bool = False  # the library also ships defences


class Source(Strict):
    kind: Literal["git", "pypi"]
    repository: str  # owner/name on GitHub; also the key for git mirrors
    url: str | None = None  # override; default https://github.com/{repository}.git
    commit: str | None = None  # full 40-hex hash, required for git
    ref: str | None = None  # tag/branch the commit was taken from (informational)
    package: str | None = None  # PyPI distribution name, required for pypi
    version: str | None = None  # pinned release, required for pypi
    submodules: bool = False

    @field_validator("repository")
    @classmethod
    def _repo(cls, v: str) -> str:
        if not REPO_RE.match(v):
            raise ValueError("must be 'owner/name'")
        return v

    @field_validator("commit")
    @classmethod
    def _commit(cls, v: str | None) -> str | None:
        if v is not None and not COMMIT_RE.match(v):
            raise ValueError("must be a full 40-character lowercase hex commit hash")
        return v

    @model_validator(mode="after")
    def _by_kind(self) -> Source:
        if self.kind == "git" and not self.commit:
            raise ValueError("a git source needs 'commit' (a pinned 40-hex hash)")
        if self.kind == "pypi" and not (self.package and self.version):
            raise ValueError("a pypi source needs 'package' and 'version'")
        return self

    @property
    def git_url(self) -> str:
        return self.url or f"https://github.com/{self.repository}.git"


class Patch(Strict):
    """A manual fix the harness applies on top of the library's own files (counted against usability)."""

    requirement: str
    reason: str


class Environment(Strict):
    python: str = ">=3.9"  # PEP 440 specifier of the Python versions the library supports
    install: Literal["package", "requirements", "steps", "none"] = "package"
    requirements: list[str] = Field(default_factory=list)  # extra requirements the smoke script needs
    requirements_file: str | None = None  # for install: requirements (path inside the checkout)
    steps: list[list[str]] = Field(default_factory=list)  # for install: steps (argv lists, run in the checkout)
    patches: list[Patch] = Field(default_factory=list)
    find_links: list[str] = Field(default_factory=list)
    gpu_requirements: list[str] = Field(default_factory=list)  # replaces CPU-only pins on GPU runs
    python_path: list[str] = Field(default_factory=list)  # checkout-relative dirs added to PYTHONPATH

    @field_validator("python")
    @classmethod
    def _python(cls, v: str) -> str:
        try:
            SpecifierSet(v)
        except InvalidSpecifier:
            raise ValueError(f"{v!r} is not a PEP 440 version specifier set (e.g. '>=3.9,<3.12')") from None
        return v


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


def _non_negative(v: float) -> float:
    _finite(v)
    if v < 0:
        raise ValueError("must be >= 0")
    return v


class MetricSpec(Strict):
    reference: float | None = None  # the paper's / library's claim, or our first measured value
    tolerance: float = 0.05  # absolute distance to the reference that still "matches"
    stability: float = 0.0  # max spread across repeats that still counts as "stable"
    source: str | None = None  # where the reference comes from

    _reference = field_validator("reference")(_finite)
    _spreads = field_validator("tolerance", "stability")(_non_negative)


class DataFile(Strict):
    """A dataset an experiment needs, looked up in the user's data cache and verified by checksum."""

    name: str
    url: str  # where a user can get it (the harness never downloads inside tests)
    checksum: str  # "sha256:<64 hex>" or "md5:<32 hex>" (many published datasets only give md5)
    path: str  # relative to the data cache

    @field_validator("checksum")
    @classmethod
    def _checksum(cls, v: str) -> str:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}|md5:[0-9a-f]{32}", v):
            raise ValueError("must be 'sha256:<64 hex>' or 'md5:<32 hex>' (lowercase)")
        return v


class Experiment(Strict):
    name: str = "smoke"
    script: str | None = None  # path relative to library_manifests/ (shipped by this project)
    command: list[str] | None = None  # argv run in the checkout (a git library's own entry point)
    args: list[str] = Field(default_factory=list)
    timeout_s: float = 600.0
    data: list[DataFile] = Field(default_factory=list)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    tabular: bool = False  # runs on tabular IoT data (the N-BaIoT sample)
    gpu_capable: bool = False

    @field_validator("timeout_s")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if not math.isfinite(v) or v <= 0:
            raise ValueError("must be a finite number of seconds > 0")
        return v

    @field_validator("script")
    @classmethod
    def _script(cls, v: str | None) -> str | None:
        if v is not None:
            path = PurePosixPath(v)
            if not v or path.is_absolute() or PureWindowsPath(v).is_absolute() or ".." in path.parts \
                    or "\\" in v:
                raise ValueError("must be a relative path inside library_manifests/ (no '..')")
        return v

    @model_validator(mode="after")
    def _one_entry(self) -> Experiment:
        if (self.script is None) == (self.command is None):
            raise ValueError("give exactly one of 'script' or 'command'")
        return self


class Resources(Strict):
    """What one evaluation needs of a machine; the batch scheduler and the Ray executor read it."""

    cpus: float = Field(default=1.0, gt=0)
    memory_mb: int = Field(default=2048, gt=0)
    gpu_memory_mb: int | None = Field(default=None, gt=0)  # declare it to let evaluations share a GPU


class Manifest(Strict):
    schema_version: int = SCHEMA_VERSION
    slug: str
    name: str
    families: list[Family] = Field(min_length=1)
    origin: Origin
    confidence: Confidence = "medium"
    paper: Paper | None = None
    taxonomy: Taxonomy
    source: Source
    environment: Environment = Field(default_factory=Environment)
    imports: list[str] = Field(default_factory=list)
    experiments: list[Experiment] = Field(default_factory=list)
    resources: Resources = Field(default_factory=Resources)
    notes: str = ""

    @field_validator("schema_version", mode="before")
    @classmethod
    def _schema_version(cls, v: object) -> object:
        if type(v) is not int or v != SCHEMA_VERSION:
            raise ValueError(f"must be {SCHEMA_VERSION} (the manifest schema this harness reads), not {v!r}")
        return v

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError("must be lowercase letters, digits and dashes")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        props = set(self.taxonomy.security_properties)
        for fam in self.families:
            if not props & FAMILY_PROPERTIES[fam]:
                raise ValueError(
                    f"family '{fam}' puts {sorted(FAMILY_PROPERTIES[fam])} at risk, "
                    f"but taxonomy.security_properties is {sorted(props)}"
                )
        names = [e.name for e in self.experiments]
        if len(set(names)) != len(names):
            raise ValueError("experiment names must be unique")
        return self

    @cached_property
    def patches(self) -> list[Patch]:
        return list(self.environment.patches)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_manifest(data: object, file: str) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError(file, "(top level)", "must be a mapping")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        found: list[tuple[str, str]] = []
        for err in exc.errors():
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            if (item := (_field_path(err["loc"]), msg)) not in found:
                found.append(item)
        raise ManifestError(file, *found[0], more=tuple(found[1:])) from None
    stem = Path(file).stem
    if stem != manifest.slug:
        raise ManifestError(file, "slug", f"'{manifest.slug}' does not match the file name '{stem}'")
    return manifest


def load_manifest(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(str(path), "(file)", exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ManifestError(str(path), "(file)", "not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        raise ManifestError(str(path), where, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_manifest(data, str(path))


def manifest_paths(manifests_dir: Path) -> list[Path]:
    return sorted(manifests_dir.glob("*.yaml"))


def load_all(manifests_dir: Path) -> list[Manifest]:
    return [load_manifest(p) for p in manifest_paths(manifests_dir)]


def find_manifest(slug: str, manifests_dir: Path) -> Manifest:
    path = manifests_dir / f"{slug}.yaml"
    if path.is_file():
        return load_manifest(path)
    known = [p.stem for p in manifest_paths(manifests_dir)]
    by_name = _named(slug, manifests_dir)
    close = by_name + [k for k in difflib.get_close_matches(slug, known, n=3, cutoff=0.4) if k not in by_name]
    close = close[:3]
    if not close:
        close = [k for k in known if slug in k or k in slug][:3]
    if not close:  # still name the nearest ones, so the line always helps
        close = sorted(known, key=lambda k: -difflib.SequenceMatcher(None, slug, k).ratio())[:3]
    raise UnknownLibrary(slug, close)


def _named(query: str, manifests_dir: Path) -> list[str]:
    """Slugs whose display name has ``query`` as an acronym or a word, e.g. 'art' for '... (ART)'."""
    q = query.lower()
    found: list[str] = []
    for path in manifest_paths(manifests_dir):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        name = str(data.get("name", "")) if isinstance(data, dict) else ""
        acronyms = {a.lower() for a in re.findall(r"\(([A-Za-z0-9-]+)\)", name)}
        words = {w.lower() for w in re.findall(r"[A-Za-z0-9]+", name)}
        if q in acronyms or q in words:
            found.append(path.stem)
    return found[:3]
