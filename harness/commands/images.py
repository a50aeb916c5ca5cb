"""CLI commands: ``harness image bootstrap`` and ``harness image list`` (Docker base images)."""

from __future__ import annotations

import json
import os

import typer
from rich.console import Console
from rich.table import Table

from harness import images
from harness.config import load_settings

err = Console(stderr=True)
image_app = typer.Typer(help="Docker base images: bootstrap Debian bases without a registry, list them.",
                        no_args_is_help=True)


def _log(message: str) -> None:
    err.print(message, highlight=False, markup=False, soft_wrap=True)


@image_app.command("bootstrap")
def bootstrap_cmd(
    release: list[str] = typer.Option(
        None, "--release", "-r",
        help=f"Debian release(s) to bootstrap (repeatable; default: {' '.join(images.DEFAULT_RELEASES)}). "
             f"Pythons: {', '.join(f'{r} {p}' for r, p in images.DEBIAN_RELEASES.items())}."),
    mirror: str = typer.Option(None, "--mirror", help="Debian mirror (default $HARNESS_DEBIAN_MIRROR or "
                                                      f"{images.DEFAULT_MIRROR})"),
    force: bool = typer.Option(False, "--force", help="rebuild even when the image exists"),
    as_json: bool = typer.Option(False, "--json", help="print the bases as JSON on stdout"),
) -> None:
    """debootstrap Debian (minbase + python3, venv, pip) into a folder and docker-import it."""
    settings = load_settings()
    client = images.docker_client()
    mirror = mirror or os.environ.get("HARNESS_DEBIAN_MIRROR") or images.DEFAULT_MIRROR
    made = []
    for rel in release or list(images.DEFAULT_RELEASES):
        base, created = images.bootstrap(rel, client=client, work_dir=settings.cache_dir / "bootstrap",
                                         mirror=mirror, force=force, log=_log)
        made.append(base.to_dict() | {"created": created})
    if as_json:
        typer.echo(json.dumps(made, indent=2))


@image_app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
    envs: bool = typer.Option(False, "--envs", help="list the library images instead of the bases"),
) -> None:
    """The base images the docker backend can build on, with the Python each offers."""
    settings = load_settings()
    if envs:
        built = images.env_images(images.docker_client())
        if as_json:
            typer.echo(json.dumps(built, indent=2))
            return
        table = Table("image", "library", "python", "size")
        for item in built:
            table.add_row(item["tag"], item["library"], item["python"], f"{item['size_bytes'] / 1e6:.0f} MB")
        Console().print(table)
        return
    client = images.docker_client() if settings.docker_base == "local" else None
    bases = images.available_bases(client, settings.docker_base, gpu=False)
    if as_json:
        typer.echo(json.dumps([b.to_dict() for b in bases], indent=2))
        return
    table = Table("image", "python", "origin", "release", "size")
    for b in bases:
        size = f"{b.size_bytes / 1e6:.0f} MB" if b.size_bytes else "-"
        table.add_row(b.ref, b.python, b.origin, b.release or "-", size)
    Console().print(table)
    if not bases:
        err.print("no base images: run `harness image bootstrap` (or set docker_base: registry)")


@image_app.command("prune")
def prune_cmd(
    envs: bool = typer.Option(False, "--envs", help="also remove every library image (rebuilt on demand)"),
    as_json: bool = typer.Option(False, "--json", help="print what was removed as JSON on stdout"),
) -> None:
    """Remove stopped harness containers and dangling harness images (e.g. after a killed run)."""
    removed = images.prune(images.docker_client(), envs=envs)
    if as_json:
        typer.echo(json.dumps(removed, indent=2))
    else:
        err.print(f"removed {len(removed['containers'])} container(s), {len(removed['images'])} image(s)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(image_app, name="image")
