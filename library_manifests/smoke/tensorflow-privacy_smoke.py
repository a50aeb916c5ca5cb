"""TensorFlow Privacy smoke: membership inference against a Keras detector trained on N-BaIoT.

A small Keras MLP is overfitted on 200 records of the N-BaIoT sample (the members); TensorFlow
Privacy's ``membership_inference_attack.run_attacks`` then tries to tell them from 200 unseen records
(threshold attack on the loss and a logistic-regression attack on the logits). Reports the best
attack AUC and attacker advantage, and the detector's train/test accuracy (the generalisation gap
that membership inference exploits).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from _iot import accuracy, emit_metrics, load_nbaiot, seed
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import (
    membership_inference_attack as mia,
)
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack.data_structures import (
    AttackInputData,
    AttackType,
    SlicingSpec,
)

N_MEMBERS = 200

tf.keras.utils.set_random_seed(seed())
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

X_train, X_test, y_train, y_test, _, classes = load_nbaiot()
X_in, y_in = X_train[:N_MEMBERS], y_train[:N_MEMBERS]
X_out, y_out = X_test[:N_MEMBERS], y_test[:N_MEMBERS]

model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(X_in.shape[1],)),
    tf.keras.layers.Dense(128, activation="relu"),
    tf.keras.layers.Dense(len(classes)),
])
model.compile(optimizer=tf.keras.optimizers.Adam(1e-2),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(X_in, y_in, epochs=300, batch_size=N_MEMBERS, verbose=0)

logits_in = model.predict(X_in, verbose=0)
logits_out = model.predict(X_out, verbose=0)
per_example = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
loss_in = per_example(y_in, logits_in).numpy()
loss_out = per_example(y_out, logits_out).numpy()

results = mia.run_attacks(
    AttackInputData(logits_train=logits_in, logits_test=logits_out, loss_train=loss_in, loss_test=loss_out,
                    labels_train=y_in, labels_test=y_out),
    SlicingSpec(entire_dataset=True),
    attack_types=(AttackType.THRESHOLD_ATTACK, AttackType.LOGISTIC_REGRESSION),
)
best = results.get_result_with_max_auc()
threshold = next(r for r in results.single_attack_results if r.attack_type == AttackType.THRESHOLD_ATTACK)
emit_metrics({
    "train_accuracy": accuracy(logits_in, y_in),
    "test_accuracy": accuracy(logits_out, y_out),
    "mean_loss_gap": float(np.mean(loss_out) - np.mean(loss_in)),
    "threshold_attack_auc": float(threshold.get_auc()),
    "best_attack_auc": float(best.get_auc()),
    "best_attacker_advantage": float(best.get_attacker_advantage()),
})
