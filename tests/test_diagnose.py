"""Hints: plausible causes of a difference, from its shape and the model's code (no Spark:
the comparisons are built by hand, see tests/comparisons.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from comparisons import column, comparison, key_diff

from harness.diagnose import hints, near_zero_hint
from harness.spec import ModelSpec


def model(tmp_path: Path, code: str, file: str = "m.hql") -> ModelSpec:
    """A model whose only code file holds ``code`` (plus a README that is not code)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / file).write_text(code)
    (tmp_path / "README.md").write_text("percentile_approx( cast( round( everywhere")
    return ModelSpec("m", "t", "d", tmp_path, steps=(), inputs={}, outputs={})


def test_percentile_drift_needs_the_code_as_evidence(tmp_path: Path) -> None:
    result = comparison(column("p", mismatches=3, max_rel=1e-4)).to_dict()
    assert hints(result) == []
    assert hints(result, model(tmp_path / "a", "SELECT avg(x) AS p FROM t")) == []
    spec = model(tmp_path / "b", "SELECT PERCENTILE_APPROX (x, 0.5) AS p FROM t")
    (hint,) = hints(result, spec)
    assert hint.startswith("p: max rel diff 1.0e-04 — the model uses percentile_approx:")


def test_tiny_drift_is_floating_point_noise_with_or_without_code(tmp_path: Path) -> None:
    result = comparison(column("s", mismatches=1, max_rel=3e-13)).to_dict()
    (hint,) = hints(result, model(tmp_path, "SELECT percentile_approx(x, 0.5) AS s"))
    assert hint.startswith("s: max rel diff 3.0e-13 is floating-point noise")
    assert "an rtol of 1e-11 would accept it" in hint


def test_null_on_one_side_names_the_cast_when_the_code_casts(tmp_path: Path) -> None:
    result = comparison(column("amount", "string", mismatches=4, nulls=2)).to_dict()
    (plain,) = hints(result)
    assert plain.startswith("amount: 2 rows are NULL on one side only")
    assert "the model casts" not in plain
    (with_cast,) = hints(result, model(tmp_path, "SELECT cast(x AS DOUBLE) AS amount"))
    assert with_cast.startswith(plain) and with_cast.endswith(
        "; the model casts values: Hive returns NULL for a bad cast, Spark's ANSI mode raises "
        "or (try_cast) returns NULL; check spark.sql.ansi.enabled and the input's bad values"
    )


@pytest.mark.parametrize(
    "actuals, integral_hint",
    [((2.5, 7.25), True), ((2.5, 7.0), False), ((None, 7.25), True)],
)
def test_whole_golden_values_and_fractional_new_ones(actuals, integral_hint: bool) -> None:
    examples = [({"id": 1}, 2.0, actuals[0]), ({"id": 2}, 7.0, actuals[1])]
    result = comparison(column("ratio", mismatches=2, max_rel=2.0, examples=examples)).to_dict()
    assert any("golden values are whole numbers" in h for h in hints(result)) is integral_hint


def test_time_zone_and_rounding_hints_come_from_the_code(tmp_path: Path) -> None:
    result = comparison(
        column("at", "timestamp", mismatches=1),
        column("fee", mismatches=1, max_rel=0.2),
    ).to_dict()
    assert hints(result) == []
    spec = model(tmp_path, "SELECT from_unixtime(t) AS at, round(x, 2) AS fee FROM t", "m.py")
    assert hints(result, spec) == [
        "at: the model converts times: the session time zone (Hive: the server's; here UTC) "
        "shifts results",
        "fee: the model rounds: check HALF_UP (Hive, Spark round) vs HALF_EVEN (bround, R's round)",
    ]


def test_passing_columns_get_no_hints(tmp_path: Path) -> None:
    result = comparison(column("p", mismatches=0, max_rel=3e-13, nulls=5)).to_dict()
    assert hints(result, model(tmp_path, "SELECT percentile_approx(cast(x AS INT), 0.5)")) == []


def test_keys_and_types() -> None:
    result = comparison(
        duplicates_actual=key_diff({"id": 1}),
        missing=key_diff({"id": 9}),
        type_changes=[
            {"column": "n", "expected": "int", "actual": "double", "tolerated": False},
            {"column": "m", "expected": "int", "actual": "bigint", "tolerated": True},
        ],
    ).to_dict()
    found = hints(result)
    assert len(found) == 3
    assert found[0].startswith("duplicate keys in the new output: a join fanned out")
    assert found[1].startswith("keys differ: check filters on dirty values")
    assert found[2].startswith("n: type int became double — Spark's type coercion differs")
    only_extra = comparison(extra=key_diff({"id": 9}, count=12)).to_dict()
    assert [h[:12] for h in hints(only_extra)] == ["keys differ:"]


def test_failures_where_the_golden_is_near_zero_suggest_an_atol() -> None:
    """The issue's case: R floors probabilities at 2.2e-16, statsmodels goes to 1e-21."""
    examples = [({"id": 1}, 2.220446049250313e-16, 1.3e-21), ({"id": 2}, 0.2500001, 0.25)]
    prob = column("prob", mismatches=320, max_abs=3.6e-7, max_rel=1.0, examples=examples)
    result = comparison(prob, column("other", mismatches=0)).to_dict()
    hint = near_zero_hint(result)
    assert hint == (
        "prob: the failing rows sit where the golden is near zero (max rel diff 1, max abs "
        "diff 3.6e-07, e.g. golden 2.220446049250313e-16 vs new 1.3e-21); a relative "
        "tolerance means little there: an atol of 3.6e-07 (the largest absolute difference, "
        "rounded up) passes every row: columns: {prob: {atol: 3.6e-07, reason: ...}}"
    )
    assert hint in hints(result)
    golden_zero = column("p", mismatches=1, max_abs=4.01e-9, max_rel=math.inf)
    assert "an atol of 4.1e-09 " in (near_zero_hint(comparison(golden_zero).to_dict()) or "")


@pytest.mark.parametrize(
    "stats",
    [
        {"max_abs": 0.5, "max_rel": 1.0},  # absolute differences are not tiny
        {"max_abs": 3e-7, "max_rel": 1e-5},  # relative ones are not huge
        {"max_abs": 3e-7, "max_rel": 1.0, "nulls": 2},  # NULL vs value: no atol fixes it
        {"max_abs": None, "max_rel": None},
        {"max_abs": 3e-7, "max_rel": math.nan},
    ],
)
def test_no_near_zero_hint_when_an_atol_would_not_be_the_answer(stats: dict) -> None:
    result = comparison(column("prob", mismatches=3, **stats)).to_dict()
    assert near_zero_hint(result) is None
    label = column("label", "string", mismatches=3)
    assert near_zero_hint(comparison(label).to_dict()) is None
