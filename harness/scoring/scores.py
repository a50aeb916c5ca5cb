"""Scores: a pure function of probe outcomes and the rubric (nothing is run, nothing is read but them).

Per dimension, the score is ``10 x sum(weight x credit) / sum(weight)`` over the dimension's
conclusive checks, rounded half up to one decimal; a dimension with no conclusive check has score
``None``. Each check's ``points`` are its share of that score (they add up to it), ``max_points``
what it could have earned. The rubric's version and content hash travel with the scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from harness.records import ResultRecord
from harness.scoring.probes import PROBES, Outcome, run_probes
from harness.scoring.rubric import DIMENSIONS, Check, Rubric, RubricError, load_rubric

OUTCOME_LABELS = {"pass": "pass", "fail": "fail", "value": "measured", "inconclusive": "inconclusive"}


def round_half_up(value: float, places: int) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def check_registry(rubric: Rubric) -> None:
    """Fail unless every registered probe has a rubric entry and every rubric entry a probe."""
    no_entry = sorted(set(PROBES) - set(rubric.checks))
    no_probe = sorted(set(rubric.checks) - set(PROBES))
    problems = [f"checks: no entry for registered probe '{n}'" for n in no_entry]
    problems += [f"checks.{n}: no probe is registered under this name" for n in no_probe]
    if problems:
        raise RubricError("rubric: " + "; ".join(problems))


def credit_of(name: str, outcome: Outcome, check: Check) -> float | None:
    """The credit (0..1) an outcome earns; None when inconclusive."""
    if outcome.kind == "inconclusive":
        return None
    if outcome.kind == "pass":
        return 1.0
    if outcome.kind == "fail":
        return 0.0
    if check.scale is None or outcome.value is None:
        raise RubricError(
            f"rubric: checks.{name}.scale: probe '{name}' measures a value; the check needs a scale"
        )
    return check.scale.credit(outcome.value)


def score_outcomes(outcomes: Mapping[str, Outcome], rubric: Rubric) -> dict[str, Any]:
    """Scores and per-check breakdown from probe outcomes (a pure function)."""
    result: dict[str, Any] = {"rubric": rubric.stamp()}
    for dim in DIMENSIONS:
        items = [(name, check, outcomes[name]) for name, check in rubric.checks_of(dim)]
        credits = [credit_of(name, out, check) for name, check, out in items]
        total = sum(check.weight for (_, check, _), c in zip(items, credits, strict=True) if c is not None)
        earned = sum(
            check.weight * c for (_, check, _), c in zip(items, credits, strict=True) if c is not None
        )
        rows = []
        for (name, check, out), credit in zip(items, credits, strict=True):
            share = 10 * check.weight / total if credit is not None and total else None
            rows.append(
                {
                    "check": name,
                    "title": check.title,
                    "outcome": OUTCOME_LABELS[out.kind],
                    "value": out.value,
                    "unit": check.unit,
                    "credit": credit,
                    "weight": check.weight,
                    "points": round_half_up(share * credit, 2)
                    if share is not None and credit is not None
                    else None,
                    "max_points": round_half_up(share, 2) if share is not None else None,
                    "reason": out.reason,
                    "remedy": check.remedy,
                }
            )
        result[dim] = {
            "score": round_half_up(10 * earned / total, 1) if total else None,
            "max": 10,
            "conclusive_weight": total,
            "inconclusive": sum(1 for c in credits if c is None),
            "checks": rows,
        }
    return result


def score_record(
    record: ResultRecord,
    *,
    rubric: Rubric | None = None,
    peers: Sequence[ResultRecord] = (),
) -> dict[str, Any]:
    """Scores for one record: ``{"rubric": {...}, dimension: {score, checks: [...]}}``.

    A pure function of the record (plus ``peers``: other records of the same library, which only
    pair CPU with GPU runs) and the rubric (the shipped one by default).
    """
    rubric = rubric or load_rubric()
    check_registry(rubric)
    return score_outcomes(run_probes(record, peers), rubric)
