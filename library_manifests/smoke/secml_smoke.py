"""SecML smoke: PGD-LS evasion of a linear SVM detector trained on the N-BaIoT sample.

SecML wraps its own classifiers and attacks around CArray/CDataset: a one-vs-all linear SVM
(CClassifierMulticlassOVA + CClassifierSVM) is trained on the N-BaIoT sample with features scaled to
[0, 1], then CAttackEvasionPGDLS (L2, dmax 0.5, box [0, 1]) perturbs 100 test records. Reports
clean and adversarial accuracy and the largest L2 perturbation used.
"""

from __future__ import annotations

import os
import tempfile

# SecML creates its data folders under the home directory at import: keep them in the work dir.
os.environ.setdefault(
    "SECML_HOME_DIR", tempfile.mkdtemp(prefix="secml-", dir=os.environ.get("HARNESS_WORK_DIR"))
)

import numpy as np
from _iot import emit_metrics, load_nbaiot, seed_everything
from secml.adv.attacks.evasion import CAttackEvasionPGDLS
from secml.array import CArray
from secml.data import CDataset
from secml.ml.classifiers import CClassifierSVM
from secml.ml.classifiers.multiclass import CClassifierMulticlassOVA
from secml.ml.peval.metrics import CMetricAccuracy

N_ATTACKED = 100
DMAX = 0.5

seed_everything()
X_train, X_test, y_train, y_test, _, _ = load_nbaiot(standardize=False, dtype=np.float64)
lo, hi = X_train.min(axis=0), X_train.max(axis=0)
span = np.where(hi > lo, hi - lo, 1.0)
X_train, X_test = (X_train - lo) / span, np.clip((X_test - lo) / span, 0.0, 1.0)

train = CDataset(CArray(X_train), CArray(y_train))
test = CDataset(CArray(X_test[:N_ATTACKED]), CArray(y_test[:N_ATTACKED]))
clf = CClassifierMulticlassOVA(CClassifierSVM, C=1.0)
clf.fit(train.X, train.Y)
metric = CMetricAccuracy()
clean = metric.performance_score(y_true=test.Y, y_pred=clf.predict(test.X))

attack = CAttackEvasionPGDLS(classifier=clf, double_init_ds=train, double_init=False, distance="l2",
                             dmax=DMAX, lb=0.0, ub=1.0, y_target=None,
                             solver_params={"eta": 0.1, "eta_min": 0.05, "eta_max": None, "max_iter": 50,
                                            "eps": 1e-4})
y_adv, _, adv_ds, _ = attack.run(test.X, test.Y)
delta = (adv_ds.X - test.X).tondarray()
emit_metrics({
    "clean_accuracy": float(clean),
    "adversarial_accuracy": float(metric.performance_score(y_true=test.Y, y_pred=y_adv)),
    "max_l2_perturbation": float(np.linalg.norm(delta, axis=1).max()),
})
