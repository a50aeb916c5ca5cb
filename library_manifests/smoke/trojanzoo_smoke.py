"""TrojanZoo smoke: a BadNets backdoor in an N-BaIoT botnet detector, through TrojanZoo's own API.

TrojanZoo is built for images; its dataset and model classes are subclassed here the way its own
ones are (an ImageSet whose records are the N-BaIoT sample's 100 features, min-max scaled to [0, 1]
and laid out as a 1x10x10 "image"; an ImageModel whose network is a small MLP). The flow is the one
of its examples/backdoor_attack.py: trojanvision environ, trainer, marks (a 2x3 trigger = six traffic
features set to fixed values) and attacks ('badnet', 10 % of each batch poisoned, target class 0 =
benign), then attack.attack(**trainer) and attack.validate_fn(). Reports the clean accuracy and the
attack success rate (triggered test records classified as benign).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import trojanvision.attacks
import trojanvision.environ
import trojanvision.marks
import trojanvision.trainer
from _iot import emit_metrics, seed
from _torch_iot import nbaiot_unit_box
from torch import nn
from trojanvision.datasets import ImageSet
from trojanvision.models import ImageModel, _ImageModel

SHAPE = [1, 10, 10]  # the 100 N-BaIoT features (HH_jit_* dropped)
X_train, X_test, y_train, y_test = nbaiot_unit_box()


class NBaIoT(ImageSet):
    """The N-BaIoT sample as a TrojanZoo dataset (four classes, 0 = benign)."""

    name = "nbaiot"
    num_classes = 4
    data_shape = SHAPE
    valid_set = True

    def initialize(self) -> None:  # nothing to download
        pass

    def _get_org_dataset(self, mode: str, transform: object = None, **kwargs: object) -> torch.utils.data.Dataset:
        X, y = (X_train, y_train) if mode == "train" else (X_test, y_test)
        return torch.utils.data.TensorDataset(torch.from_numpy(X).reshape(-1, *SHAPE), torch.from_numpy(y))


class _IoTNet(_ImageModel):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(X_train.shape[1], 64), nn.ReLU())
        self.pool = nn.Identity()
        self.classifier = nn.Sequential(nn.Linear(64, self.num_classes))


class IoTNet(ImageModel):
    available_models = {"iotnet"}

    def __init__(self, name: str = "iotnet", model: type[_IoTNet] = _IoTNet, **kwargs: object) -> None:
        super().__init__(name=name, model=model, **kwargs)


work = Path(tempfile.mkdtemp(prefix="trojanzoo-", dir=os.environ.get("HARNESS_WORK_DIR")))
env = trojanvision.environ.create(device="cpu", seed=seed(), verbose=0)
torch.set_num_threads(1)
dataset = NBaIoT(batch_size=64, valid_batch_size=256, num_workers=0, folder_path=str(work / "data"))
model = IoTNet(dataset=dataset, folder_path=str(work / "model"))
trainer = trojanvision.trainer.create(dataset=dataset, model=model, epochs=60, lr=0.1)
mark = trojanvision.marks.create(dataset=dataset, mark_height=2, mark_width=3, mark_random_init=True)
attack = trojanvision.attacks.create(dataset=dataset, model=model, mark=mark, attack_name="badnet",
                                     poison_percent=0.1, folder_path=str(work / "attack"))
attack.attack(**trainer)
asr, clean = attack.validate_fn()  # percentages
emit_metrics({"clean_accuracy": float(clean) / 100.0, "attack_success_rate": float(asr) / 100.0})
