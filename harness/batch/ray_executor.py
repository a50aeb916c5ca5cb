"""The Ray executor: each evaluation a Ray task with its CPU, memory and GPU request.

Tasks return the record as data; the driver stores it (workers on other nodes never write into the
driver's results directory). Without ``--address`` a local Ray instance is started for the batch
and shut down after it; a Ray session the caller already opened is used as it is.
"""

from __future__ import annotations

import os
from typing import Any

from harness.batch.executor import Outcome, PayloadFor, Sink
from harness.batch.jobs import Job
from harness.batch.worker import Payload, run_payload
from harness.errors import BackendUnavailable

LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2


def _evaluate_task(payload: Payload) -> dict[str, Any]:
    return run_payload(payload)


def gpu_request(job: Job, gpu_totals: list[int]) -> float:
    """Ray's ``num_gpus``: a whole GPU, or the share of the smallest known GPU the job declares."""
    if not job.resources.gpus:
        return 0.0
    need = job.resources.gpu_memory_bytes
    if need is None or not gpu_totals:
        return 1.0
    return min(1.0, max(0.01, round(need / min(gpu_totals), 2)))


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def run(self, jobs: list[Job], payload_for: PayloadFor, sink: Sink) -> None:
        try:
            import ray
        except ImportError:
            raise BackendUnavailable(
                "--executor ray needs Ray: pip install 'iot-attack-harness[ray]'") from None
        from harness import gpu

        owned = not ray.is_initialized()
        if owned:
            local = self.address is None and not os.environ.get("RAY_ADDRESS")
            # records are small: a local instance needs no multi-GB object store
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES if local else None)
        totals = [g.memory_bytes for g in gpu.list_gpus()[0]]
        remote = ray.remote(_evaluate_task)
        refs: dict[Any, Job] = {}
        try:
            for job in jobs:
                ref = remote.options(
                    num_cpus=job.resources.cpus,
                    num_gpus=gpu_request(job, totals),
                    memory=job.resources.memory_bytes,
                    max_retries=0,
                    name=f"harness-evaluate:{job.library}:{job.device}",
                ).remote(payload_for(job))
                refs[ref] = job
                sink.started(job)
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
                for ref in done:
                    job = refs.pop(ref)
                    try:
                        outcome = Outcome(record=ray.get(ref))
                    except Exception as exc:  # RayTaskError, WorkerCrashedError, OutOfMemoryError ...
                        klass = "out-of-memory" if "OutOfMemory" in type(exc).__name__ else "crash"
                        outcome = Outcome(message=f"the Ray task failed: {type(exc).__name__}",
                                          failure_class=klass, log_tail=str(exc)[-4000:])
                    sink.finished(job, outcome)
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
            if owned:
                ray.shutdown()
