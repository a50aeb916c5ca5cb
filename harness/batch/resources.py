"""What the local machine can give a batch, and the bookkeeping that keeps jobs inside it.

``ResourcePool`` admits a job only while the CPU cores, the memory and the GPUs it asks for are free:
a GPU job holds a whole GPU unless its manifest declares how much GPU memory it needs, in which case
several such jobs share a GPU while their declared needs fit in the memory NVML reported free.
The pool is pure bookkeeping (no processes), so its rules are tested directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psutil

from harness.batch.jobs import Job

MEMORY_RESERVE = 0.9  # share of the memory available at start that a batch may plan to use


@dataclass
class GpuState:
    index: int
    free_bytes: int | None  # free memory NVML reported when the batch started (None: unknown)
    exclusive: bool = False  # held by one job that declared no memory need
    shared_bytes: int = 0  # sum of the declared needs of the jobs sharing it
    jobs: int = 0


@dataclass(frozen=True)
class Allocation:
    cpus: float
    memory_bytes: int
    gpu: int | None  # the GPU index the job may see (CUDA_VISIBLE_DEVICES), None for none


def usable_cpus() -> int:
    """CPU cores this process may run on (affinity and cgroup-pinned sets included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def discover_gpus() -> list[GpuState]:
    """The GPUs NVML sees, with their free memory now; empty when there is no NVML or no GPU."""
    from harness import gpu

    return [GpuState(index=i, free_bytes=free) for i, free in gpu.free_memory()]


@dataclass
class ResourcePool:
    max_jobs: int
    cpus: float
    memory_bytes: int
    gpus: list[GpuState] = field(default_factory=list)
    used_cpus: float = 0.0
    used_memory: int = 0
    running: int = 0

    @classmethod
    def local(cls, max_jobs: int) -> ResourcePool:
        return cls(max_jobs=max(1, max_jobs), cpus=float(usable_cpus()),
                   memory_bytes=int(psutil.virtual_memory().available * MEMORY_RESERVE),
                   gpus=discover_gpus())

    def _pick_gpu(self, job: Job) -> GpuState | None:
        need = job.resources.gpu_memory_bytes
        for gpu in self.gpus:
            if gpu.exclusive:
                continue
            if need is None or gpu.free_bytes is None:
                if gpu.jobs == 0:
                    return gpu
            elif gpu.shared_bytes + need <= gpu.free_bytes:
                return gpu
        return None

    def acquire(self, job: Job) -> Allocation | None:
        """Reserve what ``job`` needs and return it, or None while it does not fit beside running jobs."""
        if self.running >= self.max_jobs:
            return None
        # A request larger than the machine is clamped, so that every job can run at least alone.
        cpus = min(job.resources.cpus, self.cpus)
        memory = min(job.resources.memory_bytes, self.memory_bytes)
        if self.running and (self.used_cpus + cpus > self.cpus + 1e-9 or
                             self.used_memory + memory > self.memory_bytes):
            return None
        gpu: GpuState | None = None
        if job.resources.gpus and self.gpus:
            gpu = self._pick_gpu(job)
            if gpu is None:
                return None
            need = job.resources.gpu_memory_bytes
            if need is None or gpu.free_bytes is None:
                gpu.exclusive = True
            else:
                gpu.shared_bytes += need
            gpu.jobs += 1
        # (A GPU job on a host without GPUs runs anyway: the pipeline records "cuda-unavailable".)
        self.used_cpus += cpus
        self.used_memory += memory
        self.running += 1
        return Allocation(cpus=cpus, memory_bytes=memory, gpu=gpu.index if gpu else None)

    def release(self, job: Job, alloc: Allocation) -> None:
        self.used_cpus -= alloc.cpus
        self.used_memory -= alloc.memory_bytes
        self.running -= 1
        if alloc.gpu is not None:
            gpu = next(g for g in self.gpus if g.index == alloc.gpu)
            gpu.jobs -= 1
            if gpu.exclusive:
                gpu.exclusive = False
            elif job.resources.gpu_memory_bytes is not None:
                gpu.shared_bytes -= job.resources.gpu_memory_bytes
