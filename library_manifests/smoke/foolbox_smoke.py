"""Foolbox smoke: FGSM and L-inf PGD (eps 0.1) against an MLP trained on the N-BaIoT sample.

Wraps the PyTorch model with foolbox's PyTorchModel (bounds [0, 1]) and runs its own attacks; the
robust accuracy is 1 - the attack's success rate, as foolbox reports it.
"""

from __future__ import annotations

import foolbox as fb
from _iot import accuracy, emit_metrics
from _torch_iot import evasion_setup, perturbation_linf, predict

EPS = 0.1

model, x, y, clean = evasion_setup()
fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0))
_, x_fgsm, success_fgsm = fb.attacks.FGSM()(fmodel, x, y, epsilons=EPS)
_, x_pgd, success_pgd = fb.attacks.LinfPGD(steps=20, rel_stepsize=0.1)(fmodel, x, y, epsilons=EPS)
emit_metrics({
    "clean_accuracy": clean,
    "foolbox_clean_accuracy": float(fb.utils.accuracy(fmodel, x, y)),
    "fgsm_accuracy": 1.0 - float(success_fgsm.float().mean()),
    "pgd_accuracy": accuracy(predict(model, x_pgd), y.numpy()),
    "pgd_linf": perturbation_linf(x_pgd, x),
})
