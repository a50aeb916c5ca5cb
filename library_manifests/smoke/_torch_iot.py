"""A small PyTorch classifier on the N-BaIoT sample, shared by the evasion smoke scripts.

Evasion libraries (foolbox, torchattacks, cleverhans, DeepRobust, AdverTorch) attack the same model
so their numbers compare: a two-layer MLP trained on the four-class N-BaIoT sample, with features
min-max scaled to [0, 1] (the box most attack APIs clip to). Needs numpy and torch only; runs on one
CPU thread so repeats are deterministic and the cost matches a gateway-class device.
"""

from __future__ import annotations

import numpy as np
import torch
from _iot import accuracy, load_nbaiot, seed_everything
from torch import nn


def nbaiot_unit_box(binary: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The N-BaIoT split with features scaled into [0, 1] by the training split's min and max."""
    X_train, X_test, y_train, y_test, _, _ = load_nbaiot(binary=binary, standardize=False)
    lo, hi = X_train.min(axis=0), X_train.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    X_train = ((X_train - lo) / span).astype(np.float32)
    X_test = np.clip((X_test - lo) / span, 0.0, 1.0).astype(np.float32)
    return X_train, X_test, y_train, y_test


def train_mlp(
    X: np.ndarray, y: np.ndarray, *, hidden: int = 64, epochs: int = 60, lr: float = 1e-2
) -> nn.Module:
    """A seeded MLP fitted with full-batch Adam; returned in eval mode."""
    seed_everything()
    torch.set_num_threads(1)
    n_classes = int(y.max()) + 1
    model = nn.Sequential(nn.Linear(X.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()
    return model.eval()


def _numpy(a: torch.Tensor | np.ndarray) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def predict(model: nn.Module, X: np.ndarray | torch.Tensor) -> np.ndarray:
    xt = torch.as_tensor(_numpy(X), dtype=torch.float32)
    with torch.no_grad():
        return model(xt).argmax(dim=1).numpy()


def evasion_setup() -> tuple[nn.Module, torch.Tensor, torch.Tensor, float]:
    """The trained model, the test inputs and labels as tensors, and the model's clean accuracy."""
    X_train, X_test, y_train, y_test = nbaiot_unit_box()
    model = train_mlp(X_train, y_train)
    clean = accuracy(predict(model, X_test), y_test)
    return model, torch.from_numpy(X_test), torch.from_numpy(y_test), clean


def perturbation_linf(adv: torch.Tensor | np.ndarray, x: torch.Tensor | np.ndarray) -> float:
    """The largest absolute change of any feature (checks the attack stayed within its budget)."""
    return float(np.abs(_numpy(adv).astype(np.float64) - _numpy(x).astype(np.float64)).max())
