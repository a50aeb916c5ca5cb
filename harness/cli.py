"""The ``harness`` command line: one Typer app, one place that maps errors to exit codes.

Exit codes (a contract): 0 the command did its job (a library that fails is a result, not an
error); 1 the harness itself failed; 2 bad usage or an invalid manifest; 3 a regression was found
where ``--fail-on-regression`` asked for it. Machine output (``--json``) goes to stdout alone;
progress and logs go to stderr.
"""

from __future__ import annotations

import sys

import typer

from harness.console import make_console
from harness.errors import HarnessError, ManifestError

app = typer.Typer(
    name="harness",
    help="Meta-benchmark of the open-source libraries for attacking ML in IoT systems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = make_console()


# Each module under harness/commands owns its commands; running one command imports only its module
# (start-up time: the batch, inspect and image modules pull in Ray, GitPython and Docker helpers).
COMMAND_MODULES = {
    "list": "catalogue",
    "validate": "catalogue",
    "evaluate": "evaluate",
    "inspect": "inspect",
    "report": "report",
    "rescore": "report",
    "run": "batch",
    "history": "batch",
    "diff": "batch",
    "nightly": "batch",
    "image": "images",
}
MODULES = ("catalogue", "evaluate", "inspect", "report", "batch", "images")
_registered: set[str] = set()


@app.callback()
def _root() -> None:
    # A callback keeps the app a group of commands even when only one command's module is registered.
    pass


def _register(argv: list[str] | None = None) -> None:
    """Register the module of the command ``argv`` names (every module for help or an unknown name)."""
    import importlib

    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    names = (COMMAND_MODULES[command],) if command in COMMAND_MODULES else MODULES
    for name in names:
        if name not in _registered:
            importlib.import_module(f"harness.commands.{name}").register(app)
            _registered.add(name)


def _is_click(exc: BaseException, name: str) -> bool:
    """Whether exc is click's `name` exception, from click itself or from the copy newer typer ships."""
    return any(cls.__name__ == name and cls.__module__.split(".")[-1] == "exceptions" for cls in type(exc).__mro__)


def main(argv: list[str] | None = None) -> int:
    _register(argv)
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:  # typer.Exit(code) comes back as a return value here
            return rc
    except HarnessError as exc:
        # One plain line (never wrapped, never read as markup): `file: field: message` for manifests.
        line = str(exc) if isinstance(exc, ManifestError) else f"error: {exc}"
        sys.stderr.write(line.replace("\n", " ") + "\n")
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:  # click's own usage errors in standalone_mode=False still raise
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # click usage errors, or a harness bug
        if _is_click(exc, "ClickException"):  # a bad flag, a missing option, an unknown command
            exc.show(file=sys.stderr)  # type: ignore[attr-defined]
            return 2
        if _is_click(exc, "Abort"):
            return 130
        err_console.print_exception()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
