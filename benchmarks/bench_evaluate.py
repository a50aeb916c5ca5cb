"""How fast is the harness itself? Side by side, in one run, medians of several runs.

1. ``harness evaluate`` with a warm (cached) environment vs the smoke script run directly in that
   environment: the whole command with one repeat (the import stage reuses the environment's cached
   import verdict; goal <= 1.05x one direct run), and one smoke repeat as the harness runs and
   measures it (goal <= 1.05x the direct run).
2. The harness's ``build`` stage (fresh environment, warm package cache) vs plain ``uv venv`` +
   ``uv pip install`` of the same spec (goal <= 1.2x), and vs ``python -m venv`` + ``pip install``
   (reference).
3. A cached build (goal < 0.5 s).

Run: ``python benchmarks/bench_evaluate.py [--lib SLUG] [--runs N] [--pip-runs N]``. Prints a
table on stdout and writes ``benchmarks/results/evaluate.json``. Environments go to a temporary
cache; the torch pin comes from HARNESS_CONSTRAINTS (a temporary ``torch==2.13.0`` file if unset).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.config import load_settings
from harness.envs.venv import VenvBackend, choose_python, install_env, install_targets
from harness.experiments import RUN_SCRIPT
from harness.manifest import find_manifest
from harness.pipeline import env_spec
from harness.sources.pypi import artifact_file, release_dir

HERE = Path(__file__).resolve().parent


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def sh(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", default="adversarial-robustness-toolbox")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pip-runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "evaluate.json")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-evaluate-"))
    if not os.environ.get("HARNESS_CONSTRAINTS"):
        (tmp / "constraints.txt").write_text("torch==2.13.0\n")
        os.environ["HARNESS_CONSTRAINTS"] = str(tmp / "constraints.txt")
    os.environ["HARNESS_CACHE_DIR"] = str(tmp / "cache")
    settings = load_settings()
    manifest = find_manifest(args.lib, settings.manifests_dir)
    backend = VenvBackend()
    spec = env_spec(manifest, settings, "cpu", backend.installer(settings))
    base_env = install_env(settings)
    results: dict[str, object] = {
        "library": args.lib,
        "runs": args.runs,
        "pip_runs": args.pip_runs,
        "host_cpus": len(os.sched_getaffinity(0)),
        "load_average_start": os.getloadavg()[0],
    }
    try:
        # -- warm everything once (uv's package cache, the source cache, the environment) --------------
        cli = [
            sys.executable,
            "-m",
            "harness.cli",
            "evaluate",
            "--lib",
            args.lib,
            "--repeats",
            "1",
            "--results-dir",
            str(tmp / "results"),
            "--reports-dir",
            str(tmp / "reports"),
            "--json",
        ]
        first = json.loads(sh(cli))
        env_dir = settings.envs_dir / first["facts"]["run"]["env_fingerprint"]
        python = str(env_dir / "bin" / "python")
        script = settings.manifests_dir / str(manifest.experiments[0].script)
        work = tmp / "work"
        (work / ".p").mkdir(parents=True)
        shutil.copy2(settings.manifests_dir / "smoke" / "_iot.py", work / ".p" / "_iot.py")
        direct_env = dict(os.environ) | {
            "HARNESS_SEED": "0",
            "HARNESS_DATA_DIR": str(settings.data_dir),
            "HARNESS_DEVICE": "cpu",
            "HARNESS_WORK_DIR": str(work),
            "PYTHONPATH": str(work / ".p"),
            "CUDA_VISIBLE_DEVICES": "",
        }
        direct_argv = [python, "-c", RUN_SCRIPT, str(script)]

        # -- 1. evaluate (warm) vs the script run directly --------------------------------------------
        direct, harness_total, harness_repeat, import_stage = [], [], [], []
        import_cached = []
        for _ in range(args.runs):
            direct.append(timed(lambda: sh(direct_argv, env=direct_env, cwd=str(work))))
            t = time.perf_counter()
            rec = json.loads(sh(cli))
            harness_total.append(time.perf_counter() - t)
            harness_repeat.append(rec["experiments"][0]["repeats"][0]["wall_s"])
            import_stage.append(next(s["duration_s"] for s in rec["stages"] if s["name"] == "import"))
            import_cached.append(next(s["cached"] for s in rec["stages"] if s["name"] == "import"))
            assert rec["facts"]["run"]["env_cached"] is True
        results["evaluate_warm"] = {
            "direct_script_s": median(direct),
            "harness_evaluate_s": median(harness_total),
            "harness_smoke_repeat_s": median(harness_repeat),
            "harness_import_stage_s": median(import_stage),
            "import_stage_cached": import_cached,
            "ratio_repeat": median(harness_repeat) / median(direct),
            "ratio_whole_command": median(harness_total) / median(direct),
            "goal_repeat": 1.05,
            "goal_whole_command": 1.05,
            "samples": {"direct": direct, "harness_repeat": harness_repeat, "harness_total": harness_total},
        }

        # -- 2. build stage vs plain uv vs python -m venv + pip -------------------------------------
        # The build installs the file the fetch stage downloaded; the plain installs get the same targets.
        src = manifest.source
        fetched = artifact_file(release_dir(settings, src.package, src.version)) if src.kind == "pypi" else None
        targets = install_targets(spec.requirements, fetched)
        interpreter = choose_python(spec.python).path
        constraints = tmp / "c.txt"
        constraints.write_text("".join(c + "\n" for c in spec.constraints))
        links = [a for link in settings.find_links for a in ("--find-links", link)]
        uv = shutil.which("uv") or "uv"
        harness_build, plain_uv, plain_pip = [], [], []
        for i in range(args.runs):
            fresh = settings.with_overrides(cache_dir=tmp / f"cold-{i}")
            built = backend.build(spec, None, fresh, artifact=fetched)
            assert not built.cached
            harness_build.append(built.build_s)
            d = tmp / f"uv-{i}"

            def plain(d: Path = d) -> None:
                sh([uv, "venv", "--quiet", "--python", interpreter, str(d)], env=base_env)
                sh(
                    [
                        uv,
                        "pip",
                        "install",
                        "--python",
                        str(d / "bin" / "python"),
                        "-c",
                        str(constraints),
                        *links,
                        *targets,
                    ],
                    env=base_env,
                )

            plain_uv.append(timed(plain))
        for i in range(args.pip_runs):
            d = tmp / f"pip-{i}"

            def pip(d: Path = d) -> None:
                sh([interpreter, "-m", "venv", str(d)])
                sh(
                    [
                        str(d / "bin" / "python"),
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "-c",
                        str(constraints),
                        *links,
                        *targets,
                    ]
                )

            plain_pip.append(timed(pip))
        results["build"] = {
            "harness_build_s": median(harness_build),
            "plain_uv_s": median(plain_uv),
            "pip_s": median(plain_pip),
            "ratio_vs_uv": median(harness_build) / median(plain_uv),
            "goal_vs_uv": 1.2,
            "ratio_uv_vs_pip": median(plain_uv) / median(plain_pip),
            "ratio_harness_vs_pip": median(harness_build) / median(plain_pip),
            "samples": {"harness": harness_build, "uv": plain_uv, "pip": plain_pip},
        }

        # -- 3. cached build ----------------------------------------------------------------------
        cached = [timed(lambda: backend.build(spec, None, settings, artifact=fetched)) for _ in range(args.runs)]
        results["cached_build"] = {"median_s": median(cached), "goal_s": 0.5}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["load_average_end"] = os.getloadavg()[0]

    ev, b, c = results["evaluate_warm"], results["build"], results["cached_build"]
    assert isinstance(ev, dict) and isinstance(b, dict) and isinstance(c, dict)
    rows = [
        ("smoke script, direct", f"{ev['direct_script_s']:.2f} s", ""),
        (
            "smoke repeat, run by the harness",
            f"{ev['harness_smoke_repeat_s']:.2f} s",
            f"{ev['ratio_repeat']:.3f}x direct (goal <= 1.05)",
        ),
        (
            "harness evaluate, warm env, 1 repeat",
            f"{ev['harness_evaluate_s']:.2f} s",
            f"{ev['ratio_whole_command']:.3f}x direct (goal <= 1.05; "
            f"import stage {ev['harness_import_stage_s']:.2f} s, cached {sum(ev['import_stage_cached'])}/{args.runs})",
        ),
        (
            "build stage (harness, uv)",
            f"{b['harness_build_s']:.2f} s",
            f"{b['ratio_vs_uv']:.3f}x plain uv (goal <= 1.2)",
        ),
        ("plain uv venv + uv pip install", f"{b['plain_uv_s']:.2f} s", f"{b['ratio_uv_vs_pip']:.3f}x pip"),
        ("python -m venv + pip install", f"{b['pip_s']:.2f} s", "reference"),
        ("cached build", f"{c['median_s'] * 1000:.1f} ms", "goal < 500 ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"medians ({args.runs} runs; pip {args.pip_runs}) on {results['host_cpus']} CPUs, "
        f"load {results['load_average_start']:.1f}"
    )
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>9}  {note}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
