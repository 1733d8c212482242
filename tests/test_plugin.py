"""The pytest plugin end to end on a copy of the project: real Spark, real files.

Generated tests are selectable by id; a changed output value, a missing golden, an unknown
model in -k and a broken spec are each caught as the README promises, with one clear line
instead of a traceback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from project_copy import run_suites

MODEL = "adoption_rate"


def test_model_suite_passes_and_ids_are_selectable(pytester: pytest.Pytester, project: Path):
    result = run_suites(pytester, project, "-k", "adoption_rates and values", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*model.yaml::adoption_rate::sample-adoption_rates-values*PASSED*"]
    )


def test_changed_output_value_fails_with_column_counts_and_examples(
    pytester: pytest.Pytester, project: Path
) -> None:
    hql = project / "suites" / MODEL / "adoption_rate.hql"
    hql.write_text(
        hql.read_text().replace("AVG(p.base_premium *", "AVG(1.0000001 * p.base_premium *")
    )
    result = run_suites(pytester, project, "-k", MODEL)
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "sample-adoption_rates-values" in out
    assert "expected_premium" in out and "max rel diff 1.000e-07" in out
    assert "product_name=" in out  # example keys with both values
    assert "model code adoption_rate.hql: changed" in out  # what changed since the golden
    assert "Traceback" not in out


def test_missing_golden_says_how_to_create_one(pytester: pytest.Pytester, project: Path) -> None:
    shutil.rmtree(project / "golden" / MODEL)
    result = run_suites(pytester, project, "-k", "values")
    result.assert_outcomes(passed=0, failed=1)
    out = result.stdout.str()
    assert "no golden for adoption_rate/sample/adoption_rates" in out
    assert "harness capture adoption_rate --dataset sample" in out
    assert "pytest -k adoption_rate --harness-update-golden --harness-reason" in out
    assert "Traceback" not in out


def test_unknown_model_in_k_is_one_clear_line(pytester: pytest.Pytester, project: Path) -> None:
    result = run_suites(pytester, project, "-k", "no_such_model")
    assert result.ret != 0
    result.stderr.fnmatch_lines(
        ["*no model, dataset or output matches -k 'no_such_model'*models: adoption_rate*"]
    )


def test_broken_spec_is_one_failing_test(pytester: pytest.Pytester, project: Path) -> None:
    spec = project / "suites" / MODEL / "model.yaml"
    spec.write_text(spec.read_text().replace("outputs:", "outptus:"))
    result = run_suites(pytester, project)
    result.assert_outcomes(failed=1)
    assert "unknown field 'outptus' (did you mean 'outputs'?)" in result.stdout.str()


def test_update_golden_needs_a_reason(pytester: pytest.Pytester, project: Path) -> None:
    result = run_suites(pytester, project, "--harness-update-golden")
    assert result.ret != 0
    assert "--harness-update-golden needs --harness-reason" in result.stderr.str()
