"""Attribution: each failing column's causes, only from constructs on its lineage, ranked by
the numbers; and the hints that need no code (no Spark: comparisons are built by hand, see
tests/comparisons.py; the models are real files parsed by lint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from comparisons import column, comparison, key_diff

from harness.catalogue import load_catalogue
from harness.explain.attribute import attribute, explain_error, hints
from harness.explain.findings import LintReport
from harness.explain.lint import find
from harness.explain.numeric import near_zero_hint
from harness.spec import InputSpec, ModelSpec, OutputSpec, StepSpec

SCHEMAS = {"t": [("id", "bigint"), ("x", "double"), ("s", "string")]}
# The rules these tests plant: the whole catalogue would also (rightly) flag avg() as a float
# sum and pmod() as a division, which would blur what each test is about.
PLANTED = ("percentile-approx", "hash-function", "datetime-parser-policy", "cast-invalid-string")
RULES = {rule_id: load_catalogue()[rule_id] for rule_id in PLANTED}


def lint(spec: ModelSpec) -> LintReport:
    return find(spec, schemas=SCHEMAS, catalogue=RULES)


def model(tmp_path: Path, sql: str, *, r_step: bool = False) -> ModelSpec:
    """A model of one SQL step making ``out`` from input ``t`` (then an R step making
    ``scores`` from ``out`` when ``r_step``)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "m.hql").write_text(sql)
    steps = [StepSpec("sql", "m.hql", produces={"out": None}, name="sql")]
    outputs = {"out": OutputSpec("out", ("id",))}
    if r_step:
        (tmp_path / "score.R").write_text("score <- function(tables, params) NULL\n")
        steps.append(
            StepSpec(
                "r", "score.R:score", ("out",), {"scores": "id BIGINT, p DOUBLE"}, name="score"
            )
        )
        outputs["scores"] = OutputSpec("scores", ("id",))
    return ModelSpec(
        "m", "t", "d", tmp_path, tuple(steps), {"t": InputSpec("t", "t", "1")}, outputs
    )


def explain(spec: ModelSpec, result, output: str = "out") -> list:
    return attribute(result.to_dict(), spec, output, lint(spec))


SQL = """CREATE TABLE out AS
SELECT id,
       percentile_approx(x, 0.5) AS p,
       avg(x) AS a,
       max(to_date(s, 'yyyy-MM')) AS d
FROM t
GROUP BY id;
"""


def test_a_column_is_only_blamed_on_what_it_derives_from(tmp_path: Path) -> None:
    spec = model(tmp_path, SQL)
    result = comparison(
        column("p", mismatches=3, max_rel=1e-4), column("a", mismatches=3, max_rel=1e-4)
    )
    causes = explain(spec, result)
    assert [(c.column, c.rank, c.rule, c.line) for c in causes] == [
        ("p", 1, "percentile-approx", 3)
    ]
    (cause,) = causes
    assert cause.expression == "PERCENTILE_APPROX(x, 0.5)"
    assert "max rel diff 1.0e-04 is in the rule's drift band" in cause.evidence
    assert "hive_percentile_approx" in cause.setting
    lines = hints(result.to_dict(), spec, "out", lint(spec))
    assert lines[0].startswith("p #1: percentile-approx (")
    assert "a: no catalogue construct on its lineage" in lines


def test_the_whole_catalogue_also_names_the_float_sum(tmp_path: Path) -> None:
    spec = model(tmp_path, SQL)
    result = comparison(column("a", mismatches=3, max_rel=1e-15))
    causes = attribute(result.to_dict(), spec, "out", find(spec, schemas=SCHEMAS))
    assert [(c.column, c.rule, c.line) for c in causes] == [("a", "float-sum-order", 4)]


def test_without_the_model_only_code_free_hints_remain() -> None:
    result = comparison(column("p", mismatches=3, max_rel=1e-4)).to_dict()
    assert hints(result) == []


def test_null_vs_value_is_evidence_for_a_date_parsed_with_a_pattern(tmp_path: Path) -> None:
    spec = model(tmp_path, SQL)
    result = comparison(column("d", "date", mismatches=2, nulls=2))
    (cause,) = explain(spec, result)
    assert (cause.column, cause.rule, cause.line) == ("d", "datetime-parser-policy", 5)
    assert "2 rows are NULL on one side only" in cause.evidence
    assert cause.setting == "spark.sql.legacy.timeParserPolicy=LEGACY"


def test_the_numbers_rank_the_causes_on_one_path(tmp_path: Path) -> None:
    spec = model(
        tmp_path,
        "CREATE TABLE out AS SELECT id,\n"
        "  percentile_approx(x, 0.5) + hash(s) AS v\nFROM t GROUP BY id, s;\n",
    )
    drift = explain(spec, comparison(column("v", mismatches=1, max_rel=1e-3)))
    assert [c.rule for c in drift] == ["percentile-approx", "hash-function"]
    jump = explain(spec, comparison(column("v", mismatches=1, max_rel=0.5)))
    assert [c.rule for c in jump] == ["hash-function", "percentile-approx"]
    assert [c.rank for c in jump] == [1, 2]


