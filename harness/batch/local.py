"""The local executor: a pool of child processes, one evaluation each, kept inside the machine.

Each job runs in ``python -m harness.batch.worker`` (its own session, its stderr to a log file),
launched only when ``ResourcePool`` says its CPU, memory and GPU request fits beside the running
ones; a job that does not fit yet lets a later one that does go first. A crash or kill of one child
is that job's outcome, not the batch's end. When the batch stops for any reason the children are
terminated (and, should the driver be SIGKILLed, they notice through PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from harness.batch.executor import Outcome, PayloadFor, Sink
from harness.batch.jobs import Job
from harness.batch.resources import Allocation, ResourcePool
from harness.proctree import PR_SET_CHILD_SUBREAPER, kill_descendants, prctl

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
LOG_TAIL_LINES = 30


@dataclass
class _Child:
    job: Job
    proc: subprocess.Popen[bytes]
    alloc: Allocation
    log_path: Path
    record: dict[str, Any] | None = None
    error: str = ""
    stages: dict[str, str] = field(default_factory=dict)
    eof: bool = False


def _reader(job_id: str, stream: IO[bytes], events: queue.Queue[tuple[str, dict[str, Any]]]) -> None:
    for raw in stream:
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.put((job_id, event))
    events.put((job_id, {"event": "eof"}))


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _describe_exit(code: int | None) -> tuple[str, str]:
    """(failure class, message) for a child that ended without a record."""
    if code is not None and code < 0:
        sig = signal.Signals(-code)
        why = " (the kernel's out-of-memory killer sends this one)" if sig == signal.SIGKILL else ""
        return "crash", f"the evaluation process was killed by {sig.name}{why}"
    return "crash", f"the evaluation process exited with status {code} without a record"


class LocalExecutor:
    name = "local"

    def __init__(self, pool: ResourcePool, log_root: Path) -> None:
        self.pool, self.log_root = pool, log_root  # each job's stderr: <log_root>/<run id>/<job>.log
        self._baseline: set[int] = set()

    def _child_env(self, job: Job, alloc: Allocation) -> dict[str, str]:
        env = dict(os.environ)
        threads = str(max(1, int(alloc.cpus)))
        for var in THREAD_VARS:
            env.setdefault(var, threads)
        if alloc.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(alloc.gpu)
        elif job.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU evaluation must not find a GPU by accident
        return env

    def _launch(self, job: Job, alloc: Allocation, payload_for: PayloadFor,
                events: queue.Queue[tuple[str, dict[str, Any]]]) -> _Child:
        payload = payload_for(job)
        log_dir = self.log_root / (payload.options.run_id or "batch")
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{job.library}-{job.device}-{job.job_id}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.batch.worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                env=self._child_env(job, alloc), start_new_session=True,
            )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(pickle.dumps(payload))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # it died at once; its exit status tells why
        threading.Thread(target=_reader, args=(job.job_id, proc.stdout, events), daemon=True).start()
        return _Child(job=job, proc=proc, alloc=alloc, log_path=log_path)

    def _outcome(self, child: _Child) -> Outcome:
        code = child.proc.wait()
        if child.record is not None:
            return Outcome(record=child.record)
        if child.error:
            return Outcome(message=f"the harness failed: {child.error}", failure_class="harness-error",
                           log_tail=_tail(child.log_path), stages=child.stages)
        klass, message = _describe_exit(code)
        return Outcome(message=message, failure_class=klass, log_tail=_tail(child.log_path),
                       stages=child.stages)

    def _reap_orphans(self, running: dict[str, _Child]) -> None:
        """Kill what a dead worker left behind (its orphans were re-parented to this subreaper)."""
        spare = self._baseline | {c.proc.pid for c in running.values()}
        spare |= {d.pid for c in running.values() for d in _descendants(c.proc.pid)}
        kill_descendants(timeout_s=2.0, spare=frozenset(spare))

    def run(self, jobs: list[Job], payload_for: PayloadFor, sink: Sink) -> None:
        pending = list(jobs)
        running: dict[str, _Child] = {}
        events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        # As a child subreaper, the driver inherits the processes of a worker that died abruptly
        # (experiments run in sessions of their own) and can end them instead of leaving orphans.
        self._baseline = {c.pid for c in psutil.Process().children(recursive=True)}
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        try:
            while pending or running:
                for job in list(pending):
                    alloc = self.pool.acquire(job)
                    if alloc is None:
                        continue
                    pending.remove(job)
                    running[job.job_id] = self._launch(job, alloc, payload_for, events)
                    sink.started(job)
                try:
                    job_id, event = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                child = running[job_id]
                kind = event.get("event")
                if kind == "progress":
                    stage, status = str(event.get("stage", "")), str(event.get("status", ""))
                    child.stages[stage] = status
                    sink.progress(child.job, stage, status, str(event.get("message", "")))
                elif kind == "record":
                    child.record = event.get("record")
                elif kind == "error":
                    child.error = str(event.get("message", ""))
                elif kind == "eof":
                    outcome = self._outcome(child)
                    del running[job_id]
                    if outcome.record is None:
                        self._reap_orphans(running)
                    self.pool.release(child.job, child.alloc)
                    sink.finished(child.job, outcome)
        finally:
            stop_children([c.proc for c in running.values()])
            self._reap_orphans({})
            prctl(PR_SET_CHILD_SUBREAPER, 0)


def stop_children(procs: list[subprocess.Popen[bytes]], grace_s: float = 5.0) -> None:
    """SIGTERM each child (it takes its own descendants down), then SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
