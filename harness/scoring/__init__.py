"""Probes over stored facts and run results, and scores as a pure function of probes + rubric.

(Contract stub: owned by the issue-6 implementation.)
"""

from __future__ import annotations

from typing import Any

from harness.records import ResultRecord


def score_record(record: ResultRecord) -> dict[str, Any]:
    """Scores for one record: {dimension: {score, checks: [...]}}; a pure function of the record."""
    return {}
