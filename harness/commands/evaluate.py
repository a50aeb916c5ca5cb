"""``harness evaluate``: evaluate one library end to end, store the record, render its page.

Progress per stage and a short summary go to stderr (rich); ``--json`` prints exactly the record
on stdout. A library that fails is a result (exit 0); bad usage exits 2.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table

from harness.config import Settings, load_settings
from harness.console import make_console
from harness.errors import HarnessError, UsageError
from harness.manifest import find_manifest
from harness.pipeline import EvaluateOptions, ProgressFn, evaluate
from harness.proctree import contained
from harness.records import ResultRecord
from harness.store import scrub_record, write_record

STYLE = {"passed": "green", "failed": "red", "skipped": "dim", "error": "magenta", "running": "cyan"}


def progress_printer(console: Console, library: str) -> tuple[ProgressFn, Status]:
    """A progress callback that prints one line per finished stage (and a spinner while one runs)."""
    status = console.status(f"{library}: starting", spinner="dots")

    def progress(stage: str, state: str, message: str) -> None:
        if state == "running":
            status.update(f"{library}: {stage} ...")
            return
        colour = STYLE.get(state, "white")
        extra = f" [dim]{escape(message)}[/dim]" if message else ""
        console.print(f"  {stage:<9} [{colour}]{state}[/{colour}]{extra}", highlight=False)

    return progress, status


def summary(record: ResultRecord, console: Console) -> None:
    table = Table(
        title=escape(f"{record.library} ({record.backend}, {record.device}, {record.profile})"),
        title_justify="left",
        show_edge=False,
    )
    for col in ("stage", "status", "time", "peak RSS", "note"):
        table.add_column(col)
    for s in record.stages:
        colour = STYLE.get(s.status, "white")
        rss = f"{s.peak_rss_bytes / 2**20:.0f} MiB" if s.peak_rss_bytes else ""
        note = (
            f"{s.failure.failure_class}: {s.failure.message}" if s.failure else ("cached" if s.cached else "")
        )
        table.add_row(s.name, f"[{colour}]{s.status}[/{colour}]", f"{s.duration_s:.1f} s", rss, escape(note[:90]))
    console.print(table)
    for exp in record.experiments:
        ok = [r for r in exp.repeats if r.exit_code == 0 and r.metrics]
        if ok:
            last = ok[-1].metrics
            shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
            console.print(
                f"  {escape(exp.name)}: {escape(shown)}  ({len(ok)}/{len(exp.repeats)} repeats ok, "
                f"{sum(r.wall_s for r in ok) / len(ok):.1f} s each)",
                highlight=False,
            )
    console.print(f"  reproducibility: [bold]{record.reproducibility.verdict}[/bold]")
    for failed in (s for s in record.stages if s.failure and s.failure.hint):
        assert failed.failure is not None
        console.print(f"  hint ({failed.name}): {escape(failed.failure.hint)}", highlight=False)
    if record.scores:
        console.print("  scores: " + score_line(record.scores), highlight=False)


def score_line(scores: dict[str, Any]) -> str:
    """``accessibility 9.5 (7/8 checks), ...``: one part per rubric dimension, in the rubric's order."""
    from harness.scoring.rubric import DIMENSIONS

    parts = []
    for name in DIMENSIONS:
        value = scores.get(name)
        score = value.get("score") if isinstance(value, dict) else None
        text = f"{name} {score if score is not None else 'n/a'}"
        if isinstance(value, dict) and isinstance(value.get("checks"), list):
            conclusive = sum(1 for c in value["checks"] if c.get("outcome") != "inconclusive")
            text += f" ({conclusive}/{len(value['checks'])} checks)"
        parts.append(text)
    return ", ".join(parts)


def render_page(record: ResultRecord, reports_dir: Path, console: Console) -> Path | None:
    """The library's HTML page; a failure to render is a warning (the record is already stored)."""
    from harness.report import render_library

    try:
        return render_library(record, reports_dir)
    except Exception as exc:  # the record is what matters; `harness report` can render it later
        console.print(
            f"[yellow]warning:[/yellow] could not render the page in {escape(str(reports_dir))}: "
            f"{escape(f'{type(exc).__name__}: {exc}')}; the record is stored (render it with `harness report`)",
            highlight=False,
        )
        return None


