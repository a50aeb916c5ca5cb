"""A scoring failure never loses the record, and the record says why it has no scores."""

from __future__ import annotations

import pytest

import harness.scoring
from harness.pipeline import _scores
from tests.test_store import make_record


def test_a_scoring_failure_is_kept_in_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(record: object) -> dict[str, object]:
        raise ValueError("rubric.yaml: weights: must be positive")

    monkeypatch.setattr(harness.scoring, "score_record", broken)
    assert _scores(make_record()) == {"error": "scoring failed: ValueError: rubric.yaml: weights: must be positive"}


def test_scores_of_a_record_cover_the_three_dimensions() -> None:
    scores = _scores(make_record())
    assert {"accessibility", "usability", "applicability"} <= set(scores)
    assert "error" not in scores
