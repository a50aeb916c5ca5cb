"""The ``venv`` backend: one virtual environment per spec, made and filled with uv (pip as fallback).

An environment lives at ``<envs_dir>/<EnvSpec.fingerprint()>``; a ``.harness-complete`` marker is
written last, so a directory without it is a partial build and is removed before building again.
A file lock serialises concurrent builds of one spec. The interpreter is a host Python that
satisfies the manifest's specifier (``UV_PYTHON_DOWNLOADS=never``: nothing is downloaded behind the
user's back). Every install gets the constraint lines of the spec (the user's constraint files,
fingerprinted by content), the find-links, index URLs and CA bundle of the user's settings.
uv's cache hardlinks packages into environments, so big wheels are stored once across envs.
A PyPI release is installed from the very file the fetch stage downloaded (``install_targets``:
``name @ file://...`` in place of the spec's ``name==version``); the fingerprint names the release.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from harness.classify import classify_build
from harness.config import Settings
from harness.envs.base import BuiltEnv, EnvSpec, Limits, ProcessResult
from harness.errors import BuildError
from harness.filelock import locked
from harness.measure import run_measured

MARKER = ".harness-complete"
CONSTRAINTS_FILE = "harness-constraints.txt"
BUILD_TIMEOUT_S = 1800.0
PYTHON2_HINT = (
    "the library is Python 2 code: environments are Python 3 only (uv builds no Python 2 virtualenv, "
    "and the docker bases offer 3.9-3.13), so it runs only once ported to Python 3"
)
INTERPRETER_HINT = (
    "no Python on this host satisfies the library's requirement: install one "
    "(e.g. with pyenv or `uv python install`), or use --backend docker"
)


@dataclass(frozen=True)
class HostPython:
    version: Version
    path: str


def uv_path() -> str | None:
    return shutil.which("uv") or _uv_from_package()


def _uv_from_package() -> str | None:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except Exception:
        return None


def _run_text(argv: list[str], env: dict[str, str] | None = None) -> str:
    import subprocess

    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def host_pythons() -> list[HostPython]:
    """CPython interpreters found on this host (uv's discovery; PATH's python3.X as fallback)."""
    found: dict[str, HostPython] = {}
    uv = uv_path()
    if uv:
        out = _run_text(
            [uv, "python", "list", "--only-installed", "--output-format", "json"],
            env=os.environ | {"UV_PYTHON_DOWNLOADS": "never"},
        )
        with contextlib.suppress(ValueError):
            for item in json.loads(out or "[]"):
                if (
                    item.get("implementation") == "cpython"
                    and item.get("path")
                    and item.get("variant", "default") == "default"
                ):
                    if f"{os.sep}shims{os.sep}" in item["path"]:  # pyenv's shims are scripts, not Pythons
                        continue
                    real = os.path.realpath(item["path"])
                    found.setdefault(real, HostPython(Version(item["version"]), item["path"]))
    for pyenv_exe in _pyenv_pythons():
        found.setdefault(os.path.realpath(pyenv_exe), HostPython(Version(pyenv_exe.parent.parent.name), str(pyenv_exe)))
    if not found:
        for minor in range(6, 16):
            exe = shutil.which(f"python3.{minor}")
            out = _run_text([exe, "-c", "import platform; print(platform.python_version())"]) if exe else ""
            if exe and out.strip():
                found.setdefault(os.path.realpath(exe), HostPython(Version(out.strip()), exe))
    usable = [p for p in found.values() if p.version.major >= 3]  # venvs need Python 3
    return sorted(usable, key=lambda p: p.version, reverse=True)


def _pyenv_pythons() -> list[Path]:
    """CPython builds installed with pyenv ($PYENV_ROOT, default ~/.pyenv), also when not on PATH."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    for d in sorted(root.glob("*")) if root.is_dir() else []:
        exe = d / "bin" / "python3"
        if exe.is_file() and re.fullmatch(r"\d+\.\d+\.\d+", d.name):
            found.append(exe)
    return found


def choose_python(specifier: str) -> HostPython:
    """The harness's own Python when it satisfies the specifier, else the newest host Python that does."""
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        raise BuildError(
            f"invalid Python specifier '{specifier}'",
            failure_class="python-version",
            hint="environment.python must be a PEP 440 specifier such as '>=3.9,<3.12'",
        ) from None
    own = Version(".".join(map(str, sys.version_info[:3])))
    if own in spec:
        return HostPython(own, sys.executable)
    candidates = [p for p in host_pythons() if p.version in spec]
    if not candidates:
        have = ", ".join(str(v) for v in sorted({p.version for p in host_pythons()})) or "none found"
        python2_only = any(Version(f"2.7.{micro}") in spec for micro in (0, 18)) and not any(
            Version(f"3.{minor}.{micro}") in spec for minor in range(100) for micro in (0, 99)
        )
        raise BuildError(
            f"no host Python satisfies '{specifier}' (host has: {have})",
            failure_class="python-version",
            hint=PYTHON2_HINT if python2_only else INTERPRETER_HINT,
        )
    return candidates[0]