def check_output_dir(path: Path, option: str) -> None:
    """``path`` is, or is now created as, a directory this process can write into; else ``UsageError``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError) or (path.exists() and not path.is_dir()):
            why = "exists and is not a directory"
        raise UsageError(f"{option} {path}: not a writable directory ({why})") from None


def run_evaluate(settings: Settings, lib: str, options: EvaluateOptions, *, as_json: bool) -> ResultRecord:
    console = make_console()
    check_output_dir(settings.results_dir, "--results-dir")  # before any work: no evaluation is lost
    check_output_dir(settings.reports_dir, "--reports-dir")
    manifest = find_manifest(lib, settings.manifests_dir)
    console.print(
        f"[bold]{escape(manifest.name)}[/bold] ({manifest.slug}): {options.backend}, device {options.device}, "
        f"profile {options.profile}, {options.repeats} repeat(s)",
        highlight=False,
    )
    progress, status = progress_printer(console, manifest.slug)
    # As a subreaper, double-forked daemons of a build or a smoke run come back to this process and
    # are killed; SIGTERM/SIGHUP take the KeyboardInterrupt path (trees killed, temp dirs removed).
    with contained(), status:
        record = evaluate(manifest, options, settings, progress)
    record = scrub_record(record, settings)  # what is stored is what is printed and rendered
    path = write_record(record, settings.results_dir, settings)
    summary(record, console)
    console.print(f"  record: {escape(str(path))}", highlight=False)
    page = render_page(record, settings.reports_dir, console)
    if page is not None:
        console.print(f"  page: {escape(str(page))}", highlight=False)
    if as_json:
        sys.stdout.write(record.model_dump_json(by_alias=True) + "\n")
        sys.stdout.flush()
    broken = [s for s in record.stages if s.status == "error"]
    if broken:  # the harness itself failed (the record says where): exit 1, not a library result
        failure = broken[0].failure
        raise HarnessError(f"the harness failed in stage {broken[0].name}: {failure.message if failure else ''}")
    return record


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        lib: str = typer.Option(..., "--lib", help="library slug (see `harness list`)"),
        backend: str = typer.Option("venv", "--backend", help="venv or docker"),
        device: str = typer.Option("cpu", "--device", help="cpu, gpu or auto"),
        repeats: int = typer.Option(3, "--repeats", min=1, help="runs of each experiment"),
        timeout: float | None = typer.Option(None, "--timeout", min=1, help="seconds per experiment run"),
        profile: str = typer.Option("default", "--profile", help="default, edge-1g or gateway-4g"),
        seed: int = typer.Option(0, "--seed", help="HARNESS_SEED passed to every run"),
        results_dir: Path | None = typer.Option(None, "--results-dir", help="where records are stored"),
        reports_dir: Path | None = typer.Option(None, "--reports-dir", help="where HTML pages go"),
        as_json: bool = typer.Option(False, "--json", help="print the record as JSON on stdout"),
        dry_run: bool = typer.Option(False, "--dry-run", help="docker: print the Dockerfile, build nothing"),
        python: str | None = typer.Option(None, "--python", help="docker: Python X.Y of the base image"),
    ) -> None:
        """Evaluate one library: fetch, build, import, smoke, reproduce; store and render the result."""
        settings = load_settings().with_overrides(results_dir=results_dir, reports_dir=reports_dir)
        if dry_run:  # the docker backend's pure planning (harness.envs.docker, issue 5)
            from harness.envs.docker import print_dry_run

            print_dry_run(settings, lib, backend=backend, device=device, profile=profile, python=python)
            return
        options = EvaluateOptions(
            backend=backend, device=device, repeats=repeats, timeout_s=timeout, profile=profile, seed=seed,
            python=python,
        )
        run_evaluate(settings, lib, options, as_json=as_json)
