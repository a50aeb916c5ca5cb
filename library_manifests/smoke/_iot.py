"""Shared helpers for smoke experiments: the N-BaIoT sample, seeding, and the metrics line.

Smoke scripts run inside the library's own environment (not the harness's), so this module needs
only the standard library and numpy. The harness puts this folder on PYTHONPATH and passes:
HARNESS_SEED, HARNESS_DATA_DIR (data shipped with the harness), HARNESS_DATA_CACHE (user-filled cache
of larger declared datasets), HARNESS_DEVICE ("cpu" or "gpu") and HARNESS_WORK_DIR.

Contract with the harness: a script ends by printing ONE line, a JSON object with a "metrics" key
mapping names to numbers (``emit_metrics``); the harness reads the last such line on stdout.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

NBAIOT_FILE = "n-baiot-sample.csv"
# Columns that are not traffic features (labels and bookkeeping added to the sample).
NON_FEATURES = ("label", "botnet_family", "is_attack", "device", "source_file")
# HH_jit_* hold raw capture timestamps that leak the label (see PROVENANCE.md): always dropped.
LEAKY_PREFIX = "HH_jit_"


def seed() -> int:
    return int(os.environ.get("HARNESS_SEED", "0"))


def device() -> str:
    return os.environ.get("HARNESS_DEVICE", "cpu")


def seed_everything(value: int | None = None) -> int:
    """Seed Python, numpy and (when importable) torch and tensorflow; return the seed used."""
    s = seed() if value is None else value
    random.seed(s)
    np.random.seed(s)
    os.environ.setdefault("PYTHONHASHSEED", str(s))
    if "torch" in sys.modules or _importable("torch"):
        import torch

        torch.manual_seed(s)
        torch.use_deterministic_algorithms(True, warn_only=True)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(s)
    return s


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def data_dir() -> Path:
    d = os.environ.get("HARNESS_DATA_DIR")
    if not d:
        raise SystemExit("HARNESS_DATA_DIR is not set: run this script through the harness")
    return Path(d)


def load_nbaiot(
    *, binary: bool = False, test_fraction: float = 0.3, standardize: bool = True, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    """The N-BaIoT sample as a seeded, stratified train/test split.

    Returns X_train, X_test, y_train, y_test, feature names, class names. ``binary`` gives
    benign (0) vs attack (1); otherwise the four classes in sorted order. Features are standardised
    with the training split's mean and standard deviation.
    """
    path = data_dir() / NBAIOT_FILE
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    feat_idx = [i for i, c in enumerate(header) if c not in NON_FEATURES and not c.startswith(LEAKY_PREFIX)]
    features = [header[i] for i in feat_idx]
    X = np.array([[float(r[i]) for i in feat_idx] for r in body], dtype=np.float64)
    if binary:
        col = header.index("is_attack")
        y = np.array([int(r[col]) for r in body], dtype=np.int64)
        classes = ["benign", "attack"]
    else:
        col = header.index("label")
        classes = sorted({r[col] for r in body})
        y = np.array([classes.index(r[col]) for r in body], dtype=np.int64)
    rng = np.random.default_rng(seed())
    train_idx: list[int] = []
    test_idx: list[int] = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(len(idx) * test_fraction))
        test_idx.extend(idx[:n_test].tolist())
        train_idx.extend(idx[n_test:].tolist())
    tr, te = rng.permutation(train_idx), rng.permutation(test_idx)
    X_train, X_test = X[tr], X[te]
    if standardize:
        mu, sd = X_train.mean(axis=0), X_train.std(axis=0)
        sd[sd == 0] = 1.0
        X_train, X_test = (X_train - mu) / sd, (X_test - mu) / sd
    return X_train.astype(dtype), X_test.astype(dtype), y[tr], y[te], features, classes


def accuracy(pred: Any, truth: Any) -> float:
    p, t = np.asarray(pred), np.asarray(truth)
    if p.ndim > 1:
        p = p.argmax(axis=1)
    return float((p == t).mean())


def emit_metrics(metrics: dict[str, float], **extra: Any) -> None:
    """Print the one JSON metrics line the harness reads (last line of stdout)."""
    clean = {k: float(v) for k, v in metrics.items()}
    sys.stdout.flush()
    print(json.dumps({"metrics": clean, **extra}, sort_keys=True), flush=True)
