"""The orchestrator: manifest -> source -> environment -> experiments -> evaluation -> record.

``evaluate`` runs the five stages (fetch, build, import, smoke, reproduce) for one (library,
backend, device, profile). It is the ONE place that maps errors to stage statuses: a
``StageFailure`` makes its stage ``failed`` (class, message, hint, log tail) and every later stage
``skipped``; any other exception is the harness's own ``error``. It always tears down (work dir,
backend resources) and never raises for a library's failure, only for bad usage (unknown backend,
profile or device) before anything runs.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from harness import __version__, gpu
from harness.config import Settings
from harness.envs.base import Backend, BuiltEnv, EnvSpec, Limits, ProcessResult
from harness.envs.profiles import get_profile
from harness.errors import ExperimentError, ImportCheckError, StageFailure, UsageError
from harness.experiments import RunContext, run_experiment, run_import_check
from harness.hostinfo import host_info
from harness.manifest import Manifest
from harness.records import (
    STAGE_NAMES,
    ExperimentResult,
    Failure,
    Measurement,
    ResultRecord,
    SourceInfo,
    StageName,
    StageResult,
)
from harness.reproducibility import failure_of, judge
from harness.scoring.probes import manifest_facts
from harness.sources.base import FetchedSource

LOG_TAIL_LINES = 40
LOG_TAIL_MAX_CHARS = 16_000  # a stored log tail (one huge line must not bloat the record)
MESSAGE_MAX_CHARS = 500  # a failure's message (the log tail has the rest)
T = TypeVar("T")


@dataclass(frozen=True)
class EvaluateOptions:
    backend: str = "venv"  # "venv" | "docker"
    device: str = "cpu"  # "cpu" | "gpu" | "auto" (resolved before the record is made)
    repeats: int = 3
    timeout_s: float | None = None  # overrides the experiment's timeout_s
    profile: str = "default"
    seed: int = 0
    run_id: str | None = None  # batch runs share one run id
    python: str | None = None  # docker: build on the base offering this X.Y (None: the best fit)


# progress callback: (stage name, status or "running", message)
ProgressFn = Callable[[str, str, str], None]


# -- planning (pure) -------------------------------------------------------------------------------
def resolve_device(requested: str, limits: Limits) -> str:
    if requested not in ("cpu", "gpu", "auto"):
        raise UsageError(f"unknown device '{requested}'; use cpu, gpu or auto")
    if requested == "auto":
        return "gpu" if limits.gpu and gpu.has_gpu() else "cpu"
    if requested == "gpu" and not limits.gpu:
        raise UsageError("this profile has no GPU; use --device cpu or another profile")
    return requested


def constraint_lines(settings: Settings, requirements: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """The user's constraint lines, with the matched pin sets of any constraint group whose key package
    the requirements name (a group's pins replace the base pins of the same packages)."""
    lines: list[str] = []
    for path in settings.constraints:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"constraints file '{path}' cannot be read: {exc.strerror or exc}") from None
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    named = {_project(r) for r in requirements}
    for key, pins in sorted(settings.constraint_groups.items()):
        if _project(key) in named:
            replaced = {_project(p) for p in pins}
            lines = [ln for ln in lines if _project(ln) not in replaced] + list(pins)
    return tuple(lines)


