"""Failure classification: logs and exit statuses to classes and hints."""

from __future__ import annotations

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
    assert run_class(result(exit_code=137)) == "out-of-memory"
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


def test_last_exception() -> None:
    assert last_exception(TRACEBACK) == "ModuleNotFoundError: No module named 'packaging'"
    assert last_exception("just a line\n\n") == "just a line"
