"""Hardware profiles that emulate IoT devices: limits applied to every experiment of a run."""

from __future__ import annotations

from harness.envs.base import Limits
from harness.errors import UsageError

GIB = 1024**3

PROFILES: dict[str, Limits] = {
    "default": Limits(),
    "edge-1g": Limits(cpus=1, memory_bytes=1 * GIB, gpu=False),
    "gateway-4g": Limits(cpus=2, memory_bytes=4 * GIB, gpu=False),
}

DESCRIPTIONS: dict[str, str] = {
    "default": "no limits (the host as it is)",
    "edge-1g": "1 CPU, 1 GiB, no GPU (an edge device)",
    "gateway-4g": "2 CPUs, 4 GiB, no GPU (an IoT gateway)",
}


def get_profile(name: str) -> Limits:
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown profile '{name}'; known: {', '.join(PROFILES)}") from None
