"""Generate docs/scoring.md from the rubric: every check, its weight, why it matters, how to improve it.

Run ``python -m harness.scoring.docgen > docs/scoring.md`` after editing ``rubric.yaml``; a test fails
while the committed document and the rubric disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.scoring.rubric import DIMENSIONS, Check, Rubric, load_rubric


def _scale_text(check: Check) -> str:
    if check.scale is None:
        return "pass = full credit, fail = none"
    op = "≤" if check.scale.better == "lower" else "≥"
    bands = "; ".join(f"{op} {_limit(b.limit, check.unit)} → {b.credit:g}" for b in check.scale.bands)
    return f"measured ({check.unit or 'value'}): {bands}; otherwise 0"


def _limit(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 2**30:g} GiB"
    return f"{value:g}" + (f" {unit}" if unit and unit not in ("fraction", "ratio") else "")


def render_doc(rubric: Rubric) -> str:
    lines = [
        "# Scoring",
        "",
        "<!-- Generated from harness/scoring/rubric.yaml by `python -m harness.scoring.docgen`;"
        " do not edit. -->",
        "",
        f"Rubric version **{rubric.version}** (content hash `{rubric.sha256[:12]}`). Every stored score",
        "carries the version and hash of the rubric that made it.",
        "",
        "Raw facts are collected once and stored in each result record; a *probe* answers one small",
        "question over a record (pass, fail, a measured value, or *inconclusive* when it could not be",
        "measured). For each dimension the score is",
        "",
        "    10 x sum(weight x credit) / sum(weight)   over the dimension's conclusive checks",
        "",
        "rounded half up to one decimal. A pass earns credit 1, a fail 0; a measured value earns the",
        "credit of the first band it meets. An inconclusive check is shown in the report but left out of",
        "both sums - never counted as zero. A dimension with no conclusive check has no score (n/a).",
        "",
        "`harness rescore [--rubric FILE]` recomputes the scores of stored records with a (new) rubric",
        "without running anything. Records are never edited: rescored scores go to",
        "`<results>/scores/rescore-<UTC stamp>-<rubric hash>.jsonl`, and the report shows the newest.",
        "",
    ]
    for dim in DIMENSIONS:
        info = rubric.dimensions[dim]
        checks = rubric.checks_of(dim)
        total = sum(c.weight for _, c in checks)
        lines += [
            f"## {info.title}",
            "",
            info.summary,
            "",
            "| check | weight | credit |",
            "| --- | ---: | --- |",
        ]
        lines += [
            f"| `{name}` {c.title} | {c.weight:g} / {total:g} | {_scale_text(c)} |" for name, c in checks
        ]
        lines.append("")
        for name, c in checks:
            lines += [
                f"### `{name}`: {c.title}",
                "",
                f"*Why it matters.* {c.motivation}",
                "",
                f"*How to improve.* {c.remedy}",
                "",
            ]
            if c.evidence:
                lines += [f"*Measured from.* {c.evidence}", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    rubric = load_rubric(Path(args[0]) if args else None)
    sys.stdout.write(render_doc(rubric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