def _steps_need_pip(spec: EnvSpec) -> bool:
    return spec.install == "steps" and any(
        Path(step[0]).name.startswith("pip") or (len(step) > 2 and step[1:3] == ("-m", "pip")) for step in spec.steps
    )


def install_targets(requirements: tuple[str, ...], artifact: Path | None) -> list[str]:
    """The requirements to install, the fetched release file in place of its ``name==version`` pin.

    ``name @ file:///.../name-1.0-py3-none-any.whl`` installs exactly the file the fetch stage
    downloaded (and checksummed), so what is fetched is what is built; a file that is not the pinned
    release is a build failure, never silently installed.
    """
    if artifact is None:
        return list(requirements)
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if artifact.name.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(artifact.name)
        else:
            name, version = parse_sdist_filename(artifact.name)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise BuildError(
            f"the fetched file '{artifact.name}' is not a wheel or sdist: {exc}",
            failure_class="source-unavailable",
            hint="clear the source cache entry and fetch again",
        ) from None
    out: list[str] = []
    replaced = False
    for line in requirements:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out.append(line)
            continue
        if canonicalize_name(req.name) != name or req.url:
            out.append(line)
            continue
        if not req.specifier.contains(version, prereleases=True):
            raise BuildError(
                f"the fetched file '{artifact.name}' is version {version}, but the environment needs '{line}'",
                failure_class="source-unavailable",
                hint="clear the source cache entry and fetch again",
            )
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f" ; {req.marker}" if req.marker else ""
        out.append(f"{req.name}{extras} @ {artifact.resolve().as_uri()}{marker}")
        replaced = True
    if not replaced:  # the spec installs no such release (e.g. install: none): nothing to put in
        return list(requirements)
    return out


def install_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for uv/pip: the user's index, links and CA; never download a Python."""
    env = dict(os.environ) | settings.index_env() | {"UV_PYTHON_DOWNLOADS": "never", "PIP_NO_INPUT": "1"}
    if settings.extra_index_urls and "UV_INDEX_STRATEGY" not in os.environ:
        env["UV_INDEX_STRATEGY"] = "unsafe-best-match"  # pip's semantics for extra indexes
    for var in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX"):
        env.pop(var, None)
    return env | (extra or {})


def venv_env(location: Path, base: dict[str, str]) -> dict[str, str]:
    """``base`` with the venv activated: its bin first on PATH, VIRTUAL_ENV set."""
    bindir = str(location / "bin")
    return base | {"VIRTUAL_ENV": str(location), "PATH": bindir + os.pathsep + base.get("PATH", os.defpath)}


