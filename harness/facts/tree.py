"""A bounded, symlink-safe view of a checkout's files, shared by every fact collector.

The walk never follows symlinks; a symlink whose target resolves outside the checkout is recorded
(``escaping``) and reads through it are refused, so a hostile repository cannot make the harness
read (or report) files of the host. Huge or vendored folders are skipped and the number of entries
is capped so that facts stay fast on any repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MAX_ENTRIES = 20_000  # files + symlinks visited before the walk stops (``truncated``)
MAX_READ_BYTES = 1_000_000
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".tox", ".nox", ".venv", "venv", "env",
    "site-packages", ".mypy_cache", ".pytest_cache", ".ipynb_checkpoints", ".eggs", "build", "dist",
})


@dataclass
class Tree:
    """Files of a checkout (relative POSIX paths), its folders, and the symlinks that escape it."""

    root: Path
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    escaping: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False

    def top_files(self) -> list[str]:
        return [f for f in self.files if "/" not in f]

    def top_dirs(self) -> list[str]:
        return [d for d in self.dirs if "/" not in d]

    def is_inside(self, path: Path) -> bool:
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(path)
        return real == real_root or real.startswith(real_root + os.sep)

    def read_text(self, rel: str, max_bytes: int = MAX_READ_BYTES) -> str | None:
        """The text of ``rel`` if it is a regular file inside the checkout (symlinks resolved inside
        only), at most ``max_bytes``; None otherwise."""
        path = self.root / rel
        if not self.is_inside(path) or not os.path.isfile(os.path.realpath(path)):
            return None
        try:
            with open(os.path.realpath(path), "rb") as fh:
                return fh.read(max_bytes).decode("utf-8", errors="replace")
        except OSError:
            return None

    def size(self, rel: str) -> int | None:
        path = self.root / rel
        if not self.is_inside(path):
            return None
        try:
            return os.stat(os.path.realpath(path)).st_size
        except OSError:
            return None


def walk(root: Path, max_entries: int = MAX_ENTRIES) -> Tree:
    """Walk ``root`` without following symlinks, skipping :data:`SKIP_DIRS`."""
    tree = Tree(root)
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in [*dirnames, *sorted(filenames)]:
            full = os.path.join(dirpath, name)
            if os.path.islink(full) and not tree.is_inside(Path(full)):
                tree.escaping.append({"path": prefix + name, "target": os.readlink(full)})
                # not a file of the checkout: no fact (licence, declarations, README) comes from it
                (dirnames if name in dirnames else filenames).remove(name)
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                dirnames.remove(name)  # never descended (os.walk would not either); listed as a file
                tree.files.append(prefix + name)
            else:
                tree.dirs.append(prefix + name)
        for name in sorted(filenames):
            tree.files.append(prefix + name)
            count += 1
            if count >= max_entries:
                tree.truncated = True
                return tree
    return tree
