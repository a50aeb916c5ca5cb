"""Static, self-contained HTML report rendered from stored result records only.

``render_report`` writes the overview, a page per library, badges and CSV/JSON exports;
``render_library`` writes one library's page (the ``evaluate`` command calls it after a run).
"""

from __future__ import annotations

from harness.report.render import render_library, render_report

__all__ = ["render_library", "render_report"]
