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

# A last exception that is a MemoryError (numpy's _ArrayMemoryError and the like included).
_MEMORY_ERROR = re.compile(r"^(?:[\w.]*\.)?_?\w*MemoryError\b")

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


_CONFLICT = re.compile(r"Because (?:you require|(\S+) depends on) (.+?) and (?:you require )?(\S+), we can conclude")
_NO_WHEEL = re.compile(
    r"Because (\S+) has no wheels with a matching Python (?:implementation|ABI) tag \(e\.g\., `(\w+)`\)"
)
_NOT_PIP_FILE = re.compile(r"Unexpected '.*?', expected '-c', '-e', '-r' or the start of a requirement: ([^:\s]+)")
_UNREACHABLE = re.compile(r"(?:Could not resolve host: |Failed to fetch: )(\S+)")
_HOST_PINS = ("this host's constraints (HARNESS_CONSTRAINTS / constraint_groups) pin it so that only a framework build "
              "available here is installed")


def _project_of(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ @]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _specific_build(log: str, constraints: tuple[str, ...]) -> Classification | None:
    """uv/pip messages precise enough to name the cause (and whether a host constraint is part of it)."""
    pinned = {_project_of(c): c for c in constraints}
    m = _CONFLICT.search(log)
    if m:
        who, wanted, other = m.group(1), m.group(2), m.group(3)
        subject = f"{who} requires {wanted}" if who else f"the library requires {wanted}"
        if pinned.get(_project_of(other)) == other:
            return Classification(
                "dependency-resolution",
                f"{subject}, which conflicts with {other} ({_HOST_PINS})",
                f"{wanted} is an old release of a framework this host pins to {other}: port the library to a "
                f"current release, or evaluate it on a host whose constraints allow {wanted} (and a Python "
                "that has wheels for it)",
            )
        return Classification(
            "dependency-resolution",
            f"{subject}, which conflicts with {other}",
            "pin compatible versions in the manifest's environment.requirements",
        )
    m = _NO_WHEEL.search(log)
    if m:
        release, tag = m.group(1), m.group(2)
        host = f" ({_HOST_PINS})" if pinned.get(_project_of(release)) == release else ""
        return Classification(
            "dependency-resolution",
            f"{release} has no wheel for this environment's Python ({tag}){host}",
            f"the library's Python requirement selects {tag}, for which {release} has no wheel: evaluate it with "
            "a Python that release supports, or with constraints that allow a release built for it",
        )
    m = _NOT_PIP_FILE.search(log)
    if m:
        return Classification(
            "dependency-resolution",
            f"{m.group(1)} is not a pip requirements file",
            "it is probably a conda export: set the manifest's install to none and list pip requirements in "
            "environment.requirements",
        )
    m = _UNREACHABLE.search(log)
    if m:
        return Classification(
            "network",
            f"the install needs {m.group(1)}, which cannot be reached from here",
            "the library's requirements name a host outside the package index (a git URL or an extra index): "
            "mirror that dependency and point the harness's index, find-links or git mirror settings at it",
        )
    return None


def classify_build(log: str, constraints: tuple[str, ...] = ()) -> Classification:
    """A failed environment build (uv/pip output); ``constraints`` are the host constraint lines in force."""
    specific = _specific_build(log, constraints)
    if specific is not None:
        return specific
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


_CUDA_LIB = re.compile(r"(lib(?:cu\w+|cudnn|nvrtc)\.so[\d.]*): cannot open shared object file")
_NO_FILE = re.compile(r"FileNotFoundError: \[Errno 2\] No such file or directory: '([^']+)'")


def _ending(log: str, lines: int = 6) -> str:
    """The failure itself: the last exception line and the last few lines (not warnings logged earlier)."""
    tail = "\n".join(log.rstrip().splitlines()[-lines:])
    return last_exception(log) + "\n" + tail


_NLTK_RESOURCE = re.compile(r"Resource (?:\x1b\[\d+m)?'?([\w/.-]+?)'?(?:\x1b\[0m)? not found")


def _known_runtime(log: str) -> Classification | None:
    """Patterns with a precise cause and remedy, shared by the import check and experiment runs."""
    if "Descriptors cannot not be created directly" in log:
        return Classification(
            "import-error",
            last_exception(log),
            "its generated protobuf code predates the installed protobuf: pin protobuf<=3.20.3 as a counted "
            "patch (or set PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python)",
        )
    m = _CUDA_LIB.search(_ending(log))
    if m:
        return Classification(
            "cuda-unavailable",
            last_exception(log) or m.group(1),
            f"the installed framework is a GPU build that needs the CUDA library {m.group(1)}: install its CPU "
            "build, or run on a GPU host with that CUDA version",
        )
    m = _NO_FILE.search(log)
    if m:
        return Classification(
            "missing-data",
            last_exception(log),
            f"the code expects '{m.group(1)}', which is neither in the checkout nor declared as data: declare it "
            "in the experiment's data (supplied through HARNESS_DATA_CACHE) or fix the path",
        )
    for cls, needles, hint in _RUNTIME_PATTERNS:
        if any(n in log for n in needles):
            resource = _NLTK_RESOURCE.search(log)
            message = f"NLTK resource '{resource.group(1)}' not found" if resource else last_exception(log)
            return Classification(cls, message or needles[0], hint)
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
    ending = _ending(log)  # frameworks log CUDA warnings at every import: only the error itself counts
    for needle in needles:
        if needle in ending:
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
    last = last_exception(log)
    memory_error = result.exit_code != 0 and _MEMORY_ERROR.match(last) is not None
    if result.oom_killed or memory_error:  # the watchdog / cgroup says so, or it died of a MemoryError
        return Classification(
            "out-of-memory",
            "the process tree ran out of its memory budget" + (f" ({last})" if memory_error else ""),
            "use a larger profile, or shrink the experiment's data or model",
        )
    if result.exit_code == 0 and metrics_found:
        return None
    if result.exit_code in (137, -9):  # SIGKILL from outside the harness: no evidence it was memory
        return Classification(
            "crash",
            f"exit code {result.exit_code}: killed by SIGKILL (not by the harness's memory watchdog)",
            "something outside the harness killed it (the kernel's OOM killer, a job scheduler, a user); "
            "read the log tail and the host's kernel log",
        )
    if result.exit_code == 0:
        return Classification(
            "no-metrics",
            'exited 0 but printed no {"metrics": ...} line',
            "a smoke script ends with emit_metrics({...}) (library_manifests/smoke/_iot.py); a repository's own "
            "entry point that prints its results as text needs a smoke script that calls its API and emits them",
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
