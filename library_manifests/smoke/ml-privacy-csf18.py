"""ml-privacy-csf18 IoT probe: Yeom et al.'s error-threshold membership inference on an N-BaIoT regressor.

Uses the repository's own ``tree.sklearn_train_tree`` and ``inclusion.sklearn_inclusion`` (the
checkout's ``code/`` folder is on PYTHONPATH through ``environment.python_path``). The model is a
depth-12 regression tree that predicts a device's short-window packet-count statistic
(``MI_dir_L5_weight``) from its other N-BaIoT traffic features. As in the paper, the adversary knows
the model's empirical error r_emp (training RMSE) and its cross-validation error r_cv (5-fold, on
the training split) and guesses "member" when a point's error is likelier under N(0, r_emp^2) than
under N(0, r_cv^2). Reports the membership advantage (true- minus false-positive rate; 0 is chance).
"""

from __future__ import annotations

import inclusion  # the repository's code/inclusion.py
import numpy as np
import tree  # the repository's code/tree.py
from _iot import emit_metrics, load_nbaiot, seed_everything
from sklearn.model_selection import cross_val_predict

TARGET = "MI_dir_L5_weight"
DEPTH = 12


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def main() -> None:
    seed_everything()
    X_train, X_test, _, _, features, _ = load_nbaiot(standardize=True, dtype=np.float64)
    col = features.index(TARGET)
    others = [i for i in range(len(features)) if i != col]
    Xtr, ytr = X_train[:, others], X_train[:, col]
    Xte, yte = X_test[:, others], X_test[:, col]

    model = tree.sklearn_train_tree(Xtr, ytr, DEPTH)
    r_emp = rmse(model.predict(Xtr), ytr)
    r_cv = rmse(cross_val_predict(tree.DecisionTreeRegressor(max_depth=DEPTH), Xtr, ytr, cv=5), ytr)
    in_train = inclusion.sklearn_inclusion(model, Xtr, ytr, max(r_emp, 1e-9), r_cv) == inclusion.TRAIN
    in_test = inclusion.sklearn_inclusion(model, Xte, yte, max(r_emp, 1e-9), r_cv) == inclusion.TRAIN
    tpr, fpr = float(in_train.mean()), float(in_test.mean())
    test_rmse = rmse(model.predict(Xte), yte)
    print(f"r_emp={r_emp:.4f} r_cv={r_cv:.4f} test_rmse={test_rmse:.4f} tpr={tpr:.4f} fpr={fpr:.4f}")
    emit_metrics({
        "membership_advantage": tpr - fpr,
        "train_rmse": r_emp,
        "cv_rmse": r_cv,
        "test_rmse": test_rmse,
    })


if __name__ == "__main__":
    main()
