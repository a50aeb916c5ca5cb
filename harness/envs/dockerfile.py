"""Pure planning of a library's Docker image: (EnvSpec, base image) -> Dockerfile, install script, tag.

Nothing here talks to a Docker engine: the same plan is what ``--dry-run`` prints and what
``harness.envs.docker`` builds. Templates live in ``containers/`` (jinja2): ``Dockerfile.j2``
includes ``base.Dockerfile.j2`` (FROM, a venv, an unprivileged user) and ``assemble.Dockerfile.j2``
(the harness's install files and the library's checkout); ``install.sh.j2`` is the install phase.

CPU images never pull a CUDA build of torch: a constraint ``torch==V`` (no local label) becomes
``torch==V+cpu``, which only a CPU wheel (find-links) satisfies; where none fits the Python of the
base, the build fails as ``dependency-resolution`` instead of downloading gigabytes of CUDA.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from harness.envs.base import EnvSpec
from harness.images import BaseImage

VENV = "/opt/harness-env"  # the library's virtual environment
ETC = "/opt/harness"  # install script, constraints
SRC = "/opt/harness-src"  # the library's checkout (git sources)
WORK = "/work"  # default working directory
USER_NAME = "harness"
USER_UID = 10001
IMAGE_PATHS = (VENV, ETC, SRC)  # paths that live in the image, never translated to host mounts
ENV_REPOSITORY = "harness-env"
CONSTRAINTS_NAME = "constraints.txt"
INSTALL_NAME = "install.sh"
RUNNER_NAME = "run.sh"  # the in-container runner (containers/run.sh), PID 1 of run-phase containers
RUNNER = f"{ETC}/{RUNNER_NAME}"

_TORCH_PIN = re.compile(r"^\s*(torch)\s*==\s*([0-9][0-9A-Za-z.]*)\s*(;.*)?$")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_REPO_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class ImagePlan:
    """What to build for one spec on one base: the texts of the build context and the image tag."""

    library: str
    fingerprint: str  # the EnvSpec fingerprint
    key: str  # hash of everything that decides the image (spec, base image, rendered files)
    tag: str  # harness-env/<library>:<source>-py<X.Y>-<key>
    base: BaseImage
    has_checkout: bool
    dockerfile: str
    files: dict[str, str] = field(default_factory=dict)  # context path -> text (under harness/)

    @property
    def install_script(self) -> str:
        return self.files[f"harness/{INSTALL_NAME}"]


def image_constraints(lines: tuple[str, ...] | list[str], device: str) -> list[str]:
    """The spec's constraint lines, with torch pinned to its CPU build for CPU images."""
    out = []
    for line in lines:
        m = _TORCH_PIN.match(line)
        if device == "cpu" and m and "+" not in m.group(2):
            line = f"{m.group(1)}=={m.group(2)}+cpu{(' ' + m.group(3)) if m.group(3) else ''}"
        out.append(line)
    return out


def install_commands(spec: EnvSpec, has_checkout: bool) -> list[list[str]]:
    """The install phase as argv lists, run in the checkout (or the harness folder) with the venv first."""
    pip = ["python", "-m", "pip", "install"]
    reqs = list(spec.requirements)
    if spec.install == "package":
        targets = ([SRC] if has_checkout else []) + reqs
        return [pip + targets] if targets else []
    if spec.install == "requirements":
        if not spec.requirements_file:
            return [pip + reqs] if reqs else []
        return [[*pip, "-r", f"{SRC}/{spec.requirements_file}", *reqs]]
    if spec.install == "steps":
        return [list(step) for step in spec.steps] + ([pip + reqs] if reqs else [])
    return [pip + reqs] if reqs else []  # "none": only the harness's extra requirements


def source_label(spec: EnvSpec) -> str:
    """A short, tag-safe name of the library's version: the commit, else the pinned version."""
    if spec.source_commit:
        return spec.source_commit[:12]
    for req in spec.requirements:
        name, sep, version = req.partition("==")
        if sep and _REPO_UNSAFE.sub("-", name.strip().lower()).strip("-") in spec.library:
            return _TAG_UNSAFE.sub("_", version.strip())[:40]
    for req in spec.requirements:
        _, sep, version = req.partition("==")
        if sep:
            return _TAG_UNSAFE.sub("_", version.strip())[:40]
    return "latest"


def _environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters["shquote"] = shlex.quote
    return env


def plan_image(spec: EnvSpec, base: BaseImage, *, has_checkout: bool, templates_dir: Path) -> ImagePlan:
    """Render the Dockerfile and install script for a spec on a base (pure: no engine, no files written)."""
    jenv = _environment(templates_dir)
    context = {
        "library": spec.library,
        "fingerprint": spec.fingerprint(),
        "source": f"commit {spec.source_commit}" if spec.source_commit else "an index (pinned at install)",
        "base": base,
        "device": spec.device,
        "has_checkout": has_checkout,
        "paths": {"venv": VENV, "etc": ETC, "src": SRC, "work": WORK},
        "user": {"name": USER_NAME, "uid": USER_UID},
        "workdir": SRC if has_checkout else ETC,
        "commands": [shlex.join(c) for c in install_commands(spec, has_checkout)],
    }
    dockerfile = jenv.get_template("Dockerfile.j2").render(context)
    constraints = "".join(line + "\n" for line in image_constraints(spec.constraints, spec.device))
    files = {
        f"harness/{INSTALL_NAME}": jenv.get_template("install.sh.j2").render(context),
        f"harness/{CONSTRAINTS_NAME}": constraints,
        f"harness/{RUNNER_NAME}": (templates_dir / RUNNER_NAME).read_text(),
    }
    digest = hashlib.sha256()
    for part in (spec.fingerprint(), base.ref, base.image_id or "", dockerfile, *sorted(files.items())):
        digest.update(str(part).encode() + b"\0")
    key = digest.hexdigest()[:12]
    repo = _REPO_UNSAFE.sub("-", spec.library.lower()).strip("-._") or "library"
    tag = f"{ENV_REPOSITORY}/{repo}:{source_label(spec)}-py{base.python_minor}-{key}"
    return ImagePlan(library=spec.library, fingerprint=spec.fingerprint(), key=key, tag=tag, base=base,
                     has_checkout=has_checkout, dockerfile=dockerfile, files=files)


def render_dockerfile(spec: EnvSpec, base: BaseImage, *, has_checkout: bool, templates_dir: Path) -> str:
    """The Dockerfile text for a spec on a base."""
    return plan_image(spec, base, has_checkout=has_checkout, templates_dir=templates_dir).dockerfile


def dry_run_text(plan: ImagePlan) -> str:
    """What ``--dry-run`` prints: the image tag, the Dockerfile, the install phase, constraints, runner."""
    return (f"# image: {plan.tag}\n{plan.dockerfile}\n"
            f"# ---- harness/{INSTALL_NAME} (copied to {ETC}/{INSTALL_NAME}) ----\n{plan.install_script}"
            f"# ---- harness/{CONSTRAINTS_NAME} ----\n{plan.files[f'harness/{CONSTRAINTS_NAME}']}"
            f"# ---- harness/{RUNNER_NAME} (PID 1 of the run phase) ----\n"
            f"{plan.files[f'harness/{RUNNER_NAME}']}")
