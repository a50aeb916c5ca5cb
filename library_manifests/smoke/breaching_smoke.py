"""breaching smoke: reconstructing a private N-BaIoT record from one federated-learning update.

A gateway (breaching's ``UserSingleStep``, local-gradient user, one record, labels shared) computes
its gradient update for the server's MLP on its own N-BaIoT traffic records; the honest-but-curious
server runs breaching's analytic attack (FC-layer inversion) and its DLG-style optimisation attack
(``deepleakage`` config, shortened) on that update. Reports the reconstruction error of each in the
standardised feature space (0 means the record is recovered exactly) and whether the label leaks.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import breaching
import torch
from _iot import emit_metrics, load_nbaiot, seed_everything
from _torch_iot import train_mlp
from torch import nn

logging.getLogger("breaching").setLevel(logging.WARNING)
SETUP = {"device": torch.device("cpu"), "dtype": torch.float}


class IoTNet(nn.Sequential):
    """A Sequential MLP whose forward takes breaching's keyword batch (inputs=..., labels=...)."""

    def forward(self, inputs: torch.Tensor, **_: object) -> torch.Tensor:  # type: ignore[override]
        return super().forward(inputs)


X_train, X_test, y_train, y_test, features, classes = load_nbaiot()
trained = train_mlp(X_train, y_train, hidden=64, epochs=30)
model = IoTNet(nn.Flatten(), *trained)  # the server's current global model
seed_everything()

case = breaching.get_case_config("0_sanity_check", overrides=["user.provide_labels=True"])
records = [{"inputs": torch.from_numpy(X_test[i:i + 1]), "labels": torch.from_numpy(y_test[i:i + 1])}
           for i in range(4)]
user = breaching.cases.users.UserSingleStep(model, nn.CrossEntropyLoss(), records, SETUP, idx=0,
                                            cfg_user=case.user)
payload = {"parameters": [p.detach().clone() for p in model.parameters()], "buffers": None,
           "metadata": SimpleNamespace(shape=(len(features),), modality="tabular", classes=classes)}
shared, truth = user.compute_local_updates(payload)


def error(reconstruction: dict) -> float:
    return float((reconstruction["data"].reshape(truth["data"].shape) - truth["data"]).pow(2).mean())


analytic_cfg = breaching.get_attack_config("analytic")
analytic = breaching.attacks.prepare_attack(model, nn.CrossEntropyLoss(), analytic_cfg, SETUP)
rec_analytic, _ = analytic.reconstruct([payload], [shared], {}, dryrun=False)

dlg_cfg = breaching.get_attack_config(
    "deepleakage", overrides=["attack_type=optimization", "optim.max_iterations=200", "optim.callback=100"]
)
dlg = breaching.attacks.prepare_attack(model, nn.CrossEntropyLoss(), dlg_cfg, SETUP)
rec_dlg, _ = dlg.reconstruct([payload], [shared], {}, dryrun=False)

emit_metrics({
    "analytic_mse": error(rec_analytic),
    "analytic_max_abs_error": float(
        (rec_analytic["data"].reshape(truth["data"].shape) - truth["data"]).abs().max()
    ),
    "dlg_mse": error(rec_dlg),
    "label_leaked": float(torch.equal(rec_analytic["labels"].sort()[0], truth["labels"].sort()[0])),
    "record_energy": float(truth["data"].pow(2).mean()),
})