class VenvBackend:
    kind = "venv"

    def __init__(self, installer: str | None = None) -> None:
        self._installer = installer

    def unavailable_reason(self) -> str | None:
        return None  # python -m venv + pip is always there; uv is preferred when present

    def installer(self, settings: Settings) -> str:
        wanted = self._installer or settings.installer
        return "uv" if wanted == "uv" and uv_path() else "pip"

    # -- build -------------------------------------------------------------------------------------
    def build(
        self, spec: EnvSpec, checkout: Path | None, settings: Settings, *, artifact: Path | None = None
    ) -> BuiltEnv:
        fingerprint = spec.fingerprint()
        location = settings.envs_dir / fingerprint
        with locked(settings.envs_dir / f".{fingerprint}.lock"):
            cached = self._cached(location, fingerprint)
            if cached is not None:
                return cached
            if location.exists():
                shutil.rmtree(location)  # a partial build
            started = time.perf_counter()
            try:
                built = self._build_fresh(spec, checkout, settings, location, artifact)
            except BaseException:
                shutil.rmtree(location, ignore_errors=True)
                raise
            built = BuiltEnv(
                kind=self.kind,
                fingerprint=fingerprint,
                location=str(location),
                python=built.python,
                python_version=built.python_version,
                cached=False,
                log=built.log,
                build_s=time.perf_counter() - started,
                peak_rss_bytes=built.peak_rss_bytes,
            )
            (location / MARKER).write_text(
                json.dumps(
                    {
                        "python": built.python,
                        "python_version": built.python_version,
                        "spec": fingerprint,
                        "installer": spec.installer,
                        "build_s": built.build_s,
                    }
                )
            )
            return built

    def _cached(self, location: Path, fingerprint: str) -> BuiltEnv | None:
        marker = location / MARKER
        if not marker.is_file():
            return None
        try:
            meta = json.loads(marker.read_text())
        except ValueError:
            return None
        python = location / "bin" / "python"
        if not python.exists():
            return None
        return BuiltEnv(
            kind=self.kind,
            fingerprint=fingerprint,
            location=str(location),
            python=str(python),
            python_version=str(meta.get("python_version", "")),
            cached=True,
            log="reused cached environment",
            build_s=float(meta.get("build_s") or 0.0),  # the real install's time, measured when it was built
        )

    def _build_fresh(
        self, spec: EnvSpec, checkout: Path | None, settings: Settings, location: Path, artifact: Path | None
    ) -> BuiltEnv:
        requirements = install_targets(spec.requirements, artifact)  # fails early on a wrong file
        interpreter = choose_python(spec.python)
        installer = self.installer(settings)
        env = install_env(settings)
        steps: list[tuple[list[str], Path | None, dict[str, str]]] = []
        if installer == "uv":
            uv = uv_path() or "uv"
            seed = ["--seed"] if _steps_need_pip(spec) else []  # steps that call pip get pip in the venv
            steps.append(([uv, "venv", "--quiet", *seed, "--python", interpreter.path, str(location)], None, env))
        else:
            steps.append(([interpreter.path, "-m", "venv", str(location)], None, env))
        python = location / "bin" / "python"
        log: list[str] = []
        peak: int | None = None

        def run(argv: list[str], cwd: Path | None, run_env: dict[str, str]) -> None:
            nonlocal peak
            log.append("$ " + " ".join(argv))
            result = run_measured(argv, cwd=cwd, env=run_env, timeout_s=BUILD_TIMEOUT_S, measure_gpu=False)
            log.append(result.output.rstrip())
            if result.peak_rss_bytes:
                peak = max(peak or 0, result.peak_rss_bytes)
            if result.exit_code != 0:
                text = "\n".join(log)
                if result.timed_out:
                    raise BuildError(
                        f"the build timed out after {BUILD_TIMEOUT_S:.0f} s",
                        failure_class="timeout",
                        hint="a package is probably compiling; pin one with a wheel",
                        log_tail=text,
                    )
                c = classify_build(result.output, spec.constraints)
                raise BuildError(c.message, failure_class=c.failure_class, hint=c.hint, log_tail=text)

        run(*steps[0])
        location.mkdir(parents=True, exist_ok=True)
        constraints = location / CONSTRAINTS_FILE
        constraints.write_text("".join(line + "\n" for line in spec.constraints))
        install = self._install_cmd(installer, python, constraints, spec, settings)
        active = venv_env(location, env)
        targets: list[str] = []
        if spec.install == "package" and checkout is not None:
            targets.append(str(checkout))
        elif spec.install == "requirements":
            if checkout is None or not spec.requirements_file:
                raise BuildError(
                    "install mode 'requirements' needs a checkout and environment.requirements_file",
                    failure_class="dependency-resolution",
                    hint="fix the manifest's environment",
                )
            req = checkout / spec.requirements_file
            if not req.is_file():
                raise BuildError(
                    f"requirements file '{spec.requirements_file}' is not in the checkout",
                    failure_class="dependency-resolution",
                    hint="fix environment.requirements_file (a path inside the checkout)",
                )
            targets += ["-r", str(req)]
        elif spec.install == "steps":
            if checkout is None:
                raise BuildError(
                    "install mode 'steps' needs a git checkout",
                    failure_class="dependency-resolution",
                    hint="use install: package for PyPI sources",
                )
            for step in spec.steps:
                run(
                    list(step),
                    checkout,
                    active | {"PIP_CONSTRAINT": str(constraints), "UV_CONSTRAINT": str(constraints)},
                )
        targets += requirements
        if targets:
            run([*install, *targets], checkout, active)
        version = str(interpreter.version)  # the venv runs exactly this interpreter
        return BuiltEnv(
            kind=self.kind,
            fingerprint=spec.fingerprint(),
            location=str(location),
            python=str(python),
            python_version=version,
            cached=False,
            log="\n".join(log),
            peak_rss_bytes=peak,
        )

    @staticmethod
    def _install_cmd(installer: str, python: Path, constraints: Path, spec: EnvSpec, settings: Settings) -> list[str]:
        if installer == "uv":
            cmd = [uv_path() or "uv", "pip", "install", "--python", str(python)]
        else:
            cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        cmd += ["-c", str(constraints)]
        for link in (*spec.find_links, *settings.find_links):
            cmd += ["--find-links", link]
        if installer == "pip":
            if settings.index_url:
                cmd += ["--index-url", settings.index_url]
            for url in settings.extra_index_urls:
                cmd += ["--extra-index-url", url]
            if settings.ca_bundle:
                cmd += ["--cert", settings.ca_bundle]
        return cmd

    # -- run ---------------------------------------------------------------------------------------
    def run(
        self,
        env: BuiltEnv,
        argv: list[str],
        *,
        cwd: Path,
        env_vars: dict[str, str],
        timeout_s: float,
        limits: Limits,
        mounts: dict[Path, str] | None = None,
    ) -> ProcessResult:
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")}
        run_env = venv_env(Path(env.location), base) | env_vars
        if argv and argv[0] == "python":
            argv = [env.python, *argv[1:]]
        return run_measured(argv, cwd=cwd, env=run_env, timeout_s=timeout_s, limits=limits, measure_gpu=limits.gpu)
