"""Running a library's import check and its experiments inside a built environment.

The smoke contract (DESIGN.md, library_manifests/smoke/_iot.py): a script runs in the library's
environment with ``HARNESS_SEED``, ``HARNESS_DATA_DIR``, ``HARNESS_DATA_CACHE``, ``HARNESS_DEVICE``
and ``HARNESS_WORK_DIR`` set, the smoke helpers and the manifest's ``environment.python_path`` on
``PYTHONPATH``, and ends by printing ``{"metrics": {...}}``; the last such stdout line is read.
Scripts are paths relative to ``library_manifests/``; ``command`` experiments run in the checkout.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.classify import Classification, classify_import, classify_run
from harness.config import Settings
from harness.envs.base import Backend, BuiltEnv, Limits, ProcessResult
from harness.errors import ExperimentError, MissingData
from harness.manifest import Experiment, Manifest
from harness.records import ExperimentResult, Repeat

IMPORT_TIMEOUT_S = 600.0
HELPERS_DIR = ".harness-pythonpath"
# Runs a script as __main__ without putting its folder first on sys.path (``python -P`` is 3.11+).
RUN_SCRIPT = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
BAD_METRICS_HINT = ("emit_metrics({name: number, ...}) with at least one finite number per metric "
                    "(library_manifests/smoke/_iot.py); a NaN or an infinity is a failed run, not a result")
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


@dataclass(frozen=True)
class RunContext:
    """Everything an experiment run needs besides the experiment itself."""

    backend: Backend
    env: BuiltEnv
    manifest: Manifest
    settings: Settings
    checkout: Path | None
    device: str
    seed: int
    limits: Limits
    work_dir: Path


def helper_path(ctx: RunContext) -> Path:
    """A folder in the work dir holding only the shared smoke helpers (``smoke/_*.py``).

    The smoke folder itself is never put on ``PYTHONPATH``: its ``<slug>.py`` scripts would shadow a
    library whose import name equals its slug.
    """
    target = ctx.work_dir / HELPERS_DIR
    if not target.is_dir():
        target.mkdir(parents=True)
        for helper in sorted((ctx.settings.manifests_dir / "smoke").glob("_*.py")):
            shutil.copy2(helper, target / helper.name)
    return target


def experiment_env(ctx: RunContext) -> dict[str, str]:
    """The variables every import check and experiment run gets (the smoke contract)."""
    paths = [str(helper_path(ctx))]
    if ctx.checkout is not None:
        paths += [str((ctx.checkout / p).resolve()) for p in ctx.manifest.environment.python_path]
    env = {
        "HARNESS_SEED": str(ctx.seed),
        "HARNESS_DATA_DIR": str(ctx.settings.data_dir),
        "HARNESS_DATA_CACHE": str(ctx.settings.data_cache or ""),
        "HARNESS_DEVICE": ctx.device,
        "HARNESS_WORK_DIR": str(ctx.work_dir),
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONHASHSEED": str(ctx.seed),
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
    }
    if ctx.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU run stays on the CPU even on a GPU host
    if ctx.limits.cpus:
        env |= dict.fromkeys(_THREAD_VARS, str(max(1, round(ctx.limits.cpus))))
    return env


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_data(experiment: Experiment, settings: Settings) -> None:
    """Every declared data file is in the data cache with the right checksum, else ``MissingData``."""
    for item in experiment.data:
        checksum = str(getattr(item, "checksum", None) or "sha256:" + str(getattr(item, "sha256", "")))
        algorithm, _, expected = checksum.partition(":")
        if settings.data_cache is None:
            raise MissingData(
                f"'{item.name}' is declared but no data cache is set (HARNESS_DATA_CACHE)",
                hint=f"download {item.url} into a folder, put it at '{item.path}' there, "
                "and set HARNESS_DATA_CACHE to that folder",
            )
        path = settings.data_cache / item.path
        if not path.is_file():
            raise MissingData(
                f"'{item.name}' is not in the data cache at '{item.path}'",
                hint=f"download {item.url} to <data cache>/{item.path}",
            )
        actual = _digest(path, algorithm)
        if actual != expected:
            raise MissingData(
                f"'{item.name}' at '{item.path}' has {algorithm} {actual}, expected {expected}",
                hint=f"the file is corrupt or another version: download {item.url} again",
            )


def parse_metrics(stdout: str) -> tuple[dict[str, float] | None, str | None]:
    """The numbers of the last ``{"metrics": {...}}`` line on stdout (None when there is none), and
    what is wrong with that line, if anything: an empty ``metrics`` object, or a value that is not a
    finite number (NaN, Infinity, a string, a boolean); only the finite numbers are returned."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not (line.startswith("{") and '"metrics"' in line):
            continue
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            continue
        metrics = data.get("metrics") if isinstance(data, dict) else None
        if not isinstance(metrics, dict):
            continue
        good: dict[str, float] = {}
        bad: list[str] = []
        for k, v in metrics.items():
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                good[str(k)] = float(v)
            else:
                bad.append(f"{str(k)[:60]}={json.dumps(v)[:40]}")
        if bad:
            return good, f"metric values that are not finite numbers: {', '.join(bad[:10])}"
        if not good:
            return good, 'the {"metrics": ...} line names no metric'
        return good, None
    return None, None


def experiment_argv(experiment: Experiment, ctx: RunContext) -> tuple[list[str], Path]:
    if experiment.script is not None:
        script = ctx.settings.manifests_dir / experiment.script
        if not script.resolve().is_relative_to(ctx.settings.manifests_dir.resolve()):
            raise ExperimentError(
                f"smoke script '{experiment.script}' resolves outside the manifests folder",
                failure_class="crash",
                hint="experiments[].script is a file under library_manifests/ (no link out of it)",
            )
        if not script.is_file():
            raise ExperimentError(
                f"smoke script '{experiment.script}' does not exist",
                failure_class="crash",
                hint="fix experiments[].script in the manifest",
            )
        return [ctx.env.python, "-c", RUN_SCRIPT, str(script), *experiment.args], ctx.work_dir
    assert experiment.command is not None
    argv = list(experiment.command) + list(experiment.args)
    if argv and argv[0] == "python":
        argv[0] = ctx.env.python
    return argv, ctx.checkout or ctx.work_dir


def run_import_check(ctx: RunContext) -> tuple[ProcessResult, Classification | None, dict[str, str]]:
    """Import every module the manifest lists; return the run, its failure (or None) and versions."""
    code = (
        "import importlib, json, sys\n"
        "versions = {}\n"
        f"for name in {list(ctx.manifest.imports)!r}:\n"
        "    mod = importlib.import_module(name)\n"
        "    versions[name] = str(getattr(mod, '__version__', ''))\n"
        "print(json.dumps({'versions': versions}))\n"
    )
    result = ctx.backend.run(
        ctx.env,
        [ctx.env.python, "-c", code],
        cwd=ctx.work_dir,
        env_vars=experiment_env(ctx),
        timeout_s=IMPORT_TIMEOUT_S,
        limits=ctx.limits,
    )
    versions: dict[str, str] = {}
    for line in reversed(result.stdout.splitlines()):
        try:
            versions = json.loads(line)["versions"]
            break
        except (ValueError, KeyError, TypeError):
            continue
    failure = None
    if result.exit_code != 0 or result.timed_out or result.oom_killed:
        failure = (
            classify_run(result, ctx.manifest.imports, metrics_found=False)
            if result.timed_out or result.oom_killed
            else classify_import(result.output, ctx.manifest.imports)
        )
    return result, failure, versions


def run_experiment(
    experiment: Experiment, ctx: RunContext, *, repeats: int, timeout_s: float | None
) -> tuple[ExperimentResult, list[ProcessResult], Classification | None]:
    """Run one experiment ``repeats`` times; stop at the first failed repeat and classify it."""
    check_data(experiment, ctx.settings)
    argv, cwd = experiment_argv(experiment, ctx)
    limit = timeout_s if timeout_s is not None else experiment.timeout_s
    done: list[Repeat] = []
    runs: list[ProcessResult] = []
    for _ in range(max(1, repeats)):
        result = ctx.backend.run(
            ctx.env, argv, cwd=cwd, env_vars=experiment_env(ctx), timeout_s=limit, limits=ctx.limits
        )
        runs.append(result)
        metrics, problem = parse_metrics(result.stdout)
        if problem is not None:
            metrics = {}  # a failed repeat: nothing of it is judged (reproducibility counts exit 0 + metrics)
        done.append(
            Repeat(
                metrics=metrics or {},
                wall_s=round(result.wall_s, 4),
                cpu_s=round(result.cpu_s, 4),
                peak_rss_bytes=result.peak_rss_bytes,
                peak_gpu_bytes=result.peak_gpu_bytes,
                exit_code=result.exit_code,
                seed=ctx.seed,
            )
        )
        failure = classify_run(result, ctx.manifest.imports, metrics_found=metrics is not None)
        if failure is None and problem is not None:  # exit 0, but the metrics line is unusable
            failure = Classification("no-metrics", problem, BAD_METRICS_HINT)
        if failure is not None:
            return ExperimentResult(name=experiment.name, repeats=done), runs, failure
    return ExperimentResult(name=experiment.name, repeats=done), runs, None
