"""Smoke experiment for the Adversarial Robustness Toolbox (ART) on the N-BaIoT sample.

Trains a multinomial logistic regression on the four-class N-BaIoT sample (benign, mirai_udp,
gafgyt_udp, gafgyt_scan; ``_iot.load_nbaiot`` drops the leaky HH_jit_* columns), wraps it in ART's
``SklearnClassifier`` and attacks the test split with ART's ``FastGradientMethod`` (L-inf, ``eps``
in standardised feature units, default 0.3, first argument), within the range of the training
features. Emits clean and adversarial accuracy. Seeded by HARNESS_SEED; a
few seconds on one CPU core; no download.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from _iot import accuracy, emit_metrics, load_nbaiot, seed_everything

EPS = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3


def main() -> None:
    seed = seed_everything()
    warnings.filterwarnings("ignore")
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification import SklearnClassifier
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test, _features, classes = load_nbaiot()
    model = LogisticRegression(max_iter=500, random_state=seed)
    lo, hi = float(X_train.min()), float(X_train.max())
    classifier = SklearnClassifier(model=model, clip_values=(lo, hi))
    classifier.fit(X_train, np.eye(len(classes))[y_train])
    clean = accuracy(classifier.predict(X_test), y_test)
    attack = FastGradientMethod(estimator=classifier, norm=np.inf, eps=EPS, batch_size=256)
    X_adv = attack.generate(x=X_test)
    adversarial = accuracy(classifier.predict(X_adv), y_test)
    perturbation = float(np.abs(X_adv - X_test).max())
    emit_metrics(
        {
            "clean_accuracy": clean,
            "adversarial_accuracy": adversarial,
            "eps": EPS,
            "max_perturbation": perturbation,
            "n_test": len(y_test),
        }
    )


if __name__ == "__main__":
    main()
