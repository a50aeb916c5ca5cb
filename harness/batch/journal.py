"""The run journal: an append-only, fsynced JSON-lines log of what a batch planned, started and stored.

One file per run, ``<results>/runs/<run_id>.jsonl``. Every line is written with one ``write`` call
and fsynced before the batch moves on, so a batch killed at any moment (even by SIGKILL) leaves at
worst one torn last line, which readers skip. Events:

    {"event": "batch", "run_id", "at", "options"}            once, when the run is created
    {"event": "resumed", "at"}                                each time ``--resume`` picks it up
    {"event": "planned", "job_id", "library", "backend", "device", "profile"}
    {"event": "started", "job_id", "at"}
    {"event": "finished", "job_id", "at", "record", "status"}  record: file name under the results dir
    {"event": "interrupted", "at", "signal"} / {"event": "completed", "at", "counts"}

The stored records stay the source of truth: a job is complete when a valid record of this run
carries its job id (a kill between storing a record and journaling it loses nothing).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError

RUNS_DIR = "runs"


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_run_id() -> str:
    """Sortable by time, unique across hosts: ``20260103T021500Z-3f9a``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class JournalState:
    """What a journal says so far."""

    run_id: str
    options: dict[str, Any] = field(default_factory=dict)
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)  # job id -> planned event
    started: dict[str, int] = field(default_factory=dict)  # job id -> times started
    finished: dict[str, str] = field(default_factory=dict)  # job id -> record file name
    completed: bool = False


class Journal:
    """Appends fsynced events to one run's journal file."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path, self.run_id = path, run_id
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            _fsync_dir(path.parent)
        elif path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            os.write(self._fd, b"\n")  # isolate a line torn by a kill

    @classmethod
    def create(cls, results_dir: Path, run_id: str, options: dict[str, Any]) -> Journal:
        path = journal_path(results_dir, run_id)
        if path.exists():
            raise UsageError(f"{path}: run id: a journal for run '{run_id}' exists; use --resume")
        journal = cls(path, run_id)
        journal.append("batch", run_id=run_id, options=options)
        return journal

    def append(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "at": utc_now(), **fields}, sort_keys=True) + "\n"
        os.write(self._fd, line.encode())
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def journal_path(results_dir: Path, run_id: str) -> Path:
    return results_dir / RUNS_DIR / f"{run_id}.jsonl"


def read_journal(path: Path) -> JournalState:
    """Replay a journal; torn or foreign lines are skipped."""
    state = JournalState(run_id=path.stem)
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            ev = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if not isinstance(ev, dict):
            continue
        kind, jid = ev.get("event"), ev.get("job_id")
        if kind == "batch":
            state.options = dict(ev.get("options") or {})
        elif kind == "planned" and isinstance(jid, str):
            state.planned.setdefault(jid, ev)
        elif kind == "started" and isinstance(jid, str):
            state.started[jid] = state.started.get(jid, 0) + 1
        elif kind == "finished" and isinstance(jid, str):
            state.finished[jid] = str(ev.get("record", ""))
        elif kind == "completed":
            state.completed = True
        elif kind == "resumed":
            state.completed = False
    return state


def list_journals(results_dir: Path) -> list[Path]:
    """Every run journal, oldest run first (run ids sort by time)."""
    folder = results_dir / RUNS_DIR
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def latest_journal(results_dir: Path, *, unfinished_first: bool = True) -> Path | None:
    """The journal ``--resume`` picks: the newest unfinished run, else the newest run."""
    journals = list_journals(results_dir)
    if unfinished_first:
        for path in reversed(journals):
            if not read_journal(path).completed:
                return path
    return journals[-1] if journals else None
