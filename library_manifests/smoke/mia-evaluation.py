"""mia-evaluation IoT probe: Song and Mittal's metric-based membership attacks on N-BaIoT models.

Uses the repository's own ``membership_inference_attacks.black_box_benchmarks`` (the checkout is on
PYTHONPATH through ``environment.python_path``): a target and a shadow MLP are trained on disjoint
halves of the N-BaIoT sample's training split; their softmax outputs on members (their training
rows) and non-members (held-out rows) feed the class, which thresholds correctness, confidence,
entropy and modified entropy per class. The class prints its attack accuracies; they are read back
from its output and reported. 0.5 is chance (balanced members and non-members).
"""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
from _iot import emit_metrics, load_nbaiot, seed, seed_everything
from membership_inference_attacks import black_box_benchmarks
from sklearn.neural_network import MLPClassifier

# Attack name as the class prints it -> metric name.
METRICS = {
    "correctness": "attack_acc_correctness",
    "confidence": "attack_acc_confidence",
    "entropy": "attack_acc_entropy",
    "modified entropy": "attack_acc_modified_entropy",
}


def fit(X: np.ndarray, y: np.ndarray) -> MLPClassifier:
    """A deliberately large MLP fitted to a small set, so members and non-members differ."""
    model = MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, random_state=seed())
    return model.fit(X, y)


def halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    idx = rng.permutation(n)
    return idx[: n // 2], idx[n // 2 :]


def main() -> None:
    seed_everything()
    X_train, X_test, y_train, y_test, _, classes = load_nbaiot(standardize=True)
    rng = np.random.default_rng(seed())
    tgt_in, shd_in = halves(len(y_train), rng)
    tgt_out, shd_out = halves(len(y_test), rng)
    target, shadow = fit(X_train[tgt_in], y_train[tgt_in]), fit(X_train[shd_in], y_train[shd_in])

    def perf(model: MLPClassifier, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return model.predict_proba(X), y

    mia = black_box_benchmarks(
        perf(shadow, X_train[shd_in], y_train[shd_in]),
        perf(shadow, X_test[shd_out], y_test[shd_out]),
        perf(target, X_train[tgt_in], y_train[tgt_in]),
        perf(target, X_test[tgt_out], y_test[tgt_out]),
        num_classes=len(classes),
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        mia._mem_inf_benchmarks()
    print(out.getvalue(), end="")
    found = dict(re.findall(r"attack via (.+?), the attack acc is ([0-9.]+)", out.getvalue()))
    missing = sorted(set(METRICS) - set(found))
    if missing:
        raise SystemExit(f"black_box_benchmarks printed no accuracy for: {', '.join(missing)}")
    metrics = {METRICS[k]: float(v) for k, v in found.items() if k in METRICS}
    metrics["target_train_accuracy"] = float(target.score(X_train[tgt_in], y_train[tgt_in]))
    metrics["target_test_accuracy"] = float(target.score(X_test[tgt_out], y_test[tgt_out]))
    emit_metrics(metrics)


if __name__ == "__main__":
    main()
