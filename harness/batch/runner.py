"""The batch driver: plan jobs, journal them, hand them to an executor, store every outcome.

The driver is the only writer: whatever the executor (local processes or Ray tasks), each outcome
comes back here, becomes a result record (a job that died without one gets a record saying so,
status ``error``), is stored atomically by ``harness.store.write_record`` and only then journaled.
``--resume`` replays a run's journal, finds which planned jobs already have a valid stored record
of that run, and runs only the rest under the same run id.
"""

from __future__ import annotations

import calendar
import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from harness.batch.executor import Executor, Outcome
from harness.batch.jobs import Job, plan_jobs
from harness.batch.journal import Journal, journal_path, latest_journal, new_run_id, read_journal, utc_now
from harness.batch.progress import Display
from harness.batch.worker import Payload
from harness.config import Settings
from harness.errors import UsageError
from harness.manifest import Manifest, find_manifest
from harness.pipeline import EvaluateOptions
from harness.records import (
    STAGE_NAMES,
    Failure,
    Reproducibility,
    ResultRecord,
    SourceInfo,
    StageResult,
)
from harness.store import load_record, write_record


@dataclass(frozen=True)
class BatchOptions:
    backend: str = "venv"
    devices: tuple[str, ...] = ("cpu",)  # resolved: each "cpu" or "gpu"
    profile: str = "default"
    repeats: int = 3
    timeout_s: float | None = None
    seed: int = 0
    python: str | None = None  # docker: the base image's Python X.Y (part of each job's id)

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "devices": list(self.devices), "profile": self.profile,
                "repeats": self.repeats, "timeout_s": self.timeout_s, "seed": self.seed, "python": self.python}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchOptions:
        return cls(backend=str(data.get("backend", "venv")), devices=tuple(data.get("devices") or ("cpu",)),
                   profile=str(data.get("profile", "default")), repeats=int(data.get("repeats", 3)),
                   timeout_s=data.get("timeout_s"), seed=int(data.get("seed", 0)),
                   python=data.get("python"))


@dataclass
class BatchResult:
    run_id: str
    planned: int
    skipped: int  # already complete (resume)
    stored: dict[str, Path] = field(default_factory=dict)  # job id -> record path written now
    records: list[ResultRecord] = field(default_factory=list)  # this run's records (old and new)
    interrupted: bool = False


def stored_job_ids(results_dir: Path, run_id: str) -> dict[str, ResultRecord]:
    """Job id -> the valid stored record of this run that carries it.

    Only records written since the run's journal was created are read (years of nightly history
    need not be parsed to resume one night).
    """
    journal = journal_path(results_dir, run_id)
    since = _created(journal)
    found: dict[str, ResultRecord] = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            if path.name.startswith(".") or path.stat().st_mtime < since:
                continue
            record = load_record(path)
        except (OSError, ValueError):  # unreadable or not a record (pydantic errors are ValueErrors)
            continue
        if record.run_id == run_id and record.job_id:
            found.setdefault(record.job_id, record)
    return found


def _created(journal: Path) -> float:
    """When the run began: its first journal line's time, else 0 (read every record)."""
    try:
        with journal.open(encoding="utf-8") as fh:
            first = json.loads(fh.readline())
        stamp = time.strptime(str(first["at"]), "%Y-%m-%dT%H:%M:%SZ")
        return calendar.timegm(stamp) - 2.0  # the journal's clock resolution is one second
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def failed_record(
    job: Job, manifest: Manifest, run_id: str, started_at: str, outcome: Outcome
) -> ResultRecord:
    """The record of a job that ended without one: stages it passed, then ``error``, then skipped."""
    from harness.hostinfo import host_info

    src = manifest.source
    url = src.git_url if src.kind == "git" else f"https://pypi.org/project/{src.package}/"
    stages: list[StageResult] = []
    broke = False
    for name in STAGE_NAMES:
        if broke:
            stages.append(StageResult(name=name, status="skipped"))
        elif outcome.stages.get(name) == "passed":
            stages.append(StageResult(name=name, status="passed"))
        else:
            broke = True
            stages.append(StageResult(
                name=name, status="error", log_tail=outcome.log_tail,
                failure=Failure.model_validate({
                    "class": outcome.failure_class, "message": outcome.message,
                    "hint": "see this job's batch log; re-run it alone with harness evaluate"}),
            ))
    return ResultRecord(
        run_id=run_id, job_id=job.job_id, library=job.library, started_at=started_at,
        finished_at=utc_now(), host=host_info(), backend=job.backend,  # type: ignore[arg-type]
        device=job.device, profile=job.profile,  # type: ignore[arg-type]
        source=SourceInfo(kind=src.kind, url=url, commit=src.commit, version=src.version, ref=src.ref),
        stages=stages,
        reproducibility=Reproducibility(verdict="not-run", details={"reason": outcome.message}),
    )


