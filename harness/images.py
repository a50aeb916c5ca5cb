"""Docker base images: which exist, which Python each offers, how to make one without a registry.

Two origins of base images:

- ``local`` (air-gapped hosts, the default): ``harness image bootstrap`` runs ``debootstrap`` of a Debian
  release (minbase + python3, python3-venv, python3-pip) into a folder and ``docker import``s it as
  ``harness-base:debian-<release>``. Labels on the image record the release and the exact Python.
- ``registry``: the official ``python:X.Y-slim`` images (CPU) and NVIDIA's CUDA runtime images (GPU),
  pulled by the engine at build time.

``choose_base`` picks the base for a library's Python specifier (or an explicitly requested
``X.Y``); when no base fits it raises a ``python-version`` ``BuildError`` whose hint names the
releases to bootstrap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from harness.errors import BackendUnavailable, BuildError, HarnessError, UsageError

LABEL = "org.iot-attack-harness"
MANAGED_LABEL = f"{LABEL}.managed"  # on every image and container the harness creates
KIND_LABEL = f"{LABEL}.kind"  # "base" | "env" | "build" | "install" | "run"
PYTHON_LABEL = f"{LABEL}.python"
RELEASE_LABEL = f"{LABEL}.release"
BASE_REPOSITORY = "harness-base"

# Python 3 that each Debian release ships (what ``harness image bootstrap`` can offer).
DEBIAN_RELEASES: dict[str, str] = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}
DEFAULT_RELEASES = ("bookworm", "bullseye")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
# What is removed from a bootstrapped tree before import (docs, caches: not needed to run Python).
TRIM_PATHS = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
              "usr/share/info", "usr/share/locale", "var/log")

# Registry bases (used when Settings.docker_base == "registry").
REGISTRY_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
REGISTRY_CUDA = {"3.10": "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
                 "3.12": "nvidia/cuda:12.6.3-runtime-ubuntu24.04"}


@dataclass(frozen=True)
class BaseImage:
    """A base a library image can start ``FROM``."""

    ref: str  # image reference for FROM
    python: str  # "3.11.2" (bootstrapped: measured) or "3.11" (registry: by tag)
    origin: str  # "bootstrap" | "registry"
    release: str | None = None  # Debian release (bootstrapped bases)
    install_python: bool = False  # the template must apt-get python3 (CUDA bases)
    image_id: str | None = None
    size_bytes: int | None = None
    gpu: bool = False  # a CUDA base (registry); bootstrapped bases serve CPU and GPU alike

    @property
    def python_minor(self) -> str:
        v = Version(self.python)
        return f"{v.major}.{v.minor}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "python": self.python, "origin": self.origin, "release": self.release,
                "image_id": self.image_id, "size_bytes": self.size_bytes, "gpu": self.gpu}


def docker_client() -> Any:
    """A Docker SDK client for a responding engine, or ``BackendUnavailable`` with the reason."""
    try:
        import docker
    except ImportError:  # pragma: no cover - a declared dependency
        raise BackendUnavailable("the 'docker' Python package is not installed") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:
        raise BackendUnavailable(f"no Docker engine: {str(exc).splitlines()[0][:200]} "
                                 "(start one, e.g. .ci/docker-setup.sh)") from None
    return client


def base_tag(release: str) -> str:
    return f"{BASE_REPOSITORY}:debian-{release}"


def _from_image(image: Any) -> BaseImage | None:
    labels = image.labels or {}
    if labels.get(KIND_LABEL) != "base" or not labels.get(PYTHON_LABEL):
        return None
    tags = [t for t in image.tags if t.startswith(BASE_REPOSITORY + ":")]
    if not tags:
        return None
    return BaseImage(ref=tags[0], python=labels[PYTHON_LABEL], origin="bootstrap",
                     release=labels.get(RELEASE_LABEL), image_id=image.id,
                     size_bytes=int(image.attrs.get("Size") or 0) or None)


def local_bases(client: Any) -> list[BaseImage]:
    """The bootstrapped base images present in the engine, newest Python first."""
    found = [b for img in client.images.list(filters={"label": f"{KIND_LABEL}=base"})
             if (b := _from_image(img)) is not None]
    return sorted(found, key=lambda b: Version(b.python), reverse=True)


def registry_bases(gpu: bool) -> list[BaseImage]:
    """The registry bases for a device (nothing is pulled here)."""
    if gpu:
        return [BaseImage(ref=ref, python=py, origin="registry", install_python=True, gpu=True)
                for py, ref in REGISTRY_CUDA.items()]
    return [BaseImage(ref=f"python:{py}-slim", python=py, origin="registry") for py in REGISTRY_PYTHONS]


def available_bases(client: Any | None, docker_base: str, *, gpu: bool) -> list[BaseImage]:
    if docker_base == "registry":
        return registry_bases(gpu)
    if docker_base != "local":
        raise UsageError(f"docker_base: must be 'local' or 'registry', not '{docker_base}'")
    return local_bases(client) if client is not None else []


def _spec(python_spec: str) -> SpecifierSet:
    try:
        return SpecifierSet(python_spec or "")
    except InvalidSpecifier:
        raise BuildError(f"invalid Python specifier '{python_spec}'", failure_class="python-version",
                         hint="fix environment.python in the manifest (a PEP 440 specifier)") from None


def fits(python_spec: str, python: str) -> bool:
    """Whether a Python version (e.g. "3.11.2" or "3.11") satisfies a manifest's specifier."""
    v = Version(python)
    full = python if len(v.release) >= 3 else f"{python}.0"
    return _spec(python_spec).contains(full, prereleases=True)


