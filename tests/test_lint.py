"""Lint: the catalogue's constructs in the six reference models and in small models made for
one detector each, with file:line, table, column, clause and the output columns they feed
(lineage). The detectors are tested with rules made here, so the tests hold whatever the
catalogue's entries become; the reference models' percentile findings use the catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalogue import CLAUSES, CODE_DETECTORS, DETECTORS, OPERATORS, Rule, Symptom
from harness.explain.lint import DETECTOR_KINDS, find
from harness.spec import InputSpec, ModelSpec, OutputSpec, StepSpec, load_spec

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = {"t": [("id", "bigint"), ("x", "double"), ("s", "string")]}


def rule(rid: str, **detect: list[str]) -> Rule:
    return Rule(rid, rid, "", "", detect, Symptom("value-change"), "fix", "ref", {"sql": ""})


RULES = {
    r.id: r
    for r in (
        rule(
            "fn",
            functions=[
                "percentile_approx",
                "approx_percentile",
                "hash",
                "to_date/2",
                "unix_timestamp/2",
            ],
        ),
        rule("cast", casts=["any"]),
        rule("strcast", casts=["string->double"]),
        rule("ops", operators=list(OPERATORS)),
        rule("win", clauses=["window-ranking"]),
        rule("limit", clauses=["limit-without-order"]),
    )
}


def reference(name: str):
    return find(load_spec(REPO / "suites" / name), catalogue=RULES)


def hits(report, rid: str) -> list[tuple[int, str | None, str | None, str]]:
    return [(f.line, f.table, f.column, f.clause) for f in report.findings if f.rule == rid]


def model(tmp_path: Path, sql: str = "", python: str = "") -> ModelSpec:
    tmp_path.mkdir(parents=True, exist_ok=True)
    steps = []
    outputs = {"out": OutputSpec("out", ("id",))}
    if sql:
        (tmp_path / "m.hql").write_text(sql)
        steps.append(StepSpec("sql", "m.hql", produces={"out": None}, name="sql"))
    if python:
        (tmp_path / "p.py").write_text(python)
        steps.append(StepSpec("python", "p.py:run", ("t",), {"py_out": None}, name="post"))
        outputs["py_out"] = OutputSpec("py_out", ("id",))
    inputs = {"t": InputSpec("t", "t", "1")}
    return ModelSpec("m", "t", "d", tmp_path, tuple(steps), inputs, outputs)


def lint(spec: ModelSpec):
    return find(spec, catalogue=RULES, schemas=SCHEMAS)


def test_one_check_per_detector_kind_operator_and_clause() -> None:
    assert DETECTOR_KINDS + CODE_DETECTORS == DETECTORS  # python/r: explain/codelint.py
    for value in OPERATORS + CLAUSES:
        assert value  # each has its check: lint asserts the sets equal at import


def test_premium_bands_percentiles_feed_their_own_band() -> None:
    report = find(load_spec(REPO / "suites" / "premium_bands"))
    found = [f for f in report.findings if f.rule == "percentile-approx"]
    assert [(f.line, f.column, f.feeds) for f in found] == [
        (27 + i, p, (("premium_bands", p),))
        for i, p in enumerate(("p10", "p25", "p50", "p75", "p90"))
    ]
    assert found[0].file.name == "premium_bands.hql" and found[0].table == "premium_bands"
    assert found[0].expression == "PERCENTILE_APPROX(pp.premium, 0.1)"


def test_a_try_cast_is_not_an_ansi_risk() -> None:
    assert hits(reference("premium_bands"), "cast") == []  # TRY_CAST only
    segment = reference("segment_models")
    assert hits(segment, "cast") == [(31, "segment_features", "age", "select")]  # not 29, 30
    # string->double: CAST(datediff(...) AS DOUBLE) casts a number, not a string.
    assert hits(segment, "strcast") == []
    pipeline = reference("adoption_pipeline")
    assert hits(pipeline, "strcast") == [(45, "pipeline_customers", "income", "select")]


def test_adoption_rate_windows_divisions_and_what_they_feed() -> None:
    report = reference("adoption_rate")
    (window,) = [f for f in report.findings if f.rule == "win"]
    assert (window.line, window.table, window.column, window.clause) == (
        13,
        "customer_dedup",
        "rn",
        "window",
    )
    # rn filters customer_dedup's rows (WHERE rn = 1), which the join passes to every column.
    columns = {"product_name", "region", "month", "contacts", "adoptions", "adoption_rate"}
    assert columns <= {c for _, c in window.feeds}
    divisions = [f for f in report.findings if f.rule == "ops" and "/" in f.expression]
    assert [(f.line, f.column, f.feeds) for f in divisions] == [
        (25, "adoption_rate", (("adoption_rates", "adoption_rate"),))
    ]
    # The HAVING threshold compares numbers: not a string-number comparison.
    assert all(f.clause != "having" for f in report.findings if f.rule == "ops")


def test_pipeline_findings_reach_r_and_python_outputs_only_unverified() -> None:
    report = reference("adoption_pipeline")
    (date,) = [f for f in report.findings if f.rule == "fn"]
    assert (date.line, date.table, date.column) == (42, "pipeline_customers", "age")
    assert ("pipeline_train", "age_band") in date.feeds
    assert all(t == "pipeline_train" for t, _ in date.feeds)
    beyond = {t for t, _ in date.feeds_beyond}
    assert {"adoption_cell_scores", "customer_offers", "decile_summary"} <= beyond
    # The R and Python steps are read on their own syntax trees now, and are clean.
    assert report.not_analysed == []
    assert not [f for f in report.findings if f.clause in ("python", "r")]


@pytest.mark.parametrize("name", ["propensity_glm", "uptake_forecast"])
def test_models_without_sql_are_read_on_their_own_trees_and_clean(name: str) -> None:
    """An R-only and a Python-only reference model: their code is read (nothing left "not
    analysed") and none of the catalogue's Python/R constructs is in it."""
    report = reference(name)
    assert report.findings == []
    assert report.not_analysed == []


def test_functions_match_by_parsed_node_and_printed_name(tmp_path: Path) -> None:
    spec = model(
        tmp_path,
        "CREATE TABLE out AS SELECT id,\n"
        "  PERCENTILE_APPROX(x, 0.5) AS a,\n"
        "  approx_percentile(x, 0.5) AS b,\n"
        "  to_date(s) AS c,\n"
        "  to_date(s, 'yyyy') AS d\n"
        "FROM t GROUP BY id, s;\n",
    )
    assert [(f.line, f.column) for f in lint(spec).findings if f.rule == "fn"] == [
        (2, "a"),
        (3, "b"),
        (5, "d"),
    ]


def test_operators_and_clauses(tmp_path: Path) -> None:
    spec = model(
        tmp_path,
        "CREATE TABLE out AS SELECT id, x / 2 AS h, id DIV 2 AS q, id % 3 AS m, x * 2 AS y,\n"
        "  1 + 2 AS k\n"
        "FROM t WHERE s = 1 AND x = 1 AND '1' = 2\n"
        "LIMIT 5;\n",
    )
    report = lint(spec)
    ops = sorted(
        (f.line, f.column, f.clause, f.expression) for f in report.findings if f.rule == "ops"
    )
    assert ops == [
        (1, "h", "select", "x / 2"),
        (1, "m", "select", "id % 3"),
        (1, "q", "select", "id DIV 2"),
        (1, "y", "select", "x * 2"),
        (3, None, "where", "'1' = 2"),
        (3, None, "where", "s = 1"),
    ]
    (limit,) = [f for f in report.findings if f.rule == "limit"]
    assert (limit.line, limit.column, limit.clause) == (4, None, "order")
    ordered = model(tmp_path / "o", "CREATE TABLE out AS SELECT id FROM t ORDER BY id LIMIT 5;")
    assert [f for f in lint(ordered).findings if f.rule == "limit"] == []


def test_lineage_through_stars_ctes_unions_and_tables(tmp_path: Path) -> None:
    spec = model(
        tmp_path,
        "CREATE TABLE a AS SELECT *, hash(s) AS h FROM t;\n"
        "CREATE TABLE out AS\n"
        "WITH w AS (SELECT id, percentile_approx(x, 0.5) AS p FROM a GROUP BY id)\n"
        "SELECT id, p, h FROM w JOIN a USING (id)\n"
        "UNION ALL SELECT id, x, 0 FROM a;\n",
    )
    report = lint(spec)
    by_rule = {f.rule: f for f in report.findings if f.rule == "fn"}
    found = {f.expression.split("(")[0]: f for f in report.findings if f.rule == "fn"}
    assert by_rule and found["HASH"].feeds == (("out", "h"),)
    assert (found["HASH"].table, found["HASH"].column) == ("a", "h")
    assert found["PERCENTILE_APPROX"].feeds == (("out", "p"),)
    assert found["PERCENTILE_APPROX"].line == 3


def test_spark_sql_in_a_python_step_is_linted_and_feeds_its_outputs_unverified(
    tmp_path: Path,
) -> None:
    spec = model(
        tmp_path,
        python=(
            "def run(spark, t, params):\n"
            "    return spark.sql(\n"
            "        'SELECT id, percentile_approx(x, 0.5) AS p FROM t GROUP BY id'\n"
            "    )\n"
        ),
    )
    report = lint(spec)
    (finding,) = report.findings
    assert (finding.rule, finding.file.name, finding.line, finding.table) == ("fn", "p.py", 3, None)
    assert finding.feeds == () and ("py_out", "*") in finding.feeds_beyond
    assert report.not_analysed == []  # its DataFrame code is read by the python rules
