"""CleverHans smoke: its PyTorch FGM and PGD (L-inf, eps 0.1) against an MLP trained on N-BaIoT.

CleverHans 4 ships framework-specific attack functions; this uses ``cleverhans.torch.attacks`` on
tabular IoT traffic features scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np
from _iot import accuracy, emit_metrics
from _torch_iot import evasion_setup, perturbation_linf, predict
from cleverhans.torch.attacks.fast_gradient_method import fast_gradient_method
from cleverhans.torch.attacks.projected_gradient_descent import projected_gradient_descent

EPS = 0.1

model, x, y, clean = evasion_setup()
x_fgm = fast_gradient_method(model, x, EPS, np.inf, clip_min=0.0, clip_max=1.0, y=y)
x_pgd = projected_gradient_descent(model, x, EPS, 0.01, 20, np.inf, clip_min=0.0, clip_max=1.0, y=y,
                                   rand_init=True, sanity_checks=False)
emit_metrics({
    "clean_accuracy": clean,
    "fgsm_accuracy": accuracy(predict(model, x_fgm), y.numpy()),
    "pgd_accuracy": accuracy(predict(model, x_pgd), y.numpy()),
    "pgd_linf": perturbation_linf(x_pgd, x),
})
