"""What an executor is: it runs planned jobs somewhere and reports each one's outcome to a sink.

Executors never store anything: the driver (``harness.batch.runner``) receives every outcome and
is the only writer of records and journal lines, whichever executor ran the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.batch.jobs import Job
from harness.batch.worker import Payload


@dataclass(frozen=True)
class Outcome:
    """A job's end: the record it produced, or why it produced none."""

    record: dict[str, Any] | None = None
    message: str = ""  # why there is no record
    failure_class: str = "crash"
    log_tail: str = ""
    stages: dict[str, str] = field(default_factory=dict)  # last status each stage reported


class Sink(Protocol):
    def started(self, job: Job) -> None: ...

    def progress(self, job: Job, stage: str, status: str, message: str) -> None: ...

    def finished(self, job: Job, outcome: Outcome) -> None: ...


PayloadFor = Callable[[Job], Payload]


class Executor(Protocol):
    name: str

    def run(self, jobs: list[Job], payload_for: PayloadFor, sink: Sink) -> None:
        """Run every job, calling the sink from the calling thread; stop children on any exit."""
