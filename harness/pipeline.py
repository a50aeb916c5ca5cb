"""The orchestrator: manifest -> source -> environment -> experiments -> evaluation -> record.

(Contract stub: owned by the issue-2 implementation. ``evaluate`` is what batch runners call.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.config import Settings
from harness.manifest import Manifest
from harness.records import ResultRecord


@dataclass(frozen=True)
class EvaluateOptions:
    backend: str = "venv"  # "venv" | "docker"
    device: str = "cpu"  # "cpu" | "gpu" | "auto" (resolved before the record is made)
    repeats: int = 3
    timeout_s: float | None = None  # overrides the experiment's timeout_s
    profile: str = "default"
    seed: int = 0
    run_id: str | None = None  # batch runs share one run id


# progress callback: (stage name, status or "running", message)
ProgressFn = Callable[[str, str, str], None]


def evaluate(
    manifest: Manifest,
    options: EvaluateOptions,
    settings: Settings,
    progress: ProgressFn | None = None,
) -> ResultRecord:
    """Run every stage for one (library, backend, device, profile); never raises for a library's failure."""
    raise NotImplementedError
