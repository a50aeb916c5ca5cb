"""Facts about the machine an evaluation ran on (recorded once per record, scrubbed before storing)."""

from __future__ import annotations

import os
import platform
from functools import lru_cache

import psutil

from harness import gpu
from harness.records import Host


@lru_cache(maxsize=1)
def host_info() -> Host:
    gpus, note = gpu.list_gpus()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return Host(
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        python=platform.python_version(),
        cpu_count=usable,
        memory_bytes=int(psutil.virtual_memory().total),
        gpus=gpus,
        gpu_note=note,
    )
