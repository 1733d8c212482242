"""The labelled lint corpus (tests/lint_corpus.yaml): every statement linted alone with the
whole catalogue, each expected to be flagged exactly when its rule truly applies (or, for a
case marked ``known``, to be the documented miss, so a fix shows up here); every rule with
a detector has at least three real cases and three look-alikes, each with its reason; and
the corpus's precision and recall, which scripts/lint_precision.py prints. No Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalogue import load_catalogue
from harness.explain.corpus import LABELS, Case, load_corpus, score

CORPUS = load_corpus(Path(__file__).with_name("lint_corpus.yaml"))
RULES = load_catalogue()
BASELINE_RECALL = 107 / 108  # lint before the refinements, measured on this corpus


def _id(case: Case) -> str:
    return f"{case.rule}-{case.label}-{' '.join(case.sql.split())[:60]}"


@pytest.mark.parametrize("case", CORPUS.cases, ids=[_id(c) for c in CORPUS.cases])
def test_case(case: Case) -> None:
    from harness.explain.corpus import lint_case

    flagged = lint_case(case, CORPUS.tables, RULES)
    assert bool(flagged) == case.expected_flag, (case.why, case.known, flagged)


def test_every_rule_with_a_detector_has_three_real_cases_and_three_look_alikes() -> None:
    for rule in RULES.values():
        if not rule.detect:
            continue  # calendar-rebase: a property of the data, no SQL to find
        for label in LABELS:
            cases = [c for c in CORPUS.cases if c.rule == rule.id and c.label == label]
            assert len(cases) >= 3, (rule.id, label)
            assert all(c.why.strip() for c in cases), (rule.id, label)
    assert {c.rule for c in CORPUS.cases} <= set(RULES)


def test_precision_and_recall_over_the_corpus() -> None:
    total, per_rule, _ = score(CORPUS, RULES)
    assert total.precision >= 0.9, total
    assert total.recall >= BASELINE_RECALL, total
    assert set(per_rule) == {r.id for r in RULES.values() if r.detect}
