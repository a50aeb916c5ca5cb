"""``harness list`` and ``harness validate``: the manifests as a catalogue, and checking them.

``validate`` prints one ``file: field: message`` line per invalid manifest and exits 2 when any
manifest is invalid; ``list --category`` with an unknown family exits 2 naming the families.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from harness.config import load_settings
from harness.console import make_console
from harness.errors import ManifestError, UsageError
from harness.manifest import Manifest, load_all, load_manifest, manifest_paths
from harness.taxonomy import FAMILIES


def _summary(m: Manifest) -> dict[str, object]:
    src = m.source
    return {
        "slug": m.slug,
        "name": m.name,
        "families": list(m.families),
        "origin": m.origin,
        "source": src.kind,
        "repository": src.repository,
        "pin": src.version if src.kind == "pypi" else src.commit,
        "python": m.environment.python,
        "patches": len(m.patches),
        "experiments": [e.name for e in m.experiments],
    }


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += manifest_paths(p)
        elif p.exists():
            files.append(p)
        else:
            raise UsageError(f"{p}: (file): no such file or directory")
    return files


def register(app: typer.Typer) -> None:
    @app.command("list")
    def list_cmd(
        category: str | None = typer.Option(
            None, "--category", help="attack family, e.g. membership-inference"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the list as JSON on stdout"),
    ) -> None:
        """List the libraries that have a manifest."""
        if category is not None and category not in FAMILIES:
            raise UsageError(f"unknown category '{category}'; families: {', '.join(FAMILIES)}")
        manifests = [
            m for m in load_all(load_settings().manifests_dir) if category is None or category in m.families
        ]
        rows = [_summary(m) for m in manifests]
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        table = Table(show_edge=False)
        # slugs are what users type next: never wrapped or cut, however narrow the terminal
        widest = max((len(str(r["slug"])) for r in rows), default=4)
        table.add_column("slug", no_wrap=True, min_width=widest, overflow="ignore")
        for col in ("families", "origin", "source", "pin", "python"):
            table.add_column(col)
        for r in rows:
            pin = str(r["pin"] or "")
            table.add_row(
                str(r["slug"]),
                ", ".join(map(str, r["families"])),  # type: ignore[call-overload]
                str(r["origin"]),
                str(r["source"]),
                pin[:12],
                str(r["python"]),
            )
        make_console(stderr=False).print(table)  # the table is the command's output: stdout
        make_console().print(f"{len(rows)} librar{'y' if len(rows) == 1 else 'ies'}")

    @app.command("validate")
    def validate_cmd(
        paths: list[Path] | None = typer.Argument(None, help="manifest files or folders (default: all)"),
    ) -> None:
        """Check manifests against the schema; print `file: field: message` per error, exit 2 on any."""
        files = _expand(paths or [load_settings().manifests_dir])
        errors = 0
        for f in files:
            try:
                load_manifest(f)
            except ManifestError as exc:
                errors += 1
                for line in exc.lines:
                    print(line, file=sys.stderr)
        console = Console(stderr=True)
        if errors:
            console.print(f"{errors} of {len(files)} manifest(s) invalid")
            raise typer.Exit(2)
        console.print(f"{len(files)} manifest(s) valid")
