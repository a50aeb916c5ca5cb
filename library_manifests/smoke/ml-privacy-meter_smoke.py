"""ML Privacy Meter smoke: the population membership-inference audit on an N-BaIoT detector.

An MLP (PyTorch) is overfitted on 200 records of the N-BaIoT sample; Privacy Meter's ``Audit`` with
the population metric compares the loss of those members and of 200 unseen records against a
threshold fitted on 400 further population records, over the library's default FPR tolerances.
Reports the audit's ROC AUC and best accuracy over those thresholds, the AUC of the library's loss
signals, and the detector's train/test accuracy.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from _iot import accuracy, emit_metrics, load_nbaiot
from _torch_iot import predict, train_mlp
from privacy_meter.audit import Audit, MetricEnum
from privacy_meter.constants import InferenceGame
from privacy_meter.dataset import Dataset
from privacy_meter.information_source import InformationSource
from privacy_meter.model import PytorchModel
from sklearn.metrics import roc_auc_score
from torch import nn

N_MEMBERS = 200

X_train, X_test, y_train, y_test, _, _ = load_nbaiot()
members = {"x": X_train[:N_MEMBERS], "y": y_train[:N_MEMBERS]}
non_members = {"x": X_test[:N_MEMBERS], "y": y_test[:N_MEMBERS]}
population = {"x": X_train[N_MEMBERS:N_MEMBERS + 400], "y": y_train[N_MEMBERS:N_MEMBERS + 400]}

model = train_mlp(members["x"], members["y"], hidden=128, epochs=300)
target = PytorchModel(model_obj=model, loss_fn=nn.CrossEntropyLoss())
target_data = Dataset(data_dict={"train": members, "test": non_members}, default_input="x",
                      default_output="y")
population_data = Dataset(data_dict={"train": population}, default_input="x", default_output="y")

logs = tempfile.mkdtemp(prefix="privacy-meter-", dir=os.environ.get("HARNESS_WORK_DIR"))
audit = Audit(
    metrics=MetricEnum.POPULATION,
    inference_game_type=InferenceGame.PRIVACY_LOSS_MODEL,
    target_info_sources=InformationSource(models=[target], datasets=[target_data]),
    reference_info_sources=InformationSource(models=[target], datasets=[population_data]),
    logs_directory_names=[logs],
)
audit.prepare()
result = audit.run()[0][0]  # a CombinedMetricResult: arrays over the FPR tolerances
metric = audit.metric_objects[0]
signals = np.concatenate([metric.member_signals, metric.non_member_signals])
membership = np.concatenate([np.ones(len(metric.member_signals)), np.zeros(len(metric.non_member_signals))])
emit_metrics({
    "train_accuracy": accuracy(predict(model, members["x"]), members["y"]),
    "test_accuracy": accuracy(predict(model, non_members["x"]), non_members["y"]),
    "audit_roc_auc": float(result.roc_auc),
    "audit_best_accuracy": float(np.max(result.accuracy)),
    "loss_signal_auc": float(roc_auc_score(membership, -signals)),
})