def _project(requirement: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return str(canonicalize_name(Requirement(requirement).name))
    except InvalidRequirement:
        return requirement


def env_spec(manifest: Manifest, settings: Settings, device: str, installer: str) -> EnvSpec:
    """What decides the environment's contents; computable from the manifest alone (no fetch)."""
    env, src = manifest.environment, manifest.source
    requirements: list[str] = []
    if src.kind == "pypi" and env.install == "package":
        requirements.append(f"{src.package}=={src.version}")
    extra = list(env.requirements)
    if device == "gpu" and env.gpu_requirements:
        replaced = {_project(r) for r in env.gpu_requirements}
        extra = [r for r in extra if _project(r) not in replaced] + list(env.gpu_requirements)
    requirements += extra
    requirements += [p.requirement for p in env.patches]
    return EnvSpec(
        library=manifest.slug,
        python=env.python,
        install=env.install,
        requirements=tuple(requirements),
        source_commit=src.commit if src.kind == "git" else None,
        requirements_file=env.requirements_file,
        steps=tuple(tuple(s) for s in env.steps),
        constraints=constraint_lines(settings, requirements),
        find_links=tuple(env.find_links),
        device=device,
        installer=installer,
    )


def job_id_for(
    manifest: Manifest, settings: Settings, backend: str, device: str, profile: str, python: str | None = None
) -> str:
    """The deterministic id of this evaluation (the batch runner's formula, so --resume matches)."""
    from harness.batch.jobs import environment_hash, job_id, source_pin

    return job_id(
        manifest.slug, source_pin(manifest), environment_hash(manifest, settings), backend, device, profile, python
    )


def get_backend(kind: str, python: str | None = None) -> Backend:
    if python is not None and kind != "docker":
        raise UsageError("--python X.Y needs --backend docker (the venv backend uses a host Python)")
    if kind == "venv":
        from harness.envs.venv import VenvBackend

        return VenvBackend()
    if kind == "docker":
        try:
            from harness.envs.docker import DockerBackend
        except ImportError as exc:
            raise UsageError(f"backend 'docker' is not available: {exc}") from None
        backend: Backend = DockerBackend(python=python)
    else:
        raise UsageError(f"unknown backend '{kind}'; use venv or docker")
    reason = backend.unavailable_reason()
    if reason:
        raise UsageError(f"backend '{kind}' is not available here: {reason}")
    return backend


# -- doing -----------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def failure(failure_class: str, message: str, hint: str = "") -> Failure:
    """A stage's failure; the message is capped at :data:`MESSAGE_MAX_CHARS` (its start is kept)."""
    if len(message) > MESSAGE_MAX_CHARS:
        message = message[: MESSAGE_MAX_CHARS - 1] + "\u2026"
    return Failure.model_validate({"class": failure_class, "message": message, "hint": hint})


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log, and at most :data:`LOG_TAIL_MAX_CHARS` of them (the end)."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    if len(kept) > LOG_TAIL_MAX_CHARS:
        kept = "\u2026" + kept[-(LOG_TAIL_MAX_CHARS - 1):]
    return kept


@dataclass
class _Outcome:
    """What a stage function reports besides its value."""

    peak_rss_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    cached: bool = False
    log: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class _Stages:
    """Runs stage functions in order, recording each and skipping the rest after a failure."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.results: list[StageResult] = []
        self.broken = False
        self._progress = progress or (lambda *_: None)

    def run(self, name: StageName, fn: Callable[[_Outcome], T]) -> T | None:
        if self.broken:
            self.skip(name)
            return None
        self._progress(name, "running", "")
        outcome = _Outcome()
        started = time.perf_counter()
        try:
            value = fn(outcome)
        except StageFailure as exc:
            self._fail(
                name,
                "failed",
                started,
                outcome,
                failure(exc.failure_class, exc.message, exc.hint),
                exc.log_tail or outcome.log,
            )
            return None
        except Exception as exc:  # a bug in the harness: recorded, never lost
            self._fail(
                name,
                "error",
                started,
                outcome,
                failure(
                    "harness-error",
                    f"{type(exc).__name__}: {exc}",
                    "this is a bug in the harness; please report it with the log tail",
                ),
                traceback.format_exc(),
            )
            return None
        self.results.append(
            StageResult(
                name=name,
                status="passed",
                duration_s=round(time.perf_counter() - started, 4),
                peak_rss_bytes=outcome.peak_rss_bytes,
                peak_gpu_bytes=outcome.peak_gpu_bytes,
                cached=outcome.cached,
                details=outcome.details,
                log_tail=tail(outcome.log, 10),
            )
        )
        self._progress(name, "passed", "cached" if outcome.cached else "")
        return value

    def _fail(
        self, name: StageName, status: str, started: float, outcome: _Outcome, failure: Failure, log: str
    ) -> None:
        self.broken = True
        self.results.append(
            StageResult(
                name=name,
                status="failed" if status == "failed" else "error",
                duration_s=round(time.perf_counter() - started, 4),
                peak_rss_bytes=outcome.peak_rss_bytes,
                peak_gpu_bytes=outcome.peak_gpu_bytes,
                cached=outcome.cached,
                failure=failure,
                log_tail=tail(log),
                details=outcome.details,
            )
        )
        self._progress(name, status, f"{failure.failure_class}: {failure.message}")

    def skip(self, name: StageName) -> None:
        self.results.append(StageResult(name=name, status="skipped"))
        self._progress(name, "skipped", "")

    def status(self, name: str) -> str | None:
        return next((s.status for s in self.results if s.name == name), None)


def _peak(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _measurement(runs: list[ProcessResult]) -> Measurement:
    how = runs[-1].how if runs else {}
    interval = how.get("sample_interval_s", "")
    try:
        first = float(interval.split("-")[0]) if interval else None
    except ValueError:
        first = None
    return Measurement(
        rss=how.get("rss", ""),
        cpu=how.get("cpu", ""),
        gpu=how.get("gpu", gpu.gpu_note()),
        sample_interval_s=first,
    )


def evaluate(
    manifest: Manifest,
    options: EvaluateOptions,
    settings: Settings,
    progress: ProgressFn | None = None,
) -> ResultRecord:
    """Run every stage for one (library, backend, device, profile); never raises for a library's failure."""
    limits = get_profile(options.profile)
    device = resolve_device(options.device, limits)
    if options.repeats < 1:
        raise UsageError("--repeats must be at least 1")
    backend = get_backend(options.backend, options.python)
    run_id = options.run_id or uuid.uuid4().hex
    started_at = _now()
    installer_of = getattr(backend, "installer", None)
    installer = installer_of(settings) if callable(installer_of) else settings.installer
    spec = env_spec(manifest, settings, device, str(installer))
    stages = _Stages(progress)
    experiments: list[ExperimentResult] = []
    runs: list[ProcessResult] = []
    state: dict[str, Any] = {}
    fetched: FetchedSource | None = None
    built: BuiltEnv | None = None
    work_dir = Path(tempfile.mkdtemp(prefix=f"harness-{manifest.slug}-"))
    try:  # after a failure, stages.run records every later stage as skipped without calling it
        fetched = stages.run("fetch", lambda o: _fetch(manifest, settings, o))
        built = stages.run("build", lambda o: _build(backend, spec, _need(fetched), settings, o))
        ctx = None
        if fetched is not None and built is not None:
            ctx = RunContext(
                backend=backend,
                env=built,
                manifest=manifest,
                settings=settings,
                checkout=fetched.checkout,
                device=device,
                seed=options.seed,
                limits=limits,
                work_dir=work_dir,
            )
        stages.run("import", lambda o: _import(_need(ctx), state, runs, o))
        stages.run("smoke", lambda o: _smoke(_need(ctx), options, experiments, runs, o))
        reproducibility = judge(experiments, manifest)
        stages.run("reproduce", lambda o: _reproduce(reproducibility, o))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        close = getattr(backend, "close", None)
        if callable(close):
            close()
    source = fetched.info if fetched else _planned_source(manifest)
    facts: dict[str, Any] = {
        "run": {
            "installer": installer,
            "env_fingerprint": spec.fingerprint(),
            "env_cached": built.cached if built else None,
            "install_s": round(built.build_s, 4) if built else None,
            "python_version": built.python_version if built else None,
            "python_requirement": manifest.environment.python,
            "patches_count": len(manifest.patches),
            "patches": [p.model_dump() for p in manifest.patches],
            "import_versions": state.get("versions", {}),
            "seed": options.seed,
            "repeats_requested": options.repeats,
            "measurement": runs[-1].how if runs else {},
        },
        "manifest": manifest_facts(manifest),  # the catalogue's taxonomy: applicability checks read it
    }
    if fetched is not None and fetched.facts:
        facts["repository" if source.kind == "git" else "package"] = dict(fetched.facts)
    record = ResultRecord(
        run_id=run_id,
        job_id=job_id_for(manifest, settings, backend.kind, device, options.profile, options.python),
        library=manifest.slug,
        started_at=started_at,
        finished_at=_now(),
        host=host_info(),
        backend=backend.kind,  # type: ignore[arg-type]
        device=device,  # type: ignore[arg-type]
        profile=options.profile,
        source=source,
        stages=_ordered(stages.results),
        experiments=experiments,
        reproducibility=reproducibility,
        facts=facts,
        patches=[{"requirement": p.requirement, "reason": p.reason} for p in manifest.patches],
        measurement=_measurement(runs),
        harness_version=__version__,
    )
    return record.model_copy(update={"scores": _scores(record)})


def _scores(record: ResultRecord) -> dict[str, Any]:
    from harness.scoring import score_record

    try:
        return score_record(record)
    except Exception as exc:  # scoring is a pure function of the record; a bug there must not lose it
        import sys

        reason = f"{type(exc).__name__}: {exc}"
        print(f"warning: scoring failed: {reason}", file=sys.stderr)
        # kept in the record, so a batch on Ray or in worker processes does not lose it either;
        # `harness rescore` fills the scores in once the rubric is fixed
        return {"error": f"scoring failed: {reason}"[:500]}


def _need(value: T | None) -> T:
    if value is None:
        raise RuntimeError("a stage ran without the result of the stage before it")
    return value


def _ordered(results: list[StageResult]) -> list[StageResult]:
    by_name = {r.name: r for r in results}
    return [by_name.get(n) or StageResult(name=n, status="skipped") for n in STAGE_NAMES]


def _planned_source(manifest: Manifest) -> SourceInfo:
    src = manifest.source
    if src.kind == "git":
        return SourceInfo(kind="git", url=src.git_url, commit=src.commit, ref=src.ref)
    return SourceInfo(
        kind="pypi",
        url=f"https://pypi.org/project/{src.package}/{src.version}/",
        version=src.version,
        ref=src.ref,
    )


# -- stage functions -------------------------------------------------------------------------------
def _fetch(manifest: Manifest, settings: Settings, out: _Outcome) -> FetchedSource:
    from harness.sources.resolve import fetch_source

    fetched = fetch_source(manifest, settings)
    out.cached, out.log = fetched.cached, fetched.log
    out.details = {"kind": fetched.info.kind, "checkout": fetched.checkout is not None}
    return fetched


def _build(
    backend: Backend, spec: EnvSpec, fetched: FetchedSource, settings: Settings, out: _Outcome
) -> BuiltEnv:
    built = backend.build(spec, fetched.checkout, settings, artifact=fetched.artifact)
    out.cached, out.log = built.cached, built.log
    out.peak_rss_bytes = built.peak_rss_bytes
    out.details = {
        "fingerprint": built.fingerprint,
        "python_version": built.python_version,
        "install_s": round(built.build_s, 4),
        "installer": spec.installer,
    }
    return built


def _import(ctx: RunContext, state: dict[str, Any], runs: list[ProcessResult], out: _Outcome) -> None:
    from harness import importcache

    if not ctx.manifest.imports:
        out.details = {"note": "the manifest declares no imports; nothing was checked"}
        return
    imports = list(ctx.manifest.imports)
    key = importcache.cache_key(ctx.env, imports, list(ctx.manifest.environment.python_path), ctx.device, ctx.limits)
    hit = importcache.lookup(ctx.env, key) if ctx.env.cached else None
    if hit is not None:  # a passed check of this very environment: reported, not re-run
        out.cached, out.peak_rss_bytes, out.peak_gpu_bytes = True, hit.peak_rss_bytes, hit.peak_gpu_bytes
        out.details = {
            "imports": imports,
            "versions": hit.versions,
            "wall_s": hit.wall_s,
            "measured_at": hit.measured_at,
            "note": f"passed when measured at {hit.measured_at} in this environment; not re-run",
        }
        state["versions"] = hit.versions
        return
    result, failure, versions = run_import_check(ctx)
    runs.append(result)
    out.peak_rss_bytes, out.peak_gpu_bytes, out.log = (
        result.peak_rss_bytes,
        result.peak_gpu_bytes,
        result.output,
    )
    out.details = {"imports": imports, "versions": versions, "wall_s": round(result.wall_s, 4)}
    state["versions"] = versions
    if failure is not None:  # never cached: a failure is checked again next time
        raise ImportCheckError(
            failure.message, failure_class=failure.failure_class, hint=failure.hint, log_tail=result.output
        )
    stored = importcache.store(ctx.env, key, result, versions)
    if stored is not None:
        out.details["measured_at"] = stored.measured_at


def _smoke(
    ctx: RunContext,
    options: EvaluateOptions,
    experiments: list[ExperimentResult],
    runs: list[ProcessResult],
    out: _Outcome,
) -> None:
    if not ctx.manifest.experiments:
        raise ExperimentError(
            "the manifest declares no experiment",
            failure_class="no-metrics",
            hint="add a smoke experiment to the manifest",
        )
    if ctx.device == "gpu" and not gpu.has_gpu():
        raise ExperimentError(
            f"--device gpu, but {gpu.gpu_note() or 'no GPU: none found'}",
            failure_class="cuda-unavailable",
            hint="run with --device cpu, or on a host with an NVIDIA GPU and driver",
        )
    for experiment in ctx.manifest.experiments:
        result, done, failure = run_experiment(
            experiment, ctx, repeats=options.repeats, timeout_s=options.timeout_s
        )
        experiments.append(result)
        runs.extend(done)
        out.peak_rss_bytes = _peak([out.peak_rss_bytes, *(r.peak_rss_bytes for r in done)])
        out.peak_gpu_bytes = _peak([out.peak_gpu_bytes, *(r.peak_gpu_bytes for r in done)])
        out.log = done[-1].output if done else ""
        if failure is not None:
            raise ExperimentError(
                f"{experiment.name}: {failure.message}",
                failure_class=failure.failure_class,
                hint=failure.hint,
                log_tail=out.log,
            )
    out.details = {"experiments": [e.name for e in experiments], "repeats": options.repeats}


def _reproduce(reproducibility: Any, out: _Outcome) -> None:
    out.details = {"verdict": reproducibility.verdict}
    failed = failure_of(reproducibility)
    if failed is not None:
        cls, message, hint = failed
        raise StageFailure(message, failure_class=cls, hint=hint)
