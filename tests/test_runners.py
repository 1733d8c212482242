"""The runners' pure text helpers, without Spark: splitting a script into statements,
substituting Hive variables, and the legacy platform's function rewrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ModelRunError
from harness.runners import HIVE_FUNCTIONS, LEGACY_CONF, Platform
from harness.spec import ModelSpec
from harness.sqltext import rewrite_functions, split_statements, statements, substitute


@pytest.mark.parametrize(
    "script, statements",
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1", ["SELECT 1"]),
        (" ;; \n ; ", []),
        ("SELECT 'a;b' AS s; SELECT 2", ["SELECT 'a;b' AS s", "SELECT 2"]),
        ('SELECT "x;y"; SELECT `odd;name` FROM t', ['SELECT "x;y"', "SELECT `odd;name` FROM t"]),
        ("SELECT 'it\\'s;' AS s; SELECT 3", ["SELECT 'it\\'s;' AS s", "SELECT 3"]),
        ("SELECT 1 -- one; two\n; SELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT /* a; b */ 1; SELECT 2", ["SELECT  1", "SELECT 2"]),
        (
            "SELECT '--not a comment;' AS s; SELECT 2",
            ["SELECT '--not a comment;' AS s", "SELECT 2"],
        ),
        ("SELECT 1; -- trailing comment, no newline", ["SELECT 1"]),
        ("SELECT 1; /* unterminated; comment", ["SELECT 1"]),
    ],
)
def test_split_statements(script: str, statements: list[str]) -> None:
    assert split_statements(script) == statements


def test_statements_know_their_file_lines() -> None:
    script = "-- header\nSET x=1;\n\n/* two\nlines */\nSELECT a,\n  b\nFROM t;\nSELECT 3"
    found = statements(script)
    assert [(s.line, s.text.splitlines()[0]) for s in found] == [
        (2, "SET x=1"),
        (6, "SELECT a,"),
        (9, "SELECT 3"),
    ]


def test_substitute_all_three_spellings() -> None:
    sql = "SELECT '${start}', ${hivevar:n}, ${hiveconf:db.name}, $notavar, ${hivevar:n}"
    params = {"start": "2024-01-01", "n": 3, "db.name": "prod"}
    assert substitute(sql, params, "m.sql") == ("SELECT '2024-01-01', 3, prod, $notavar, 3")


def test_substitute_names_the_missing_parameter_and_the_file() -> None:
    with pytest.raises(ModelRunError) as info:
        substitute("SELECT ${hivevar:cutoff}", {"other": 1}, "suites/m/m.sql")
    assert str(info.value) == (
        "suites/m/m.sql: uses ${cutoff} but the spec's parameters do not define 'cutoff' "
        "(add it under parameters:)"
    )


def test_rewrite_functions_renames_calls_only() -> None:
    sql = (
        "SELECT percentile_approx(x, 0.5) AS p, PERCENTILE_APPROX (y, 0.9),\n"
        "       percentile_approx AS plain_column, 'percentile_approx(z)' AS text\n"
        "FROM t -- percentile_approx(w) in a comment"
    )
    assert rewrite_functions(sql, {"percentile_approx": "hive_pa"}) == (
        "SELECT hive_pa(x, 0.5) AS p, hive_pa (y, 0.9),\n"
        "       percentile_approx AS plain_column, 'percentile_approx(z)' AS text\n"
        "FROM t -- percentile_approx(w) in a comment"
    )
    assert rewrite_functions(sql, {}) is sql


def _spec(tmp_path: Path, **legacy: dict[str, str]) -> ModelSpec:
    return ModelSpec(
        name="m",
        team="t",
        description="d",
        directory=tmp_path,
        steps=(),
        inputs={},
        outputs={},
        **legacy,
    )


def test_platforms(tmp_path: Path) -> None:
    sql = "SELECT percentile_approx(x, 0.5), my_udf(y) FROM t"
    spark = Platform("spark", _spec(tmp_path, legacy_functions={"my_udf": "com.x.MyUdf"}))
    assert spark.conf == {} and spark.functions == {} and spark.sql(sql) == sql
    spec = _spec(
        tmp_path,
        legacy_functions={"my_udf": "com.x.MyUdf"},
        legacy_conf={"spark.sql.ansi.enabled": "true", "a.b": "c"},
    )
    legacy = Platform("legacy", spec)
    assert legacy.conf == {**LEGACY_CONF, "spark.sql.ansi.enabled": "true", "a.b": "c"}
    assert legacy.classes == {  # the catalogue's Hive UDFs, and the spec's own
        **{f"hive_{fn}": cls for fn, cls in HIVE_FUNCTIONS.items()},
        "hive_my_udf": "com.x.MyUdf",
    }
    assert HIVE_FUNCTIONS["percentile_approx"].endswith("GenericUDAFPercentileApprox")
    assert legacy.sql(sql) == "SELECT hive_percentile_approx(x, 0.5), hive_my_udf(y) FROM t"
    with pytest.raises(ModelRunError, match=r"unknown platform 'hive' \(use spark, legacy\)"):
        Platform("hive", spec)
