"""The ``harness`` command line: one Typer app, one place that maps errors to exit codes.

Exit codes (a contract): 0 the command did its job (a library that fails is a result, not an
error); 1 the harness itself failed; 2 bad usage or an invalid manifest; 3 a regression was found
where ``--fail-on-regression`` asked for it. Machine output (``--json``) goes to stdout alone;
progress and logs go to stderr.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from harness.errors import HarnessError, ManifestError

app = typer.Typer(
    name="harness",
    help="Meta-benchmark of the open-source libraries for attacking ML in IoT systems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True, soft_wrap=True)


def _register() -> None:
    # Each module owns its commands; registering them here keeps the app in one place.
    from harness.commands import batch, catalogue, evaluate, images, inspect, report

    for module in (catalogue, evaluate, inspect, report, batch, images):
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    _register()
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
        import click

        if isinstance(exc, click.ClickException):
            exc.show(file=sys.stderr)
            return 2
        if isinstance(exc, click.exceptions.Abort):
            return 130
        err_console.print_exception()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
