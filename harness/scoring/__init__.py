"""Scorecards: probes over stored facts and run results, scored by one rubric file.

``score_record(record)`` is what the pipeline calls; it is a pure function of the record and the
rubric (``rubric.yaml``). ``harness rescore`` recomputes scores for stored records into a separate
scores file (see :mod:`harness.scoring.rescore`); the report reads the newest scores.
"""

from __future__ import annotations

from harness.scoring.probes import PROBES, Outcome, manifest_facts, run_probes
from harness.scoring.rescore import effective_scores, record_key, rescore
from harness.scoring.rubric import DEFAULT_RUBRIC, DIMENSIONS, Rubric, RubricError, load_rubric
from harness.scoring.scores import check_registry, score_outcomes, score_record

__all__ = [
    "DEFAULT_RUBRIC",
    "DIMENSIONS",
    "PROBES",
    "Outcome",
    "Rubric",
    "RubricError",
    "check_registry",
    "effective_scores",
    "load_rubric",
    "manifest_facts",
    "record_key",
    "rescore",
    "run_probes",
    "score_outcomes",
    "score_record",
]
