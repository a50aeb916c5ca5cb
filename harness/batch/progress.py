"""The batch's progress on stderr: a live rich display on a terminal, plain lines otherwise.

Overall progress (jobs stored out of planned) and one line per running library with the stage it
is in. Nothing here writes to stdout, which belongs to ``--json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from harness.batch.jobs import Job

if TYPE_CHECKING:
    from harness.records import ResultRecord


class Display(Protocol):
    def start(self, run_id: str, jobs: list[Job], done: int) -> None: ...

    def job_started(self, job: Job) -> None: ...

    def job_progress(self, job: Job, stage: str, status: str, message: str) -> None: ...

    def job_finished(self, job: Job, record: ResultRecord) -> None: ...

    def stop(self) -> None: ...


def _outcome(record: ResultRecord) -> tuple[str, str]:
    """(text, rich style) describing how a record ended."""
    from harness.batch.runner import summary_status

    text = summary_status(record)
    if text == "passed":
        return f"passed ({record.reproducibility.verdict})", "green"
    bad = next(s for s in record.stages if s.status != "passed")
    klass = f" ({bad.failure.failure_class})" if bad.failure else ""
    return text + klass, "red" if bad.status == "error" else "yellow"


class QuietDisplay:
    """Shows nothing (``--quiet``, and the library API)."""

    def start(self, run_id: str, jobs: list[Job], done: int) -> None: ...

    def job_started(self, job: Job) -> None: ...

    def job_progress(self, job: Job, stage: str, status: str, message: str) -> None: ...

    def job_finished(self, job: Job, record: ResultRecord) -> None: ...

    def stop(self) -> None: ...


class LineDisplay:
    """One line per event, for logs and CI (stderr is not a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console, self.total, self.done = console, 0, 0

    def _say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def start(self, run_id: str, jobs: list[Job], done: int) -> None:
        self.total, self.done = len(jobs), done
        already = f", {done} already stored" if done else ""
        self._say(f"run {run_id}: {len(jobs)} job(s){already}")

    def job_started(self, job: Job) -> None:
        self._say(f"[{self.done}/{self.total}] {job.label}: started")

    def job_progress(self, job: Job, stage: str, status: str, message: str) -> None:
        if status != "running":
            self._say(f"[{self.done}/{self.total}] {job.label}: {stage} {status}")

    def job_finished(self, job: Job, record: ResultRecord) -> None:
        self.done += 1
        self._say(f"[{self.done}/{self.total}] {job.label}: {_outcome(record)[0]}")

    def stop(self) -> None: ...


class LiveDisplay:
    """A rich live display: the overall bar and a line per running library."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.overall: TaskID | None = None
        self.rows: dict[str, TaskID] = {}

    def start(self, run_id: str, jobs: list[Job], done: int) -> None:
        self.progress.start()
        self.overall = self.progress.add_task(f"[bold]run {run_id}", total=len(jobs), completed=done)

    def job_started(self, job: Job) -> None:
        self.rows[job.job_id] = self.progress.add_task(f"  {escape(job.label)}: starting", total=5)

    def job_progress(self, job: Job, stage: str, status: str, message: str) -> None:
        row = self.rows.get(job.job_id)
        if row is None:
            return
        detail = f" - {message}" if message and status == "running" else ""
        text = escape(f"{job.label}: {stage} {status}{detail}"[:100])
        self.progress.update(row, description=f"  {text}",
                             advance=1 if status != "running" else 0)

    def job_finished(self, job: Job, record: ResultRecord) -> None:
        text, style = _outcome(record)
        row = self.rows.pop(job.job_id, None)
        if row is not None:  # a finished library leaves the live area for a line above it
            self.progress.remove_task(row)
        self.progress.console.print(f"  {escape(job.label)}: [{style}]{escape(text)}[/{style}]",
                                    highlight=False)
        if self.overall is not None:
            self.progress.advance(self.overall)

    def stop(self) -> None:
        self.progress.stop()


def make_display(quiet: bool = False) -> Display:
    console = Console(stderr=True)
    if quiet:
        return QuietDisplay()
    return LiveDisplay(console) if console.is_terminal else LineDisplay(console)
