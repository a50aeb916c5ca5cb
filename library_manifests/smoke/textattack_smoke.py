"""TextAttack smoke: a DeepWordBug-style character attack on a small IoT log-line classifier.

TextAttack's recipes load their victim models from the Hugging Face hub; this smoke builds its own
victim offline instead: a character-trigram bag-of-features classifier (PyTorch) trained on 24 short
IoT device log lines written for this smoke (benign events vs botnet-like activity), wrapped in
TextAttack's PyTorchModelWrapper. The attack is assembled from TextAttack's own components as in the
DeepWordBug recipe (Gao et al. 2018): character swaps/deletions/insertions/substitutions,
greedy word-importance search, edit-distance and repeat constraints, with an explicit stop-word list
so the result does not depend on NLTK's corpus. Reports clean accuracy and attack success rate.
"""

from __future__ import annotations

import os
import zlib

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from _iot import emit_metrics, seed_everything
from textattack import Attack
from textattack.attack_results import SkippedAttackResult, SuccessfulAttackResult
from textattack.constraints.overlap import LevenshteinEditDistance
from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
from textattack.goal_functions import UntargetedClassification
from textattack.models.wrappers import PyTorchModelWrapper
from textattack.search_methods import GreedyWordSwapWIR
from textattack.transformations import (
    CompositeTransformation,
    WordSwapNeighboringCharacterSwap,
    WordSwapRandomCharacterDeletion,
    WordSwapRandomCharacterInsertion,
    WordSwapRandomCharacterSubstitution,
)
from torch import nn

BENIGN = [
    "thermostat reported temperature reading to the cloud service",
    "doorbell camera uploaded motion clip after schedule check",
    "smart plug synchronised clock with the ntp server",
    "baby monitor streamed audio to the paired phone app",
    "security camera firmware update finished successfully",
    "thermostat changed heating schedule for the weekend",
    "webcam sent heartbeat message to the vendor portal",
    "doorbell button pressed and notification delivered",
    "smart plug reported power usage for the last hour",
    "camera rotated to preset position requested by user",
    "thermostat fetched weather forecast from the api",
    "monitor reconnected to wifi access point after reboot",
]
ATTACK = [
    "telnet login attempt with default password root xc3511",
    "device flooded target with udp packets on random ports",
    "busybox wget downloaded binary from unknown host",
    "scanner probed many addresses on port 23 and 2323",
    "device opened shell and executed tftp get command",
    "syn flood launched against remote web server",
    "brute force login attempts with admin admin credentials",
    "bot contacted command and control server over irc",
    "udp plain flood sent at maximum packet rate",
    "infected camera scanning subnet for open telnet",
    "malware killed watchdog process and deleted binary",
    "gafgyt bot started junk flood toward victim address",
]
STOPWORDS = {"the", "a", "to", "and", "for", "with", "from", "on", "of", "at", "by", "after", "over"}
DIM = 512

seed_everything()
torch.set_num_threads(1)


def featurise(texts: list[str]) -> list[list[float]]:
    """Hashed character-trigram counts, L2-normalised (a tokenizer TextAttack can call)."""
    rows = []
    for text in texts:
        v = np.zeros(DIM, dtype=np.float32)
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            v[zlib.crc32(padded[i:i + 3].encode()) % DIM] += 1.0
        rows.append((v / max(np.linalg.norm(v), 1e-6)).tolist())
    return rows


texts = BENIGN + ATTACK
labels = [0] * len(BENIGN) + [1] * len(ATTACK)
model = nn.Linear(DIM, 2)
opt = torch.optim.Adam(model.parameters(), lr=0.05)
x, y = torch.tensor(featurise(texts)), torch.tensor(labels)
for _ in range(200):
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
model.eval()
clean = float((model(x).argmax(dim=1) == y).float().mean())

wrapper = PyTorchModelWrapper(model, featurise)
transformation = CompositeTransformation([
    WordSwapNeighboringCharacterSwap(random_one=True),
    WordSwapRandomCharacterSubstitution(random_one=True),
    WordSwapRandomCharacterDeletion(random_one=True),
    WordSwapRandomCharacterInsertion(random_one=True),
])
constraints = [RepeatModification(), StopwordModification(stopwords=STOPWORDS), LevenshteinEditDistance(30)]
attack = Attack(UntargetedClassification(wrapper), constraints, transformation, GreedyWordSwapWIR())

results = [attack.attack(text, label) for text, label in zip(texts, labels, strict=True)]
attempted = [r for r in results if not isinstance(r, SkippedAttackResult)]
succeeded = [r for r in attempted if isinstance(r, SuccessfulAttackResult)]
emit_metrics({
    "clean_accuracy": clean,
    "attack_success_rate": len(succeeded) / max(len(attempted), 1),
    "accuracy_under_attack": (len(attempted) - len(succeeded)) / len(results),
})
