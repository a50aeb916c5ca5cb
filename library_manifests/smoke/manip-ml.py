"""manip-ml IoT probe: Jagielski et al.'s optimisation-based poisoning of ridge regression on N-BaIoT.

Runs the repository's own ``poisoning/poison.py`` pipeline (its ``main`` with its own argument
parser; the checkout's ``poisoning/`` folder is on PYTHONPATH through ``environment.python_path``)
on the N-BaIoT sample written in the repository's dataset format: one CSV whose first column is the
regression target (here the benign/attack label, 0 or 1) followed by features min-max scaled to
[0, 1], like the repository's own house/loan/pharm files. 100 training rows are poisoned with 10
crafted points (9%); reports the test MSE of the clean and the poisoned model as the script prints it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import poison  # the repository's poisoning/poison.py
from _iot import emit_metrics, load_nbaiot, seed, seed_everything


def write_dataset(path: Path) -> None:
    X_train, X_test, y_train, y_test, features, _ = load_nbaiot(
        binary=True, standardize=False, dtype=np.float64
    )
    X, y = np.vstack([X_train, X_test]), np.concatenate([y_train, y_test]).astype(np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    keep = hi > lo  # constant columns make the poisoner's matrices singular
    X = (X[:, keep] - lo[keep]) / (hi[keep] - lo[keep])
    names = [f for f, k in zip(features, keep, strict=True) if k]
    with path.open("w") as fh:
        fh.write(",".join(["is_attack", *names]) + "\n")
        for target, row in zip(y, X, strict=True):
            fh.write(",".join([repr(float(target)), *(repr(float(v)) for v in row)]) + "\n")


def main() -> None:
    seed_everything()
    work = Path(os.environ.get("HARNESS_WORK_DIR") or ".")
    csv_path = work / "n-baiot-regression.csv"
    write_dataset(csv_path)
    args = poison.setup_argparse().parse_args([
        "-d", str(csv_path), "-ld", str(work / "results"), "-m", "ridge",
        "-r", "100", "-t", "200", "-v", "100", "-p", "10", "-s", "0", "-seed", str(seed()),
    ])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        poison.main(args)
    text = out.getvalue()
    print(text[-2000:], end="")
    clean = re.search(r"Unpoisoned\s+Validation MSE:\s*([0-9.eE+-]+)\s+Test MSE:\s*([0-9.eE+-]+)", text)
    poisoned = re.search(r"Poisoned:\s+Validation MSE:\s*([0-9.eE+-]+)\s+Test MSE:\s*([0-9.eE+-]+)", text)
    if not (clean and poisoned):
        raise SystemExit("poison.main printed no clean/poisoned MSE")
    emit_metrics({
        "clean_test_mse": float(clean.group(2)),
        "poisoned_test_mse": float(poisoned.group(2)),
        "mse_ratio": float(poisoned.group(2)) / max(float(clean.group(2)), 1e-12),
    })


if __name__ == "__main__":
    main()
