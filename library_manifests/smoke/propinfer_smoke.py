"""propinfer smoke: property inference on detectors trained on the N-BaIoT sample.

The property: is a detector's training set dominated by Mirai traffic (90 % of records from the
Mirai botnet versus 50 %)? propinfer's SubsamplingGenerator draws the training sets, its Experiment
trains target and shadow logistic-regression detectors (benign vs attack), and its loss-test,
threshold and black-box attacks guess the property of each target. Reports attack accuracies
(0.5 is chance) and the detectors' own accuracy.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from _iot import LEAKY_PREFIX, NBAIOT_FILE, data_dir, emit_metrics, seed_everything
from propinfer import Experiment, LogReg, SubsamplingGenerator

logging.getLogger("propinfer").setLevel(logging.WARNING)
seed_everything()

raw = pd.read_csv(data_dir() / NBAIOT_FILE)
features = [c for c in raw.columns
            if c.startswith(("MI_", "H_", "HH_", "HpHp_")) and not c.startswith(LEAKY_PREFIX)]
frame = raw[features].astype(np.float64)
frame = (frame - frame.mean()) / frame.std().replace(0.0, 1.0)
frame["is_attack"] = raw["is_attack"].astype(np.int64)
frame["botnet_family"] = raw["botnet_family"]

generator = SubsamplingGenerator(frame, "is_attack", "botnet_family", target_category="mirai",
                                 n_samples=128, proportion=0.9, split=True)
experiment = Experiment(generator, "is_attack", LogReg, n_targets=20, n_shadows=40,
                        hyperparams={"max_iter": 200}, n_queries=128)
experiment.run_targets()
experiment.run_shadows()
detector = experiment.targets[0]
probe = generator.sample(0)
emit_metrics({
    "detector_accuracy": float((detector.predict(probe) == probe["is_attack"].to_numpy()).mean()),
    "loss_test_accuracy": float(experiment.run_loss_test()),
    "threshold_test_accuracy": float(experiment.run_threshold_test()),
    "blackbox_accuracy": float(experiment.run_blackbox()),
})