class _Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the batch the way Ctrl-C does (children stopped, journal closed)."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise _Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Driver:
    """The sink every executor reports to; stores and journals each outcome."""

    def __init__(self, run_id: str, journal: Journal, manifests: dict[str, Manifest], settings: Settings,
                 display: Display, result: BatchResult) -> None:
        self.run_id, self.journal, self.manifests = run_id, journal, manifests
        self.settings, self.display, self.result = settings, display, result
        self.started_at: dict[str, str] = {}

    def started(self, job: Job) -> None:
        self.started_at[job.job_id] = utc_now()
        self.journal.append("started", job_id=job.job_id)
        self.display.job_started(job)

    def progress(self, job: Job, stage: str, status: str, message: str) -> None:
        self.display.job_progress(job, stage, status, message)

    def finished(self, job: Job, outcome: Outcome) -> None:
        if outcome.record is not None:
            record = ResultRecord.model_validate(outcome.record)
        else:
            record = failed_record(job, self.manifests[job.library], self.run_id,
                                   self.started_at.get(job.job_id, utc_now()), outcome)
        if record.run_id != self.run_id or record.job_id != job.job_id:
            record = record.model_copy(update={"run_id": self.run_id, "job_id": job.job_id})
        path = write_record(record, self.settings.results_dir, self.settings)
        self.journal.append("finished", job_id=job.job_id, record=path.name, status=summary_status(record))
        self.result.stored[job.job_id] = path
        self.result.records.append(record)
        self.display.job_finished(job, record)


def summary_status(record: ResultRecord) -> str:
    """``passed`` when every stage passed, else ``<status> at <stage>`` for the first that did not."""
    first = record.first_unpassed
    return "passed" if first is None else f"{first.status} at {first.name}"


def _options_for(job: Job, options: BatchOptions, run_id: str) -> EvaluateOptions:
    return EvaluateOptions(backend=job.backend, device=job.device, repeats=options.repeats,
                           timeout_s=options.timeout_s, profile=job.profile, seed=options.seed, run_id=run_id,
                           python=job.python)


def _resume_plan(
    results_dir: Path, run_id: str | None, settings: Settings
) -> tuple[str, BatchOptions, list[Manifest]]:
    path = journal_path(results_dir, run_id) if run_id else latest_journal(results_dir)
    if path is None or not path.is_file():
        where = path if path is not None else results_dir / "runs"
        raise UsageError(f"{where}: --resume: no run journal to resume")
    state = read_journal(path)
    options = BatchOptions.from_json(state.options)
    libraries = list(dict.fromkeys(str(ev.get("library")) for ev in state.planned.values()))
    return state.run_id, options, [find_manifest(slug, settings.manifests_dir) for slug in libraries]


def run_batch(
    manifests: list[Manifest] | None,
    options: BatchOptions,
    settings: Settings,
    executor: Executor,
    display: Display,
    *,
    resume: bool = False,
    run_id: str | None = None,
) -> BatchResult:
    """Run (or resume) one batch; returns what it stored. ``manifests`` None on resume: the journal's plan."""
    results_dir = settings.results_dir
    if resume:  # a resumed run keeps its own options; a selection given now may add libraries to it
        run_id, options, planned = _resume_plan(results_dir, run_id, settings)
        manifests = planned if manifests is None else manifests
    elif manifests is None:
        raise UsageError("harness run: nothing selected")
    run_id = run_id or new_run_id()
    jobs = plan_jobs(manifests, settings, backend=options.backend, devices=list(options.devices),
                     profile=options.profile, python=options.python)
    by_slug = {m.slug: m for m in manifests}
    if resume:
        journal = Journal(journal_path(results_dir, run_id), run_id)
        journal.append("resumed")
    else:
        journal = Journal.create(results_dir, run_id, options.to_json())
    done = stored_job_ids(results_dir, run_id) if resume else {}
    result = BatchResult(run_id=run_id, planned=len(jobs), skipped=sum(j.job_id in done for j in jobs))
    result.records.extend(done[j.job_id] for j in jobs if j.job_id in done)
    todo = [j for j in jobs if j.job_id not in done]
    driver = _Driver(run_id, journal, by_slug, settings, display, result)

    def payload_for(job: Job) -> Payload:
        return Payload(job_id=job.job_id, manifest=by_slug[job.library],
                       options=_options_for(job, options, run_id), settings=settings)

    with journal:
        for job in jobs:
            journal.append("planned", **job.to_json())
        display.start(run_id, jobs, done=result.skipped)
        t0 = time.monotonic()
        try:
            with _sigterm_interrupts():
                executor.run(todo, payload_for, driver)
        except KeyboardInterrupt as exc:
            result.interrupted = True
            journal.append("interrupted", signal=getattr(exc, "signum", signal.SIGINT.value))
            raise
        finally:
            display.stop()
        journal.append("completed", counts={"planned": len(jobs), "skipped": result.skipped,
                                            "stored": len(result.stored)},
                       wall_s=round(time.monotonic() - t0, 3))
    return result
