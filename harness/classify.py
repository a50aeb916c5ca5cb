"""The one place that turns a log and an exit status into a failure class, a message and a hint.

Failure classes are contract values stored in result records (see DESIGN.md "Contract: stages"):
dependency-resolution, python-version, build-error, network, undeclared-dependency, import-error,
missing-data, cuda-unavailable, timeout, out-of-memory, crash, metric-mismatch, unstable, no-metrics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.envs.base import ProcessResult


@dataclass(frozen=True)
class Classification:
    failure_class: str
    message: str
    hint: str


# Import names whose distribution is named differently (for the undeclared-dependency hint).
DISTRIBUTION_OF = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python-headless",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "google.protobuf": "protobuf",
    "tf": "tensorflow",
    "attr": "attrs",
    "Crypto": "pycryptodome",
}

_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*)$", re.M)

_BUILD_PATTERNS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "python-version",
        (
            "requires-python",
            "Requires-Python",
            "requires a different Python",
            "No interpreter found",
            "the requested Python version",
            "is not compatible with the current Python",
            "python_requires",
        ),
        "the library needs another Python: use a host Python it supports, or --backend docker",
    ),
    (
        "build-error",
        (
            "error: command 'gcc' failed",
            "unable to execute 'gcc'",
            "fatal error:",
            "Failed building wheel",
            "Failed to build",
            "subprocess-exited-with-error",
            "CMake Error",
            "error: can't find Rust compiler",
            "Microsoft Visual C++",
            "gcc: error",
            "error: command '/usr/bin/",
            "Building wheel for",
        ),
        "a package needs compiling and failed: pin a version with a wheel for this Python, or add the "
        "compiler/headers it needs (docker backend)",
    ),
    (
        "network",
        (
            "Failed to fetch",
            "Connection refused",
            "Temporary failure in name resolution",
            "Network is unreachable",
            "Max retries exceeded",
            "certificate verify failed",
            "invalid peer certificate",
            "dns error",
        ),
        "the package index is unreachable: check the index URL, proxy and CA bundle settings",
    ),
    (
        "dependency-resolution",
        (
            "No solution found when resolving",
            "ResolutionImpossible",
            "Could not find a version that satisfies",
            "conflicting dependencies",
            "not found in the package registry",
            "we can conclude that",
            "No matching distribution found",
            "Because there is no version of",
            "Because only",
        ),
        "pin compatible versions in the manifest's environment.requirements (or loosen a constraint)",
    ),
]


def last_exception(log: str) -> str:
    """The last 'SomethingError: ...' line of a log, or its last non-empty line."""
    found = _EXCEPTION_LINE.findall(log)
    if found:
        return str(found[-1]).strip()
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def classify_build(log: str) -> Classification:
    """A failed environment build (uv/pip output)."""
    for cls, needles, hint in _BUILD_PATTERNS:
        for needle in needles:
            if needle in log:
                line = next((ln.strip() for ln in log.splitlines() if needle in ln), needle)
                return Classification(cls, line[:300], hint)
    return Classification(
        "dependency-resolution",
        last_exception(log) or "the install failed",
        "read the build log; pin compatible versions in environment.requirements",
    )


def missing_module(log: str) -> str | None:
    found = _MISSING_MODULE.findall(log)
    return found[-1] if found else None


def _is_own(module: str, own_imports: Iterable[str]) -> bool:
    roots = {imp.split(".")[0] for imp in own_imports}
    return module.split(".")[0] in roots


def undeclared(module: str) -> Classification:
    top = module.split(".")[0]
    dist = DISTRIBUTION_OF.get(module, DISTRIBUTION_OF.get(top, top))
    return Classification(
        "undeclared-dependency",
        f"the library imports '{module}', which its dependencies do not install",
        f"the library does not declare '{top}': add it to the manifest as an environment.patches entry "
        f"(requirement: {dist}, with its reason) so the fix is explicit and counted",
    )


_CANNOT_IMPORT_NAME = re.compile(r"cannot import name '([^']+)' from '([^']+)'")
_RUNTIME_PATTERNS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "missing-data",
        ("Resource \x1b[93m", "nltk_data", "Searched in:\n    - '"),
        "the library loads NLTK data when it runs: download the corpora it names into a folder and set "
        "NLTK_DATA (an offline data cache); the harness never downloads",
    ),
    (
        "network",
        (
            "Temporary failure in name resolution",
            "Network is unreachable",
            "Failed to establish a new connection",
            "urlopen error",
            "We couldn't connect to",
            "ConnectionRefusedError",
        ),
        "the code downloads data or weights at run time: declare them in the manifest's experiment.data "
        "and supply them through the data cache (run phases have no network)",
    ),
]


def _known_runtime(log: str) -> Classification | None:
    """Patterns with a precise cause and remedy, shared by the import check and experiment runs."""
    for cls, needles, hint in _RUNTIME_PATTERNS:
        if any(n in log for n in needles):
            return Classification(cls, last_exception(log) or needles[0], hint)
    found = _CANNOT_IMPORT_NAME.findall(log)
    if found:
        name, module = found[-1]
        top = module.split(".")[0]
        return Classification(
            "import-error",
            last_exception(log) or f"cannot import name '{name}' from '{module}'",
            f"the code uses '{name}', which the installed {top} no longer provides: pin an older {top} "
            "in environment.requirements (a counted patch) or use a newer release of the library",
        )
    return None


def classify_import(log: str, own_imports: Iterable[str]) -> Classification:
    """A failed import check: an undeclared dependency, the library itself missing, or another error."""
    module = missing_module(log)
    own = list(own_imports)
    if module is not None and not _is_own(module, own):
        return undeclared(module)
    if module is not None:
        return Classification(
            "import-error",
            f"the library's own module '{module}' is not installed",
            "check the install mode and the package name in the manifest",
        )
    known = _cuda(log) or _known_runtime(log)
    if known:
        return known
    return Classification(
        "import-error",
        last_exception(log) or "the import failed",
        "read the log tail; a version pin in environment.requirements often fixes it",
    )


def _cuda(log: str) -> Classification | None:
    needles = (
        "Torch not compiled with CUDA",
        "no CUDA GPUs are available",
        "Found no NVIDIA driver",
        "CUDA driver version is insufficient",
        "libcuda.so",
        "CUDA error",
        "cudaGetDevice",
        "CUDA unavailable",
        "No CUDA runtime",
    )
    for needle in needles:
        if needle in log:
            return Classification(
                "cuda-unavailable",
                last_exception(log) or needle,
                "run with --device cpu, or on a host with an NVIDIA GPU and driver",
            )
    return None


def classify_run(
    result: ProcessResult, own_imports: Iterable[str] = (), *, metrics_found: bool
) -> Classification | None:
    """A finished experiment run: None when it succeeded (exit 0 with a metrics line)."""
    log = result.output
    if result.timed_out:
        return Classification(
            "timeout",
            f"killed after {result.wall_s:.1f} s (the whole process tree)",
            "raise --timeout or the experiment's timeout_s, or shrink its settings",
        )
    if result.oom_killed or result.exit_code in (137, -9) or "MemoryError" in log:
        return Classification(
            "out-of-memory",
            "the process tree ran out of its memory budget"
            + (f" ({last_exception(log)})" if "MemoryError" in log else ""),
            "use a larger profile, or shrink the experiment's data or model",
        )
    if result.exit_code == 0 and metrics_found:
        return None
    if result.exit_code == 0:
        return Classification(
            "no-metrics",
            'exited 0 but printed no {"metrics": ...} line',
            "end the script with emit_metrics({...}) (library_manifests/smoke/_iot.py)",
        )
    known = _cuda(log) or _known_runtime(log)
    if known:
        return known
    module = missing_module(log)
    if module is not None and not _is_own(module, own_imports):
        return undeclared(module)
    return Classification(
        "crash", f"exit code {result.exit_code}: {last_exception(log)}".rstrip(": "), "read the log tail"
    )
