"""AutoAttack IoT probe: APGD-CE and APGD-DLR (L-inf, eps 0.1) against an MLP on the N-BaIoT sample.

Uses the repository's own ``autoattack.AutoAttack`` (installed from the checkout) in its "custom"
version with the two gradient attacks that accept flat feature vectors (Square and FAB-T assume
NCHW images). Features are scaled to [0, 1], the box AutoAttack clips to. Reports clean accuracy and
robust accuracy after the attacks, as AutoAttack computes it.
"""

from __future__ import annotations

import torch
from _iot import accuracy, emit_metrics, seed
from _torch_iot import evasion_setup, perturbation_linf, predict
from autoattack import AutoAttack

EPS = 0.1

model, x, y, clean = evasion_setup()
adversary = AutoAttack(model, norm="Linf", eps=EPS, version="custom", attacks_to_run=["apgd-ce", "apgd-dlr"],
                       seed=seed(), device=torch.device("cpu"))
adversary.apgd.n_iter = 20
adversary.apgd.n_restarts = 1
x_adv = adversary.run_standard_evaluation(x, y, bs=len(y))
emit_metrics({
    "clean_accuracy": clean,
    "robust_accuracy": accuracy(predict(model, x_adv), y.numpy()),
    "linf": perturbation_linf(x_adv, x),
})