def releases_for(python_spec: str) -> list[str]:
    """Debian releases whose Python satisfies the specifier (what to bootstrap)."""
    return [r for r, py in DEBIAN_RELEASES.items() if fits(python_spec, py)]


def python_matrix(python_spec: str, bases: Iterable[BaseImage]) -> list[str]:
    """The distinct X.Y versions, among the available bases, that a library declares it supports."""
    return sorted({b.python_minor for b in bases if fits(python_spec, b.python)}, key=Version)


def choose_base(python_spec: str, bases: list[BaseImage], *, requested: str | None = None,
                docker_base: str = "local") -> BaseImage:
    """The base to build on: the requested X.Y, else the host's X.Y, else the newest that fits.

    The host's version comes first because local wheel folders (find-links) are usually built for it.
    """
    fitting = [b for b in bases if fits(python_spec, b.python)]
    if requested:
        fitting = [b for b in fitting if b.python_minor == requested]
    if fitting:
        host = f"{sys.version_info.major}.{sys.version_info.minor}"
        same = [b for b in fitting if b.python_minor == host]
        return (same or sorted(fitting, key=lambda b: Version(b.python), reverse=True))[0]
    offered = ", ".join(sorted({b.python for b in bases}, key=Version)) or "none"
    wanted = f"Python {requested} (requested), library needs {python_spec!r}" if requested else \
        f"Python {python_spec!r}"
    if requested and not fits(python_spec, requested):
        hint = f"the library declares Python {python_spec!r}; request a version it supports"
    elif docker_base == "registry":
        hint = "no python:X.Y-slim tag fits; use a local base (harness image bootstrap) or fix the manifest"
    else:
        target = requested or python_spec
        releases = [r for r in releases_for(python_spec)
                    if not requested or DEBIAN_RELEASES[r] == requested]
        hint = ("bootstrap a base with a fitting Python: "
                + " or ".join(f"harness image bootstrap --release {r} (Python {DEBIAN_RELEASES[r]})"
                              for r in releases)
                if releases else
                f"no Debian release here ships Python {target}; set docker_base: registry "
                "(python:X.Y-slim) where a registry is reachable")
    raise BuildError(f"no docker base image offers {wanted}; available: {offered}",
                     failure_class="python-version", hint=hint)


# ---------------------------------------------------------------- bootstrap (debootstrap + import)

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _unmount_under(root: Path) -> None:
    """Unmount anything a failed debootstrap left mounted inside its target (proc, sys, ...)."""
    prefix = str(root.resolve()) + "/"
    with contextlib.suppress(OSError):
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mnt in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)


def _run_logged(argv: list[str], log: Log, logfile: Path) -> int:
    with logfile.open("a") as fh:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            if line.startswith(("E:", "W:", "I: Resolving", "I: Installing", "I: Base system")):
                log(line.rstrip())
        return proc.wait()


