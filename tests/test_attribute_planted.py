"""The done-when test of attribution: a copy of premium_bands with four planted Hive-to-Spark
differences, each in its own output column, goldens captured on the emulated legacy
platform, then run as the new platform. Each failing column (or failing run) must be
attributed to the right rule at the right line, and no other column to those rules.

Spark 4's defaults (ANSI on) turn two of the plants into errors rather than values: a
cast of dirty strings (CAST_INVALID_INPUT, in the first statement) and a date parsed from
mixed formats (CANNOT_PARSE_TIMESTAMP). The run's error then names the construct that
raised it; with ANSI off (a common first migration step) the run completes and the
comparison shows the value differences of the other three.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from project_copy import copy_project

from harness.api import Project, capture, compare_output, run_model
from harness.errors import ModelRunError
from harness.explain.attribute import attribute, lint_report
from harness.report.text import format_comparison

PLANTS = {  # column -> (rule, the planted text, which the SELECT line holds)
    "plain_priced": ("cast-invalid-string", "CAST(annual_premium AS DOUBLE) AS raw_premium"),
    "first_start_month": (
        "datetime-parser-policy",
        "MIN(to_date(pp.start_date, 'yyyy-MM')) AS first_start_month",
    ),
    "train_policies": ("hash-function", "pmod(hash(policy_id), 10) < 7 AS in_train"),
    "p40": ("percentile-approx", "percentile_approx(pp.premium, 0.4) AS p40"),
}
POLICY_COLUMNS = (
    f",\n       {PLANTS['plain_priced'][1]}"
    ",\n       start_date"
    f",\n       {PLANTS['train_policies'][1]}"
)
BAND_COLUMNS = (
    ",\n       COUNT(pp.raw_premium) AS plain_priced"
    f",\n       {PLANTS['first_start_month'][1]}"
    ",\n       SUM(CASE WHEN pp.in_train THEN 1 ELSE 0 END) AS train_policies"
    f",\n       {PLANTS['p40'][1]}"
)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: '{old}' not found"
    path.write_text(text.replace(old, new, 1))


def _line(path: Path, snippet: str) -> int:
    (line,) = [n for n, text in enumerate(path.read_text().splitlines(), 1) if snippet in text]
    return line


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = copy_project(tmp_path_factory.mktemp("planted") / "proj", ("premium_bands",))
    model = root / "suites" / "premium_bands"
    hql = model / "premium_bands.hql"
    _edit(hql, "AS DOUBLE) AS premium", f"AS DOUBLE) AS premium{POLICY_COLUMNS}")
    _edit(hql, "AS p90\n", f"AS p90{BAND_COLUMNS}\n")
    # The legacy platform computes hash() as Hive does (its UDF from hive-exec).
    spec_file = model / "model.yaml"
    spec_file.write_text(
        spec_file.read_text()
        + "legacy:\n  functions: {hash: org.apache.hadoop.hive.ql.udf.generic.GenericUDFHash}\n"
    )
    yield Project.find(root)


@pytest.fixture(scope="module")
def captured(planted: Project, spark) -> Project:
    spec = planted.model("premium_bands")
    assert capture(spark, planted, spec, "sample", only_missing=False, reason="planted")
    return planted


@pytest.fixture
def workdir(planted: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_WORKDIR", str(planted.root / ".harness"))


def _with_conf(spark, conf: dict[str, str]):
    previous = {k: spark.conf.get(k, None) for k in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    return previous


def _restore(spark, previous: dict[str, str | None]) -> None:
    for key, value in previous.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


def test_lint_finds_each_plant_feeding_only_its_column(planted: Project) -> None:
    spec = planted.model("premium_bands")
    report = lint_report(spec)
    assert report is not None
    hql = spec.directory / "premium_bands.hql"
    for column, (rule, text) in PLANTS.items():
        (finding,) = [f for f in report.findings if f.rule == rule and f.line == _line(hql, text)]
        assert finding.feeds == (("premium_bands", column),), (rule, finding.feeds)


@pytest.mark.local_only("runs the planted copy in this process")
def test_a_failing_run_names_the_construct_that_raised(captured: Project, spark, workdir) -> None:
    spec = captured.model("premium_bands")
    hql = spec.directory / "premium_bands.hql"
    with pytest.raises(ModelRunError) as raised:  # Spark 4 defaults: ANSI on
        run_model(spark, captured, spec, "sample")
    message = str(raised.value)
    assert "statement 5 failed" in message and "CAST_INVALID_INPUT" in message
    cast_line = _line(hql, PLANTS["plain_priced"][1])
    assert f"likely cause: cast-invalid-string at premium_bands.hql:{cast_line}" in message
    assert "legacy setting: spark.sql.ansi.enabled=false" in message
    assert "datetime-parser-policy" not in message  # a later statement: not what failed


@pytest.mark.local_only("sets the session's ANSI setting")
def test_each_failing_column_is_attributed_to_its_plant(captured: Project, spark, workdir) -> None:
    spec = captured.model("premium_bands")
    hql = spec.directory / "premium_bands.hql"
    previous = _with_conf(spark, {"spark.sql.ansi.enabled": "false"})
    try:
        run = run_model(spark, captured, spec, "sample")
        outcome = compare_output(spark, captured.store(), run, "premium_bands")
    finally:
        _restore(spark, previous)
    result = outcome.comparison.to_dict()
    # With ANSI off the dirty cast is NULL on both platforms: that column passes.
    assert set(result["failing_columns"]) == {"first_start_month", "train_policies", "p40"}
    causes = attribute(result, spec, "premium_bands")
    planted_rules = {rule for rule, _ in PLANTS.values()}
    for column in result["failing_columns"]:
        rule, text = PLANTS[column]
        top = next(c for c in causes if c.column == column and c.rank == 1)
        assert (top.rule, top.line) == (rule, _line(hql, text)), (column, top)
        assert top.file == hql and not top.unverified
        others = [c for c in causes if c.column == column and c.rule in planted_rules - {rule}]
        assert others == [], (column, others)
    # No column is blamed on a plant it does not derive from; the rows are not blamed.
    for cause in causes:
        if cause.rule in planted_rules and cause.line > _line(hql, "AS premium,"):
            assert cause.column is not None
            assert PLANTS[cause.column][0] == cause.rule
    p40 = next(c for c in causes if c.column == "p40")
    assert any("drift band" in e for e in p40.evidence)
    month = next(c for c in causes if c.column == "first_start_month")
    assert "spark.sql.legacy.timeParserPolicy=LEGACY" in month.setting
    text = format_comparison(outcome.comparison)
    assert "why it may differ:" in text
    assert "p40 #1: percentile-approx" in text
