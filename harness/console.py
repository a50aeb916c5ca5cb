"""The rich consoles every command prints through: humans on stderr (or stdout for a command's own
table), never wrapped at 80 columns when the stream is a pipe or a log file."""

from __future__ import annotations

from rich.console import Console

PIPE_WIDTH = 160  # a log file or pipe has no width; rich would assume 80 and wrap or cut


def make_console(*, stderr: bool = True) -> Console:
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal else PIPE_WIDTH
    return Console(stderr=stderr, width=width, soft_wrap=not probe.is_terminal)
