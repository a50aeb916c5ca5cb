"""Failure classification: logs and exit statuses to classes and hints."""

from __future__ import annotations

import pytest

from harness.classify import classify_build, classify_import, classify_run, last_exception
from harness.envs.base import ProcessResult

TRACEBACK = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/venv/lib/python3.11/site-packages/art/__init__.py", line 8, in <module>
    from packaging.version import parse
ModuleNotFoundError: No module named 'packaging'
"""


def result(**kw: object) -> ProcessResult:
    base: dict[str, object] = {"exit_code": 1, "wall_s": 1.0, "cpu_s": 0.5, "peak_rss_bytes": 1}
    return ProcessResult(**(base | kw))  # type: ignore[arg-type]


def test_undeclared_dependency_names_the_module_and_the_fix() -> None:
    c = classify_import(TRACEBACK, ["art", "art.attacks"])
    assert c.failure_class == "undeclared-dependency"
    assert "packaging" in c.message
    assert "environment.patches" in c.hint and "packaging" in c.hint


def test_missing_own_module_is_an_import_error() -> None:
    c = classify_import("ModuleNotFoundError: No module named 'art.attacks'", ["art"])
    assert c.failure_class == "import-error"


def test_distribution_name_in_hint() -> None:
    c = classify_import("ModuleNotFoundError: No module named 'sklearn.linear_model'", ["art"])
    assert c.failure_class == "undeclared-dependency"
    assert "scikit-learn" in c.hint


def test_other_import_errors() -> None:
    c = classify_import("ImportError: cannot import name 'foo' from 'bar'", ["bar"])
    assert c.failure_class == "import-error"
    assert c.message == "ImportError: cannot import name 'foo' from 'bar'"
    assert "the installed bar no longer provides" in c.hint and "'foo'" in c.hint


def test_nltk_data_and_network_have_precise_classes() -> None:
    nltk_log = (
        "LookupError: \n**********\n  Resource \x1b[93mstopwords\x1b[0m not found.\n"
        "  Searched in:\n    - '/home/u/nltk_data'\n"
    )
    c = classify_import(nltk_log, ["textattack"])
    assert c.failure_class == "missing-data"
    assert "NLTK_DATA" in c.hint
    net = "urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>"
    c = classify_import(net, ["lib"])
    assert c.failure_class == "network"
    assert "experiment.data" in c.hint


def test_build_classes() -> None:
    uv_conflict = (
        "  x No solution found when resolving dependencies:\n  Because there is no version of "
        "foo==9.9 and you require foo==9.9, we can conclude that your requirements are unsatisfiable."
    )
    assert classify_build(uv_conflict).failure_class == "dependency-resolution"
    pip_missing = (
        "ERROR: Could not find a version that satisfies the requirement foo==9.9 (from versions: 1.0)"
    )
    assert classify_build(pip_missing).failure_class == "dependency-resolution"
    gcc = "building 'x' extension\nerror: command 'gcc' failed: No such file or directory"
    assert classify_build(gcc).failure_class == "build-error"
    py = "ERROR: Package 'foo' requires a different Python: 3.11.7 not in '<3.8'"
    assert classify_build(py).failure_class == "python-version"
    net = "error: Failed to fetch: `https://pypi.org/simple/foo/`\n  Caused by: dns error"
    assert classify_build(net).failure_class == "network"


def run_class(r: ProcessResult, *, metrics_found: bool = False) -> str | None:
    c = classify_run(r, ["art"], metrics_found=metrics_found)
    return None if c is None else c.failure_class


def test_run_classes() -> None:
    assert run_class(result(exit_code=-9, timed_out=True)) == "timeout"
    assert run_class(result(exit_code=-9, oom_killed=True)) == "out-of-memory"
    assert run_class(result(exit_code=137)) == "crash"  # SIGKILL alone is no proof of memory
    assert run_class(result(exit_code=137, oom_killed=True)) == "out-of-memory"  # the cgroup says so
    assert run_class(result(stderr="Traceback...\nMemoryError")) == "out-of-memory"
    assert (
        run_class(result(stderr="AssertionError: Torch not compiled with CUDA enabled")) == "cuda-unavailable"
    )
    assert run_class(result(exit_code=0)) == "no-metrics"
    assert run_class(result(exit_code=0), metrics_found=True) is None
    assert run_class(result(exit_code=0, timed_out=True), metrics_found=True) == "timeout"
    crash = classify_run(result(exit_code=3, stderr="ValueError: bad shape"), metrics_found=False)
    assert crash is not None and crash.failure_class == "crash" and "ValueError: bad shape" in crash.message
    und = classify_run(result(stderr=TRACEBACK), ["art"], metrics_found=False)
    assert und is not None and und.failure_class == "undeclared-dependency"


@pytest.mark.parametrize("code", [137, -9])
def test_sigkill_without_the_watchdog_is_a_crash(code: int) -> None:
    c = classify_run(result(exit_code=code, stderr="step 1\nstep 2"), metrics_found=False)
    assert c is not None and c.failure_class == "crash"
    assert "killed by SIGKILL" in c.message
    oom = classify_run(result(exit_code=-9, oom_killed=True), metrics_found=False)
    assert oom is not None and oom.failure_class == "out-of-memory"


def test_memory_error_counts_only_as_the_last_exception() -> None:
    mentioned = "handled a MemoryError earlier, retrying smaller\nTraceback...\nValueError: bad shape"
    c = classify_run(result(stderr=mentioned), metrics_found=False)
    assert c is not None and c.failure_class == "crash" and "ValueError: bad shape" in c.message
    numpy = "Traceback...\nnumpy.core._exceptions._ArrayMemoryError: Unable to allocate 8.00 GiB"
    c = classify_run(result(stderr=numpy), metrics_found=False)
    assert c is not None and c.failure_class == "out-of-memory" and "Unable to allocate" in c.message
    # a run that succeeded and merely printed the word is a success
    assert classify_run(result(exit_code=0, stdout="no MemoryError today"), metrics_found=True) is None


def test_last_exception() -> None:
    assert last_exception(TRACEBACK) == "ModuleNotFoundError: No module named 'packaging'"
    assert last_exception("just a line\n\n") == "just a line"


def test_build_conflict_with_a_host_constraint_is_named() -> None:
    log = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because you require torch==1.2.0 and torch==2.14.1, we can conclude that your "
        "requirements are unsatisfiable.\n"
    )
    c = classify_build(log, ("torch==2.14.1", "torchvision==0.29.1"))
    assert c.failure_class == "dependency-resolution"
    assert c.message.startswith("the library requires torch==1.2.0, which conflicts with torch==2.14.1 (this host's")
    assert "port the library" in c.hint
    # the same conflict without a host constraint in play is an ordinary conflict
    plain = classify_build(log)
    assert plain.message == "the library requires torch==1.2.0, which conflicts with torch==2.14.1"
    dep = classify_build(
        "  cause: Because privacyraven==0.1.0 depends on torch>=1.8.0,<2.0.0 and torch==2.13.0, we can conclude "
        "that privacyraven==0.1.0 cannot be used.",
        ("torch==2.13.0",),
    )
    assert dep.message.startswith(
        "privacyraven==0.1.0 requires torch>=1.8.0,<2.0.0, which conflicts with torch==2.13.0"
    )


def test_build_specific_causes() -> None:
    no_wheel = classify_build(
        "  cause: Because torch==2.14.1 has no wheels with a matching Python implementation tag (e.g., `cp39`) and "
        "you require torch==2.14.1, we can conclude that your requirements are unsatisfiable.",
        ("torch==2.14.1",),
    )
    assert no_wheel.message.startswith(
        "torch==2.14.1 has no wheel for this environment's Python (cp39) (this host"
    )
    conda = classify_build(
        "error: Unexpected '_', expected '-c', '-e', '-r' or the start of a requirement: requirements.txt:4:1"
    )
    assert conda.failure_class == "dependency-resolution"
    assert conda.message == "requirements.txt is not a pip requirements file"
    git = classify_build("fatal: unable to access 'https://github.com/o/r/': Could not resolve host: github.com")
    assert git.failure_class == "network"
    assert git.message == "the install needs github.com, which cannot be reached from here"


def test_runtime_causes_with_precise_remedies() -> None:
    proto = classify_import("TypeError: Descriptors cannot not be created directly.", ["tensorflow"])
    assert proto.failure_class == "import-error" and "protobuf<=3.20.3" in proto.hint
    cuda = classify_import("ImportError: libcusolver.so.8.0: cannot open shared object file: No such file", ["tf"])
    assert cuda.failure_class == "cuda-unavailable" and "libcusolver.so.8.0" in cuda.hint
    missing = classify_import("FileNotFoundError: [Errno 2] No such file or directory: './MNIST/imgs'", ["x"])
    assert missing.failure_class == "missing-data" and "'./MNIST/imgs'" in missing.hint


def test_cuda_warnings_logged_before_the_real_error_do_not_decide_the_class() -> None:
    log = (
        "W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library "
        "'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file\n"
        + "Traceback (most recent call last):\n  File \"x.py\", line 1\n" * 5
        + "ImportError: This version of TensorFlow Probability requires TensorFlow version >= 2.13\n"
    )
    c = classify_import(log, ["tensorflow_privacy"])
    assert c.failure_class == "import-error"
    assert c.message == "ImportError: This version of TensorFlow Probability requires TensorFlow version >= 2.13"
    nltk = classify_import("LookupError: \n  Resource \x1b[93mstopwords\x1b[0m not found.\n  nltk_data", ["t"])
    assert nltk.message == "NLTK resource 'stopwords' not found"
