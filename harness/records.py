"""Typed records that flow between pipeline stages, and the stored result record (a contract).

Field names follow ../DESIGN's "result record" contract; ``SCHEMA_VERSION`` moves with a migration
in ``harness.store`` whenever a stored field changes meaning.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

StageName = Literal["fetch", "build", "import", "smoke", "reproduce"]
STAGE_NAMES: tuple[StageName, ...] = ("fetch", "build", "import", "smoke", "reproduce")
Status = Literal["passed", "failed", "skipped", "error"]
Verdict = Literal["reproduced", "stable", "unstable", "mismatch", "not-run"]
BackendKind = Literal["venv", "docker"]
Device = Literal["cpu", "gpu"]


class Record(BaseModel):
    """Base for stored records: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuInfo(Record):
    index: int
    name: str
    memory_bytes: int
    driver: str | None = None


class Host(Record):
    platform: str
    python: str
    cpu_count: int
    memory_bytes: int
    gpus: list[GpuInfo] = Field(default_factory=list)
    gpu_note: str = ""  # e.g. "no GPU: NVML not available" when gpus is empty


class SourceInfo(Record):
    kind: Literal["git", "pypi"]
    url: str
    commit: str | None = None
    version: str | None = None
    ref: str | None = None  # the branch/tag the manifest named, when it named one
    commit_date: str | None = None


class Failure(Record):
    failure_class: str = Field(alias="class")
    message: str
    hint: str = ""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class StageResult(Record):
    name: StageName
    status: Status
    duration_s: float = 0.0
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    failure: Failure | None = None
    log_tail: str = ""
    cached: bool = False  # build reused / source already in cache
    details: dict[str, Any] = Field(default_factory=dict)


class Repeat(Record):
    metrics: dict[str, float] = Field(default_factory=dict)
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    exit_code: int | None = None
    seed: int | None = None


class ExperimentResult(Record):
    name: str
    repeats: list[Repeat] = Field(default_factory=list)


class Reproducibility(Record):
    verdict: Verdict
    details: dict[str, Any] = Field(default_factory=dict)


class Measurement(Record):
    """How resources were measured, so numbers from different hosts compare."""

    rss: str = ""
    cpu: str = ""
    gpu: str = ""
    sample_interval_s: float | None = None


class ResultRecord(Record):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    job_id: str = ""
    library: str
    started_at: str
    finished_at: str
    host: Host
    backend: BackendKind
    device: Device
    profile: str = "default"
    source: SourceInfo
    stages: list[StageResult]
    experiments: list[ExperimentResult] = Field(default_factory=list)
    reproducibility: Reproducibility
    facts: dict[str, Any] = Field(default_factory=dict)
    scores: dict[str, Any] = Field(default_factory=dict)
    patches: list[dict[str, str]] = Field(default_factory=list)  # manual fixes the manifest applies
    measurement: Measurement = Field(default_factory=Measurement)
    harness_version: str = ""

    def stage(self, name: StageName) -> StageResult | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def first_unpassed(self) -> StageResult | None:
        """The first stage that did not pass (the ones after it are skipped), or None."""
        return next((s for s in self.stages if s.status != "passed"), None)

    @property
    def overall_status(self) -> Status:
        """``passed``, or the status of the first stage that did not pass."""
        first = self.first_unpassed
        return first.status if first is not None else "passed"

    @property
    def stage_reached(self) -> str:
        """The last stage that passed ("none" when even fetch did not)."""
        reached = "none"
        for s in self.stages:
            if s.status != "passed":
                break
            reached = s.name
        return reached
