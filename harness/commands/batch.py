"""CLI commands: ``harness run`` (a batch), ``harness history``, ``harness diff`` and ``harness nightly``.

``nightly`` is the whole nightly job (batch on GPU and CPU, report, diff with the night before, exit 3
on a regression), so that the GitHub workflow and a cron line run exactly the same thing.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.batch.diff import RunDiff, Thresholds, diff_runs, pick_runs, previous_run
from harness.batch.executor import Executor
from harness.batch.history import library_history
from harness.batch.progress import make_display
from harness.batch.runner import BatchOptions, BatchResult, run_batch, summary_status
from harness.config import Settings, load_settings
from harness.console import make_console
from harness.errors import UsageError
from harness.manifest import find_manifest
from harness.store import load_records

EXIT_REGRESSION = 3
err = Console(stderr=True, soft_wrap=True)  # log lines are never wrapped


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def resolve_devices(requested: list[str], profile: str, *, skip_missing_gpu: bool = False) -> tuple[str, ...]:
    """Each requested device as cpu or gpu (``auto`` as the pipeline resolves it), without repeats."""
    from harness import gpu
    from harness.envs.profiles import get_profile
    from harness.pipeline import resolve_device

    limits = get_profile(profile)
    devices: list[str] = []
    for name in requested or ["cpu"]:
        if name == "gpu" and skip_missing_gpu and not gpu.has_gpu():
            err.print(f"[yellow]note:[/yellow] GPU jobs skipped: {gpu.gpu_note()}", highlight=False)
            continue
        device = resolve_device(name, limits)
        if device not in devices:
            devices.append(device)
    if not devices:
        raise UsageError("--device: no device left to run on")
    return tuple(devices)


def make_executor(kind: str, jobs: int | None, address: str | None, settings: Settings) -> Executor:
    if kind == "ray":
        from harness.batch.ray_executor import RayExecutor

        return RayExecutor(address=address)
    if kind != "local":
        raise UsageError(f"--executor: unknown executor '{kind}'; use local or ray")
    if address:
        raise UsageError("--address: only meaningful with --executor ray")
    from harness.batch.local import LocalExecutor
    from harness.batch.resources import ResourcePool, usable_cpus

    pool = ResourcePool.local(jobs or usable_cpus())
    return LocalExecutor(pool, settings.cache_dir / "batch-logs")


@dataclass(frozen=True)
class Selection:
    all_: bool = False
    libs: tuple[str, ...] = ()
    category: str | None = None

    @property
    def given(self) -> bool:
        return self.all_ or bool(self.libs) or self.category is not None


def execute_batch(
    settings: Settings, selection: Selection, options: BatchOptions, *, jobs: int | None, executor: str,
    address: str | None, resume: bool, run_id: str | None, quiet: bool = False,
) -> BatchResult:
    """Select, plan and run one batch (or resume one); the display goes to stderr."""
    from harness.batch.jobs import select_manifests
    from harness.pipeline import get_backend

    get_backend(options.backend, options.python)  # an unavailable backend: a usage error before anything runs
    manifests = None
    if selection.given or not resume:
        manifests = select_manifests(settings, all_=selection.all_, libs=list(selection.libs),
                                     category=selection.category)
    runner = make_executor(executor, jobs, address, settings)
    try:
        result = run_batch(manifests, options, settings, runner, make_display(quiet), resume=resume,
                           run_id=run_id)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT.value)
        err.print(f"batch interrupted ({signal.Signals(signum).name}); stored records are kept: "
                  "continue with harness run --resume", highlight=False)
        raise typer.Exit(128 + signum) from None
    written = rescore_run(settings, result)
    if written is not None:
        err.print(f"scores with the run's CPU/GPU pairs: {written}", highlight=False)
    return result


def rescore_run(settings: Settings, result: BatchResult) -> Path | None:
    """Score the run's records against each other, as ``harness rescore`` does.

    Each record was scored alone when it was made, so a GPU record's speed-up over its CPU run (and
    the CPU record's) is inconclusive there; scored together, the pairs count. The scores go to a
    scores file (records are never edited), which the report and ``harness rescore`` read; nothing
    is written when no score changes (e.g. a CPU-only run).
    """
    from harness.scoring.rescore import rescore

    if len({(r.library, r.device) for r in result.records}) == len({r.library for r in result.records}):
        return None  # one device per library: nothing to pair
    return rescore(result.records, settings.results_dir).written


def regressions_against_previous(settings: Settings, run_id: str, thresholds: Thresholds) -> RunDiff | None:
    records = load_records(settings.results_dir)
    before = previous_run(records, run_id)
    return diff_runs(records, before, run_id, thresholds) if before else None


def print_diff(diff: RunDiff) -> None:
    err.print(f"diff {diff.run_a} -> {diff.run_b}: {diff.compared} compared, {len(diff.regressions)} "
              f"regression(s), {len(diff.improvements)} improvement(s)", highlight=False)
    groups = (("regression", diff.regressions, "red"), ("improvement", diff.improvements, "green"))
    for title, items, style in groups:
        for c in items:
            where = escape(f"{c.library} [{c.backend}/{c.device}/{c.profile}]")
            err.print(f"  [{style}]{title}[/{style}] {where} {c.kind}: {escape(c.message)}", highlight=False)
    for key in diff.missing:
        gone = escape("/".join(key))
        err.print(f"  [yellow]missing[/yellow] {gone} (in {diff.run_a}, not in {diff.run_b})",
                  highlight=False)


def _batch_json(result: BatchResult, diff: RunDiff | None) -> dict[str, Any]:
    return {
        "run_id": result.run_id, "planned": result.planned, "already_stored": result.skipped,
        "stored": len(result.stored),
        "records": [r.model_dump(mode="json", by_alias=True) for r in result.records],
        "diff": diff.to_json() if diff else None,
    }


def _render_report(settings: Settings) -> Path | None:
    """The report over the stored records; a failure to render is a warning, never a lost batch result."""
    from harness.report import render_report

    try:
        return render_report(settings.results_dir, settings.reports_dir)
    except Exception as exc:  # records are stored; `harness report` can render them later
        err.print(f"warning: could not render the report: {type(exc).__name__}: {exc}", highlight=False,
                  markup=False)
        return None


def _thresholds(runtime_ratio: float, memory_ratio: float, score_drop: float) -> Thresholds:
    return Thresholds(runtime_ratio=runtime_ratio, memory_ratio=memory_ratio, score_drop=score_drop)


RUNTIME_OPT = typer.Option(Thresholds.runtime_ratio, "--runtime-threshold", min=1.0,
                           help="runtime ratio counted as a regression (beyond 1 s)")
MEMORY_OPT = typer.Option(Thresholds.memory_ratio, "--memory-threshold", min=1.0,
                          help="peak-memory ratio counted as a regression (beyond 64 MiB)")
SCORE_OPT = typer.Option(Thresholds.score_drop, "--score-threshold", min=0.0,
                         help="score drop (points of 10) counted as a regression")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        all_: bool = typer.Option(False, "--all", help="every library in the catalogue"),
        lib: list[str] = typer.Option([], "--lib", help="library slug (repeatable, or comma-separated)"),
        category: str | None = typer.Option(None, "--category", help="an attack family, e.g. adversarial"),
        backend: str = typer.Option("venv", "--backend", help="venv or docker"),
        device: list[str] = typer.Option(["cpu"], "--device", help="cpu, gpu or auto (repeatable)"),
        repeats: int = typer.Option(3, "--repeats", min=1, help="runs of each experiment"),
        timeout: float | None = typer.Option(None, "--timeout", min=1, help="seconds per experiment run"),
        profile: str = typer.Option("default", "--profile", help="default, edge-1g or gateway-4g"),
        seed: int = typer.Option(0, "--seed", help="HARNESS_SEED passed to every run"),
        python: str | None = typer.Option(None, "--python", help="docker: Python X.Y of the base images"),
        jobs: int | None = typer.Option(None, "--jobs", min=1, help="evaluations at once (default: cores)"),
        executor: str = typer.Option("local", "--executor", help="local or ray"),
        address: str | None = typer.Option(None, "--address", help="Ray cluster address (--executor ray)"),
        resume: bool = typer.Option(False, "--resume", help="finish the latest (or --run-id) run"),
        run_id: str | None = typer.Option(None, "--run-id", help="the run to resume (default: the latest)"),
        fail_on_regression: bool = typer.Option(False, "--fail-on-regression",
                                                help="exit 3 when the run regressed against the previous"),
        results_dir: Path | None = typer.Option(None, "--results-dir", help="where records are stored"),
        reports_dir: Path | None = typer.Option(None, "--reports-dir", help="render the HTML report there"),
        as_json: bool = typer.Option(False, "--json", help="print the run's records (and diff) as JSON"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
        runtime_threshold: float = RUNTIME_OPT,
        memory_threshold: float = MEMORY_OPT,
        score_threshold: float = SCORE_OPT,
    ) -> None:
        """Evaluate many libraries in parallel, journaled so that a killed batch can --resume."""
        settings = load_settings().with_overrides(results_dir=results_dir, reports_dir=reports_dir)
        if run_id and not resume:
            raise UsageError("--run-id: only with --resume (a new run gets a fresh id)")
        options = BatchOptions(backend=backend, devices=resolve_devices(device, profile), profile=profile,
                               repeats=repeats, timeout_s=timeout, seed=seed, python=python)
        libs = tuple(slug for item in lib for slug in item.split(",") if slug)
        selection = Selection(all_=all_, libs=libs, category=category)
        result = execute_batch(settings, selection, options, jobs=jobs, executor=executor, address=address,
                               resume=resume, run_id=run_id, quiet=quiet)
        err.print(f"run {result.run_id}: {len(result.stored)} record(s) stored, {result.skipped} already "
                  f"stored, in {settings.results_dir}", highlight=False)
        if reports_dir is not None:
            _render_report(settings)
        diff = None
        if fail_on_regression or as_json:
            diff = regressions_against_previous(
                settings, result.run_id, _thresholds(runtime_threshold, memory_threshold, score_threshold))
            if diff is not None:
                print_diff(diff)
        if as_json:
            _emit_json(_batch_json(result, diff))
        if fail_on_regression and diff is not None and diff.regressions:
            raise typer.Exit(EXIT_REGRESSION)

    @app.command("history")
    def history_cmd(
        lib: str = typer.Option(..., "--lib", help="library slug"),
        results_dir: Path | None = typer.Option(None, "--results-dir", help="where records are stored"),
        as_json: bool = typer.Option(False, "--json", help="print the points as JSON"),
    ) -> None:
        """A library over time: one line per stored evaluation, oldest first."""
        settings = load_settings().with_overrides(results_dir=results_dir)
        points = library_history(load_records(settings.results_dir), lib)
        if not points:  # a misspelt slug is an error naming the closest ones (exit 2), not "no records"
            find_manifest(lib, settings.manifests_dir)
        if as_json:
            _emit_json({"library": lib, "points": [p.to_json() for p in points]})
            return
        if not points:
            err.print(f"no stored records of '{lib}' in {settings.results_dir}", highlight=False)
            return
        table = Table(title=f"{lib}: {len(points)} evaluation(s)", title_justify="left", show_edge=False)
        for col in ("run", "started", "series", "pin", "status", "reached", "verdict", "runtime",
                    "peak RSS", "acc/use/app"):
            table.add_column(col, no_wrap=True)
        for p in points:
            scores = "/".join("-" if v is None else f"{v:g}" for v in p.scores.values())
            table.add_row(p.run_id, p.started_at[:16].replace("T", " "), p.key, p.pin[:12], p.status,
                          p.stage_reached, p.verdict, "" if p.runtime_s is None else f"{p.runtime_s:.2f} s",
                          "" if p.peak_rss_bytes is None else f"{p.peak_rss_bytes / 2**20:.0f} MiB", scores)
        make_console(stderr=False).print(table)

    @app.command("diff")
    def diff_cmd(
        runs: list[str] = typer.Argument(None, help="RUN_A RUN_B (default: the last two runs)"),
        results_dir: Path | None = typer.Option(None, "--results-dir", help="where records are stored"),
        as_json: bool = typer.Option(False, "--json", help="print the diff as JSON"),
        fail_on_regression: bool = typer.Option(False, "--fail-on-regression", help="exit 3 on a regression"),
        runtime_threshold: float = RUNTIME_OPT,
        memory_threshold: float = MEMORY_OPT,
        score_threshold: float = SCORE_OPT,
    ) -> None:
        """Compare two runs and list regressions (stages, verdicts, runtime, memory, scores)."""
        runs = runs or []
        if len(runs) > 2:
            raise UsageError("harness diff: runs: give at most two run ids")
        settings = load_settings().with_overrides(results_dir=results_dir)
        records = load_records(settings.results_dir)
        run_a, run_b = pick_runs(records, runs[0] if len(runs) == 2 else None, runs[-1] if runs else None)
        thresholds = _thresholds(runtime_threshold, memory_threshold, score_threshold)
        diff = diff_runs(records, run_a, run_b, thresholds)
        print_diff(diff)
        if as_json:
            _emit_json(diff.to_json())
        if fail_on_regression and diff.regressions:
            raise typer.Exit(EXIT_REGRESSION)

    @app.command("nightly")
    def nightly_cmd(
        device: list[str] = typer.Option(["gpu", "cpu"], "--device",
                                         help="devices to run on (GPU skipped with a note when absent)"),
        category: str | None = typer.Option(None, "--category", help="only this attack family"),
        lib: list[str] = typer.Option([], "--lib", help="only these libraries"),
        backend: str = typer.Option("venv", "--backend", help="venv or docker"),
        repeats: int = typer.Option(3, "--repeats", min=1, help="runs of each experiment"),
        jobs: int | None = typer.Option(None, "--jobs", min=1, help="evaluations at once (default: cores)"),
        executor: str = typer.Option("local", "--executor", help="local or ray"),
        address: str | None = typer.Option(None, "--address", help="Ray cluster address"),
        results_dir: Path | None = typer.Option(None, "--results-dir", help="where records are stored"),
        reports_dir: Path | None = typer.Option(None, "--reports-dir", help="where the HTML report goes"),
        fail_on_regression: bool = typer.Option(True, "--fail-on-regression/--no-fail-on-regression",
                                                help="exit 3 when tonight regressed against the last run"),
        as_json: bool = typer.Option(False, "--json", help="print the run summary and diff as JSON"),
    ) -> None:
        """The nightly job: the catalogue on GPU and CPU, the report, the diff with the last run."""
        settings = load_settings().with_overrides(results_dir=results_dir, reports_dir=reports_dir)
        devices = resolve_devices(device, "default", skip_missing_gpu=True)
        options = BatchOptions(backend=backend, devices=devices, repeats=repeats)
        selection = Selection(all_=not (lib or category), libs=tuple(lib), category=category)
        result = execute_batch(settings, selection, options, jobs=jobs, executor=executor, address=address,
                               resume=False, run_id=None)
        failed = [r for r in result.records if summary_status(r) != "passed"]
        err.print(f"run {result.run_id}: {len(result.records)} record(s), {len(failed)} not fully passing",
                  highlight=False)
        page = _render_report(settings)
        if page is not None:
            err.print(f"report: {page}", highlight=False)
        diff = regressions_against_previous(settings, result.run_id, Thresholds())
        if diff is None:
            err.print("no earlier run to compare with", highlight=False)
        else:
            print_diff(diff)
            settings.reports_dir.mkdir(parents=True, exist_ok=True)
            out = settings.reports_dir / "nightly-diff.json"
            out.write_text(json.dumps(diff.to_json(), indent=2) + "\n")
        if as_json:
            summary = _batch_json(result, diff)
            summary["records"] = [{"library": r.library, "device": r.device, "status": summary_status(r),
                                   "verdict": r.reproducibility.verdict} for r in result.records]
            _emit_json(summary)
        if fail_on_regression and diff is not None and diff.regressions:
            raise typer.Exit(EXIT_REGRESSION)
