"""The survey's taxonomy: attack families and the axes a library is classified on."""

from __future__ import annotations

from typing import Literal, get_args

Family = Literal[
    "membership-inference",
    "adversarial",
    "reconstruction",
    "property-inference",
    "model-extraction",
    "poisoning",
]
SecurityProperty = Literal["confidentiality", "integrity", "availability"]
Knowledge = Literal["white-box", "grey-box", "black-box"]
Target = Literal["data", "model"]
Origin = Literal["author", "third-party"]
Confidence = Literal["high", "medium", "low"]
Framework = Literal["torch", "tensorflow", "keras", "theano", "lasagne", "jax", "sklearn", "numpy", "other"]
DataType = Literal["image", "tabular", "time-series", "text", "graph", "audio"]

FAMILIES: tuple[str, ...] = get_args(Family)

# What each family puts at risk (used to check a manifest's taxonomy is consistent).
FAMILY_PROPERTIES: dict[str, frozenset[str]] = {
    "membership-inference": frozenset({"confidentiality"}),
    "reconstruction": frozenset({"confidentiality"}),
    "property-inference": frozenset({"confidentiality"}),
    "model-extraction": frozenset({"confidentiality"}),
    "adversarial": frozenset({"integrity", "availability"}),
    "poisoning": frozenset({"integrity", "availability"}),
}
