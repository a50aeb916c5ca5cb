"""AdverTorch smoke: GradientSignAttack and LinfPGDAttack (eps 0.1) against an MLP trained on N-BaIoT.

Uses AdverTorch's own adversary classes (``perturb``) on tabular IoT traffic features in [0, 1].
"""

from __future__ import annotations

from _iot import accuracy, emit_metrics
from _torch_iot import evasion_setup, perturbation_linf, predict
from advertorch.attacks import GradientSignAttack, LinfPGDAttack
from torch import nn

EPS = 0.1

model, x, y, clean = evasion_setup()
loss = nn.CrossEntropyLoss(reduction="sum")
fgsm = GradientSignAttack(model, loss_fn=loss, eps=EPS, clip_min=0.0, clip_max=1.0)
pgd = LinfPGDAttack(model, loss_fn=loss, eps=EPS, nb_iter=20, eps_iter=0.01, rand_init=True,
                    clip_min=0.0, clip_max=1.0)
x_fgsm = fgsm.perturb(x, y)
x_pgd = pgd.perturb(x, y)
emit_metrics({
    "clean_accuracy": clean,
    "fgsm_accuracy": accuracy(predict(model, x_fgsm), y.numpy()),
    "pgd_accuracy": accuracy(predict(model, x_pgd), y.numpy()),
    "pgd_linf": perturbation_linf(x_pgd, x),
})
