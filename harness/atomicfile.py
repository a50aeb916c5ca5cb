"""Writing a file atomically: a temporary file beside it, then a rename, so a reader never sees half
of it and a failed write leaves nothing behind. (Result records use ``harness.store``, which also
refuses to replace an existing record.)"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str, *, mode: int = 0o644) -> Path:
    """Write ``text`` to ``path`` atomically with ``mode``; the temporary file is removed on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
