"""One evaluation, run away from the batch driver: in a child process (local) or a Ray task.

``run_payload`` is the whole job: it calls ``harness.pipeline.evaluate`` and returns the record as
JSON-ready data (the driver stores it). ``python -m harness.batch.worker`` is the child-process
entry point: it reads a pickled payload on stdin and writes JSON lines on stdout (``progress``
events, then one ``record`` or ``error``); everything else the evaluation prints goes to stderr.
The child dies with its parent (PR_SET_PDEATHSIG) and, as a child subreaper (:mod:`harness.proctree`),
takes every process it started down with it, so neither a crash nor a kill of the batch leaves orphans behind.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import traceback
from dataclasses import dataclass
from typing import IO, Any

from harness.config import Settings
from harness.manifest import Manifest
from harness.pipeline import EvaluateOptions, ProgressFn
from harness.proctree import become_subreaper, kill_descendants


@dataclass(frozen=True)
class Payload:
    """Everything a worker needs; pickled to a child process or shipped to a Ray task."""

    job_id: str
    manifest: Manifest
    options: EvaluateOptions
    settings: Settings


def run_payload(payload: Payload, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Evaluate one job; the record as JSON data, stamped with the job id."""
    from harness.pipeline import evaluate

    record = evaluate(payload.manifest, payload.options, payload.settings, progress)
    if record.job_id != payload.job_id:
        record = record.model_copy(update={"job_id": payload.job_id})
    return record.model_dump(mode="json", by_alias=True)


def _on_signal(signum: int, _frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)
    kill_descendants(timeout_s=1.0)
    os._exit(128 + signum)


def _emit(stream: IO[str], event: str, **fields: Any) -> None:
    stream.write(json.dumps({"event": event, **fields}) + "\n")
    stream.flush()


def main() -> int:
    if not become_subreaper(die_with_parent=True):  # the parent died before the death signal was armed
        return 143
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the evaluation prints goes to the log, not into the protocol
    sys.stdout = sys.stderr
    payload: Payload = pickle.load(sys.stdin.buffer)

    def progress(stage: str, status: str, message: str) -> None:
        _emit(proto, "progress", stage=stage, status=status, message=message)

    try:
        record = run_payload(payload, progress)
    except BaseException as exc:  # a harness bug: reported to the driver, which records it
        traceback.print_exc()
        _emit(proto, "error", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        kill_descendants()
        return 1
    _emit(proto, "record", record=record)
    kill_descendants()
    return 0


if __name__ == "__main__":
    sys.exit(main())
