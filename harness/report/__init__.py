"""Static, self-contained HTML report rendered from stored result records only.

(Contract stub: owned by the issue-6 implementation.)
"""

from __future__ import annotations

from pathlib import Path

from harness.records import ResultRecord


def render_library(record: ResultRecord, reports_dir: Path) -> Path:
    """Write (or overwrite) the library's page from this record; return its path."""
    raise NotImplementedError


def render_report(results_dir: Path, reports_dir: Path) -> Path:
    """Render the overview and every library page from the stored records; return index.html."""
    raise NotImplementedError