def test_a_filter_shapes_every_column_and_the_keys(tmp_path: Path) -> None:
    spec = model(
        tmp_path,
        "CREATE TABLE out AS SELECT id, x FROM t WHERE pmod(hash(s), 10) < 7;\n",
    )
    result = comparison(column("x", mismatches=1, max_rel=0.5), missing=key_diff({"id": 9}))
    causes = explain(spec, result)
    assert {(c.column, c.rule) for c in causes} == {("x", "hash-function"), (None, "hash-function")}
    assert all("the where clause of out" in c.evidence[0] for c in causes)


def test_lineage_stops_at_an_r_step(tmp_path: Path) -> None:
    spec = model(tmp_path, SQL, r_step=True)
    report = lint(spec)
    result = comparison(column("p", mismatches=1, max_rel=1e-3)).to_dict()
    causes = attribute(result, spec, "scores", report)
    assert {c.rule for c in causes} == {"percentile-approx", "datetime-parser-policy"}
    assert all(c.unverified for c in causes)
    assert all(c.evidence[0] == "beyond a python/r step, unverified" for c in causes)
    lines = hints(result, spec, "scores", report)
    assert "p: lineage stops at r step 'score' (score.R)" in lines


def test_a_failed_run_is_explained_by_the_statement_that_failed(tmp_path: Path) -> None:
    spec = model(
        tmp_path,
        "SET x=1;\nCREATE TABLE a AS SELECT CAST(s AS INT) AS n FROM t;\n"
        "CREATE TABLE out AS SELECT CAST(s AS DOUBLE) AS v FROM t;\n",
    )
    report = lint(spec)
    message = f"{tmp_path / 'm.hql'}: statement 3 failed (spark platform): [CAST_INVALID_INPUT] x"
    (cause,) = explain_error(spec, message, report)
    assert (cause.rule, cause.line) == ("cast-invalid-string", 3)
    assert explain_error(spec, message.replace("CAST_INVALID_INPUT", "OTHER"), report) == []
    # Statement 2 holds the other cast; a message naming no statement, output or file
    # blames nothing.
    (other,) = explain_error(spec, message.replace("statement 3", "statement 2"), report)
    assert other.line == 2
    assert explain_error(spec, "[CAST_INVALID_INPUT] somewhere", report) == []
    producing = "model m failed producing 'out': [CAST_INVALID_INPUT] x"
    assert [c.line for c in explain_error(spec, producing, report)] == [3]


def test_passing_columns_get_no_hints(tmp_path: Path) -> None:
    spec = model(tmp_path, SQL)
    result = comparison(column("p", mismatches=0, max_rel=3e-13, nulls=5)).to_dict()
    assert hints(result, spec, "out", lint(spec)) == []


def test_tiny_drift_is_floating_point_noise_with_or_without_code() -> None:
    result = comparison(column("s", mismatches=1, max_rel=3e-13)).to_dict()
    (hint,) = hints(result)
    assert hint.startswith("s: max rel diff 3.0e-13 is floating-point noise")
    assert "an rtol of 1e-11 would accept it" in hint


@pytest.mark.parametrize(
    "actuals, integral_hint",
    [((2.5, 7.25), True), ((2.5, 7.0), False), ((None, 7.25), True)],
)
def test_whole_golden_values_and_fractional_new_ones(actuals, integral_hint: bool) -> None:
    examples = [({"id": 1}, 2.0, actuals[0]), ({"id": 2}, 7.0, actuals[1])]
    result = comparison(column("ratio", mismatches=2, max_rel=2.0, examples=examples)).to_dict()
    assert any("golden values are whole numbers" in h for h in hints(result)) is integral_hint


def test_failures_near_zero_suggest_the_smallest_atol() -> None:
    examples = [({"id": 1}, 0.0, 3.2e-13), ({"id": 2}, 1e-12, 1.1e-12)]
    complete = comparison(column("c", mismatches=2, max_abs=5.0, max_rel=1.0, examples=examples))
    (hint,) = hints(complete.to_dict())
    assert hint == (
        "c: the failures sit where the golden is near zero (|golden| < 1e-06), where a "
        "relative tolerance cannot hold; atol: 3.2e-13 passes every failing row"
    )
    partial = column("c", mismatches=9, max_abs=4e-12, max_rel=1.0, examples=examples)
    hint = near_zero_hint(
        "c", comparison(partial).to_dict()["columns"]["c"], [{"expected": 0.0, "abs_diff": 3.2e-13}]
    )
    assert hint.endswith("atol: 4.0e-12 would pass them (an upper bound)")
    far = [({"id": 1}, 10.25, 10.5)]
    assert not hints(comparison(column("c", mismatches=1, max_rel=0.05, examples=far)).to_dict())


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
    assert found[1].startswith("n: type int became double — Spark's type coercion differs")
    assert found[2].startswith("keys differ and no catalogue construct feeds the key columns")