def image_exists(client: Any, ref: str) -> bool:
    import docker

    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def bootstrap(release: str, *, client: Any, work_dir: Path, mirror: str = DEFAULT_MIRROR,
              force: bool = False, log: Log = _stderr) -> tuple[BaseImage, bool]:
    """Build ``harness-base:debian-<release>``; returns (base, created). Skips an existing image."""
    if release not in DEBIAN_RELEASES:
        known = ", ".join(DEBIAN_RELEASES)
        raise UsageError(f"--release: unknown Debian release '{release}'; known: {known}")
    tag = base_tag(release)
    if not force and image_exists(client, tag):
        existing = _from_image(client.images.get(tag))
        if existing is not None:
            log(f"{tag}: exists (Python {existing.python}), skipped")
            return existing, False
    if os.geteuid() != 0:
        raise HarnessError("harness image bootstrap needs root (debootstrap makes a root filesystem)")
    if shutil.which("debootstrap") is None:
        raise HarnessError("debootstrap is not installed (apt-get install debootstrap)")
    work_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"bootstrap-{release}-", dir=work_dir) as tmp:
        root = Path(tmp) / "rootfs"
        logfile = Path(tmp) / "debootstrap.log"
        try:
            log(f"{tag}: debootstrap {release} from {mirror} (minbase + {', '.join(BASE_PACKAGES)})")
            argv = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                    release, str(root), mirror]
            if _run_logged(argv, log, logfile) != 0:
                tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-20:])
                raise HarnessError(f"debootstrap {release} failed:\n{tail}")
            version = subprocess.run(
                ["chroot", str(root), "python3", "-c", "import platform; print(platform.python_version())"],
                capture_output=True, text=True, check=True).stdout.strip()
            _unmount_under(root)
            for rel in TRIM_PATHS:
                target = root / rel
                if target.is_dir():
                    for child in target.iterdir():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child, ignore_errors=True)
                        else:
                            child.unlink(missing_ok=True)
            tarball = Path(tmp) / "rootfs.tar"
            log(f"{tag}: importing (Python {version})")
            subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(tarball), "."],
                           check=True, capture_output=True)
            changes = [
                f'LABEL {MANAGED_LABEL}="1" {KIND_LABEL}="base" {PYTHON_LABEL}="{version}" '
                f'{RELEASE_LABEL}="{release}"',
                "ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["python3"]',
            ]
            client.api.import_image(src=str(tarball), repository=BASE_REPOSITORY, tag=f"debian-{release}",
                                    changes=changes)
        finally:
            _unmount_under(root)
    base = _from_image(client.images.get(tag))
    if base is None:  # pragma: no cover - the labels were just written
        raise HarnessError(f"{tag}: imported image lacks the harness labels")
    size = (base.size_bytes or 0) / 1e6
    log(f"{tag}: done in {time.monotonic() - started:.0f} s, {size:.0f} MB, Python {base.python}")
    return base, True


# ---------------------------------------------------------------- library images and cleanup

def env_images(client: Any) -> list[dict[str, Any]]:
    """The library images the docker backend built (tag, library, Python, size)."""
    out = []
    for image in client.images.list(filters={"label": f"{KIND_LABEL}=env"}):
        labels = image.labels or {}
        for tag in image.tags:
            out.append({"tag": tag, "library": labels.get(f"{LABEL}.library", ""),
                        "python": labels.get(PYTHON_LABEL, ""), "created": image.attrs.get("Created", ""),
                        "size_bytes": int(image.attrs.get("Size") or 0)})
    return sorted(out, key=lambda i: i["tag"])


def prune(client: Any, *, envs: bool = False) -> dict[str, list[str]]:
    """Remove what a killed harness may have left: stopped harness containers, dangling harness images;
    with ``envs`` also every library image (they are rebuilt on demand). Running containers are kept."""
    removed: dict[str, list[str]] = {"containers": [], "images": []}
    for container in client.containers.list(all=True, filters={"label": MANAGED_LABEL}):
        if container.status in ("created", "exited", "dead"):
            container.remove(force=True, v=True)
            removed["containers"].append(container.short_id)
    if envs:
        for item in env_images(client):
            with contextlib.suppress(Exception):
                client.images.remove(item["tag"])
                removed["images"].append(item["tag"])
    result = client.images.prune(filters={"dangling": True, "label": MANAGED_LABEL})
    deleted = result.get("ImagesDeleted") or []
    removed["images"] += [str(d.get("Deleted") or d.get("Untagged")) for d in deleted]
    return removed
