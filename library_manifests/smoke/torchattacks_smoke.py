"""torchattacks smoke: FGSM and PGD (L-inf, eps 0.1) against an MLP trained on the N-BaIoT sample.

Uses torchattacks' own attack classes on tabular IoT traffic features scaled to [0, 1] (the range
torchattacks clips adversarial inputs to). Reports clean and adversarial accuracy.
"""

from __future__ import annotations

import torchattacks
from _iot import accuracy, emit_metrics
from _torch_iot import evasion_setup, perturbation_linf, predict

EPS = 0.1

model, x, y, clean = evasion_setup()
fgsm = torchattacks.FGSM(model, eps=EPS)
pgd = torchattacks.PGD(model, eps=EPS, alpha=0.01, steps=20, random_start=True)
x_fgsm = fgsm(x, y)
x_pgd = pgd(x, y)
emit_metrics({
    "clean_accuracy": clean,
    "fgsm_accuracy": accuracy(predict(model, x_fgsm), y.numpy()),
    "pgd_accuracy": accuracy(predict(model, x_pgd), y.numpy()),
    "pgd_linf": perturbation_linf(x_pgd, x),
})
