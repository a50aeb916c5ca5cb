"""The harness's error tree: every expected failure is one of these.

Stage failures carry a ``failure_class`` (a contract value stored in result records) and a ``hint``.
The pipeline (``harness.pipeline``) is the one place that turns them into stage statuses; the CLI
(``harness.cli``) is the one place that turns usage errors into exit codes.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code = 1


class UsageError(HarnessError):
    """Bad input from the user: a wrong flag value, an unknown library, a missing file (exit 2)."""

    exit_code = 2


class ManifestError(UsageError):
    """An invalid manifest; ``str()`` is the contract line ``file: field: message``."""

    def __init__(self, file: str, field: str, message: str, *, more: tuple[tuple[str, str], ...] = ()) -> None:
        self.file, self.field, self.message = file, field, message
        # every problem found, first one included: `harness validate` lists them all
        self.lines = [f"{file}: {f}: {m}" for f, m in ((field, message), *more)]
        super().__init__(self.lines[0])


class UnknownLibrary(UsageError):
    def __init__(self, slug: str, suggestions: list[str]) -> None:
        self.slug, self.suggestions = slug, suggestions
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown library '{slug}'{hint}")


class BackendUnavailable(HarnessError):
    """A backend (Docker engine, GPU) is not usable on this host; the reason says why."""


class StageFailure(HarnessError):
    """A stage failed for a reason that belongs in the record (not a harness bug)."""

    failure_class = "crash"
    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        failure_class: str | None = None,
        hint: str | None = None,
        log_tail: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        if failure_class is not None:
            self.failure_class = failure_class
        self.hint = hint if hint is not None else self.default_hint
        self.log_tail = log_tail


class FetchError(StageFailure):
    failure_class = "source-unavailable"
    default_hint = "check the repository URL, the pinned commit or version, and the mirror setting"


class UnsafeSource(FetchError):
    failure_class = "unsafe-source"
    default_hint = "only https, ssh and (when allowed) file transports are used; fix the URL"


class BuildError(StageFailure):
    failure_class = "dependency-resolution"
    default_hint = "pin compatible versions in the manifest's environment.requirements"


class ImportCheckError(StageFailure):
    failure_class = "import-error"


class ExperimentError(StageFailure):
    failure_class = "crash"


class ExperimentTimeout(ExperimentError):
    failure_class = "timeout"
    default_hint = "raise --timeout or the experiment's timeout_s, or shrink its settings"


class MissingData(ExperimentError):
    failure_class = "missing-data"
    default_hint = "put the declared data file into the data cache (HARNESS_DATA_CACHE)"
