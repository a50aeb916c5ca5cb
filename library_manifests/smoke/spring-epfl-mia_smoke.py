"""mia (spring-epfl) smoke: the shadow-model membership-inference attack on an N-BaIoT detector.

The target is a scikit-learn MLP overfitted on 200 records of the N-BaIoT sample. The attacker holds
the remaining training split (disjoint from the target's data): mia's ShadowModelBundle trains
shadow models on it, AttackModelBundle learns one membership classifier per class, and
``prepare_attack_data`` queries the target on its 200 members and 200 unseen records. Reports the
attack's accuracy and AUC (0.5 is chance) and the target's train/test accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
from _iot import accuracy, emit_metrics, load_nbaiot, seed, seed_everything
from mia.estimators import AttackModelBundle, ShadowModelBundle, prepare_attack_data
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)
N_MEMBERS = 200
seed_everything()

X_train, X_test, y_train, y_test, _, classes = load_nbaiot()
X_in, y_in = X_train[:N_MEMBERS], y_train[:N_MEMBERS]
X_out, y_out = X_test[:N_MEMBERS], y_test[:N_MEMBERS]
X_attacker, y_attacker = X_train[N_MEMBERS:], y_train[N_MEMBERS:]


def detector() -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, random_state=seed())


def attack_model() -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=50, min_samples_leaf=5, random_state=seed())


target = detector().fit(X_in, y_in)
shadows = ShadowModelBundle(detector, shadow_dataset_size=N_MEMBERS, num_models=3, seed=seed())
X_shadow, y_shadow = shadows.fit_transform(X_attacker, y_attacker)
attacker = AttackModelBundle(attack_model, num_classes=len(classes), class_one_hot_coded=False)
attacker.fit(X_shadow, y_shadow)

X_attack, membership = prepare_attack_data(target, (X_in, y_in), (X_out, y_out))
guesses = attacker.predict(X_attack)
emit_metrics({
    "train_accuracy": accuracy(target.predict(X_in), y_in),
    "test_accuracy": accuracy(target.predict(X_out), y_out),
    "attack_accuracy": float(np.mean(guesses == membership)),
    "attack_auc": float(roc_auc_score(membership, attacker.predict_proba(X_attack)[:, 1])),
})
