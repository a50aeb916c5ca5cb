"""DeepRobust smoke: its image-attack FGSM and PGD (L-inf, eps 0.1) on an MLP trained on N-BaIoT.

DeepRobust's image attacks take any PyTorch classifier and tensor batch; here they attack the
shared N-BaIoT MLP (features scaled to [0, 1], the box its PGD clips to).
"""

from __future__ import annotations

import numpy as np
from _iot import accuracy, emit_metrics
from _torch_iot import evasion_setup, perturbation_linf, predict
from deeprobust.image.attack.fgsm import FGSM
from deeprobust.image.attack.pgd import PGD

EPS = 0.1

model, x, y, clean = evasion_setup()
x_fgsm = FGSM(model, device="cpu").generate(x, y, epsilon=EPS, order=np.inf, clip_min=0.0, clip_max=1.0)
x_pgd = PGD(model, device="cpu").generate(x, y, epsilon=EPS, num_steps=20, step_size=0.01,
                                          clip_min=0.0, clip_max=1.0, print_process=False)
emit_metrics({
    "clean_accuracy": clean,
    "fgsm_accuracy": accuracy(predict(model, x_fgsm), y.numpy()),
    "pgd_accuracy": accuracy(predict(model, x_pgd), y.numpy()),
    "pgd_linf": perturbation_linf(x_pgd, x),
})
