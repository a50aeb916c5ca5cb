"""GPUs through NVML (nvidia-ml-py): which GPUs the host has, and how much memory a set of pids uses.

Every function degrades to a clear "no GPU: ..." note instead of raising, so callers record *why*
nothing was measured rather than a silent zero.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from harness.records import GpuInfo

_lock = threading.Lock()
_state: dict[str, Any] = {"init": None, "note": ""}


def _nvml() -> Any | None:
    """The initialised pynvml module, or None (the reason is kept for ``gpu_note``)."""
    with _lock:
        if _state["init"] is not None:
            return _state["init"] or None
        try:
            import pynvml

            pynvml.nvmlInit()
        except ImportError:
            _state["init"], _state["note"] = False, "no GPU: nvidia-ml-py is not installed"
            return None
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            _state["init"], _state["note"] = False, f"no GPU: NVML not available ({exc})"
            return None
        _state["init"] = pynvml
        return pynvml


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def list_gpus() -> tuple[list[GpuInfo], str]:
    """The host's GPUs and a note ("" when at least one GPU was found)."""
    nvml = _nvml()
    if nvml is None:
        return [], str(_state["note"])
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus = []
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuInfo(
                    index=i,
                    name=_text(nvml.nvmlDeviceGetName(handle)),
                    memory_bytes=int(mem.total),
                    driver=driver,
                )
            )
    except Exception as exc:
        return [], f"no GPU: NVML query failed ({exc})"
    return gpus, "" if gpus else "no GPU: NVML found no devices"


def free_memory() -> list[tuple[int, int]]:
    """(index, free bytes) of each GPU now; empty without NVML or a GPU (``gpu_note`` says why)."""
    nvml = _nvml()
    if nvml is None:
        return []
    try:
        return [
            (i, int(nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(i)).free))
            for i in range(nvml.nvmlDeviceGetCount())
        ]
    except Exception as exc:
        _state["note"] = f"no GPU: NVML query failed ({exc})"
        return []


def has_gpu() -> bool:
    return bool(list_gpus()[0])


def gpu_note() -> str:
    """Why GPU memory is not measured here ("" when it is)."""
    return list_gpus()[1]


def memory_of_pids(pids: Iterable[int]) -> int | None:
    """Summed GPU memory used by these pids on all GPUs; None when NVML is unavailable."""
    nvml = _nvml()
    if nvml is None:
        return None
    wanted = set(pids)
    total = 0
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            procs = list(nvml.nvmlDeviceGetComputeRunningProcesses(handle))
            procs += list(nvml.nvmlDeviceGetGraphicsRunningProcesses(handle))
            total += sum(int(p.usedGpuMemory or 0) for p in procs if p.pid in wanted)
    except Exception:
        return None
    return total
