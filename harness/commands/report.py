"""``harness report`` (render the static HTML report) and ``harness rescore`` (scores from stored records).

Neither runs anything: both read stored records only. ``rescore`` writes a new scores file next to
the records (records are never edited) and prints the changes; ``--json`` puts them on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from harness.config import load_settings
from harness.errors import UsageError

err = Console(stderr=True)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        results_dir: Path | None = typer.Option(None, "--results-dir", help="where the result records are"),
        reports_dir: Path | None = typer.Option(None, "--reports-dir", help="where to write the HTML report"),
    ) -> None:
        """Render the static HTML report (overview, library pages, badges, CSV/JSON) from stored results."""
        from harness.report import render_report

        settings = load_settings().with_overrides(results_dir=results_dir, reports_dir=reports_dir)
        if not settings.results_dir.is_dir():
            raise UsageError(f"{settings.results_dir}: --results-dir: no such directory")
        index = render_report(settings.results_dir, settings.reports_dir)
        err.print(f"report written to [bold]{index}[/bold] (open it in a browser; it works offline)")

    @app.command("rescore")
    def rescore_cmd(
        results_dir: Path | None = typer.Option(None, "--results-dir", help="where the result records are"),
        rubric: Path | None = typer.Option(None, "--rubric", help="rubric file (default: the shipped one)"),
        as_json: bool = typer.Option(False, "--json", help="print the score changes as JSON on stdout"),
    ) -> None:
        """Recompute scores of stored records with the rubric, without running anything."""
        from harness.scoring.rescore import rescore
        from harness.store import load_records

        settings = load_settings().with_overrides(results_dir=results_dir)
        if not settings.results_dir.is_dir():
            raise UsageError(f"{settings.results_dir}: --results-dir: no such directory")
        records = load_records(
            settings.results_dir, warn=lambda m: err.print(m, highlight=False, markup=False)
        )
        result = rescore(records, settings.results_dir, rubric)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "rubric": result.rubric.stamp(),
                        "written": str(result.written) if result.written else None,
                        "records": [
                            {"record": c.key, "before": c.before, "after": c.after} for c in result.changes
                        ],
                    },
                    indent=2,
                )
            )
        table = Table(title=f"rescored with rubric {result.rubric.version} ({result.rubric.sha256[:12]})")
        table.add_column("record", overflow="fold")
        for col in ("accessibility", "usability", "applicability"):
            table.add_column(col, no_wrap=True)
        for c in result.changes:
            cells = [
                (
                    _fmt(c.before[d])
                    if c.before[d] == c.after[d]
                    else f"{_fmt(c.before[d])} → [bold]{_fmt(c.after[d])}[/bold]"
                )
                for d in c.after
            ]
            table.add_row(c.key, *cells)
        err.print(table)
        changed = sum(1 for c in result.changes if c.changed)
        if result.written:
            total = len(result.changes)
            err.print(f"{changed} of {total} records changed score; scores written to {result.written}")
        else:
            err.print(f"no score changed for {len(result.changes)} records; nothing written")
