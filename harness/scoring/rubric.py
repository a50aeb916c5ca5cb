"""The rubric: its strict schema, loading it from YAML, its content hash, and the credit of a value.

The rubric is the one file that says which checks exist, what each weighs, why it matters and how
to improve it (``harness/scoring/rubric.yaml``). A measured check carries a ``scale`` that turns its
value into a credit between 0 and 1. Errors read ``file: field: message``.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import UsageError

Dimension = Literal["accessibility", "usability", "applicability"]
DIMENSIONS: tuple[Dimension, ...] = ("accessibility", "usability", "applicability")
DEFAULT_RUBRIC = Path(__file__).with_name("rubric.yaml")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the rubric ~10x faster


class RubricError(UsageError):
    """An invalid rubric file, or one that does not match the registered probes."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    limit: float
    credit: float = Field(ge=0, le=1)


class Scale(_Strict):
    better: Literal["lower", "higher"]
    bands: list[Band] = Field(min_length=1)

    def credit(self, value: float) -> float:
        """Credit of the first band whose limit the value meets; 0 when it meets none."""
        for band in self.bands:
            if (value <= band.limit) if self.better == "lower" else (value >= band.limit):
                return band.credit
        return 0.0


class DimensionInfo(_Strict):
    title: str
    summary: str


class Check(_Strict):
    dimension: Dimension
    weight: float = Field(gt=0)
    title: str
    motivation: str
    remedy: str
    evidence: str = ""  # which facts the probe reads (shown in docs/scoring.md)
    unit: str = ""
    scale: Scale | None = None


class Rubric(_Strict):
    version: str
    dimensions: dict[Dimension, DimensionInfo]
    checks: dict[str, Check] = Field(min_length=1)

    @model_validator(mode="after")
    def _all_dimensions(self) -> Rubric:
        missing = [d for d in DIMENSIONS if d not in self.dimensions]
        if missing:
            raise ValueError(f"missing dimensions: {', '.join(missing)}")
        return self

    @property
    def sha256(self) -> str:
        """Hash of the rubric's content (not its formatting); scores carry it to name their rubric."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def stamp(self) -> dict[str, str]:
        return {"version": self.version, "sha256": self.sha256}

    def checks_of(self, dimension: Dimension) -> list[tuple[str, Check]]:
        return [(name, c) for name, c in self.checks.items() if c.dimension == dimension]


def parse_rubric(data: object, file: str) -> Rubric:
    if not isinstance(data, dict):
        raise RubricError(f"{file}: (top level): must be a mapping")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = (
            "unknown field" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        )
        raise RubricError(f"{file}: {where}: {msg}") from None


def load_rubric(path: Path | None = None) -> Rubric:
    """Load and validate a rubric file (the shipped one by default)."""
    resolved = Path(path or DEFAULT_RUBRIC).resolve()
    try:
        st = resolved.stat()
    except OSError as exc:
        raise RubricError(f"{resolved}: (file): {exc.strerror or exc}") from None
    return _load(resolved, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> Rubric:
    # Cached per (path, mtime, size): an edited file is read again.
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(f"{path}: (file): {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_LOADER)  # a safe loader (libyaml's when built)
    except yaml.YAMLError as exc:
        raise RubricError(f"{path}: (yaml): invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_rubric(data, str(path))
