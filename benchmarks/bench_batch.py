"""How fast the batch runner is, as ratios (goals from issue 7).

1. Parallelism: wall time of ``harness run --jobs 1`` over ``--jobs 2`` on CPU-light experiments
   (tiny offline libraries whose smoke runs mostly wait); goal >= 1.7x on 2 cores.
2. Warm re-run: ``harness run`` over the catalogue's PyPI-packaged libraries once their environments
   are built, against the sum of their experiments' own wall times; goal <= 1.1x (no reinstall:
   every build stage must report ``cached``).

Usage: python benchmarks/bench_batch.py [--trials 3] [--libs 6] [--sleep 1.5] [--only parallel|pypi]
Writes benchmarks/results/batch.json and prints the medians. The PyPI part uses the user's own
settings (cache, constraints, indexes): its first run builds what is not yet built.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from batch_support import harness_cmd, harness_env, write_library  # noqa: E402

from harness.config import load_settings  # noqa: E402
from harness.manifest import load_all  # noqa: E402


def timed_run(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    proc = subprocess.run(harness_cmd("run", *args, "--quiet", "--json"), env=env, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"harness run {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout)


def bench_parallel(trials: int, libs: int, sleep_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        for i in range(libs):
            write_library(root / "manifests", root / "wheels", f"light-{i}", sleep_s=sleep_s)
        env = harness_env(root)
        timed_run(env, "--all", "--jobs", "2", "--repeats", "1")  # warm-up: builds every venv once
        walls: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(trials):
            for jobs in (1, 2):  # interleaved, so that load from elsewhere hits both alike
                wall, _out = timed_run(env, "--all", "--jobs", str(jobs), "--repeats", "2")
                walls[jobs].append(round(wall, 3))
    m1, m2 = statistics.median(walls[1]), statistics.median(walls[2])
    return {"libraries": libs, "smoke_sleep_s": sleep_s, "repeats": 2,
            "wall_s": {str(k): v for k, v in walls.items()}, "median_jobs1_s": m1,
            "median_jobs2_s": m2, "speedup": round(m1 / m2, 3), "goal": ">= 1.7"}


def experiment_seconds(records: list[dict[str, Any]]) -> float:
    return sum(r["wall_s"] for rec in records for e in rec["experiments"] for r in e["repeats"])


def bench_warm_pypi(trials: int) -> dict[str, Any]:
    settings = load_settings()
    slugs = [m.slug for m in load_all(settings.manifests_dir) if m.source.kind == "pypi"]
    if not slugs:
        return {"skipped": "no PyPI-packaged library in the catalogue"}
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        args = ("--lib", ",".join(slugs), "--jobs", "1", "--repeats", "1")
        cold_wall, cold = timed_run(env, *args, "--results-dir", str(Path(tmp) / "cold"))
        rows = []
        for i in range(trials):
            wall, out = timed_run(env, *args, "--results-dir", str(Path(tmp) / f"warm-{i}"))
            builds = [s for rec in out["records"] for s in rec["stages"] if s["name"] == "build"]
            exp = experiment_seconds(out["records"])
            rows.append({"wall_s": round(wall, 3), "experiments_s": round(exp, 3),
                         "ratio": round(wall / exp, 3) if exp else None,
                         "all_builds_cached": all(s["cached"] for s in builds),
                         "smoke_passed": [rec["library"] for rec in out["records"]
                                          if any(s["name"] == "smoke" and s["status"] == "passed"
                                                 for s in rec["stages"])]})
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    return {"libraries": slugs, "first_run_wall_s": round(cold_wall, 3),
            "first_run_builds_cached": all(s["cached"] for rec in cold["records"] for s in rec["stages"]
                                           if s["name"] == "build"),
            "trials": rows, "median_ratio": statistics.median(ratios) if ratios else None, "goal": "<= 1.1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--libs", type=int, default=6)
    parser.add_argument("--sleep", type=float, default=1.5)
    parser.add_argument("--only", choices=("parallel", "pypi"), help="run one of the two measurements")
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "results" / "batch.json"
    result: dict[str, Any] = json.loads(out.read_text()) if args.only and out.is_file() else {}
    result["host"] = {"platform": platform.platform(), "python": platform.python_version(),
                      "cpus": len(os.sched_getaffinity(0)), "loadavg_1m_at_start": os.getloadavg()[0]}
    if args.only != "pypi":
        result["parallel"] = bench_parallel(args.trials, args.libs, args.sleep)
    if args.only != "parallel":
        result["warm_pypi"] = bench_warm_pypi(args.trials)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    par = result.get("parallel")
    if par:
        print(f"parallel: --jobs 1 {par['median_jobs1_s']:.2f} s, --jobs 2 {par['median_jobs2_s']:.2f} s, "
              f"speed-up {par['speedup']:.2f}x (goal >= 1.7x)")
    warm = result.get("warm_pypi")
    if warm and "median_ratio" in warm:
        print(f"warm PyPI re-run: {warm['median_ratio']}x the experiments' own time (goal <= 1.1x), "
              f"libraries {', '.join(warm['libraries'])}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
