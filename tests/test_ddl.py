"""Hive DDL column lists: parsing (fixtures' and outputs' schemas), type spelling, and the
expected-schema check's wording."""

from __future__ import annotations

import pytest

from harness.ddl import normalize_type, parse_ddl, schema_problems


def test_parse_column_list_and_create_table() -> None:
    assert parse_ddl("id BIGINT, name STRING COMMENT 'a, b', tags ARRAY<STRING>") == [
        ("id", "BIGINT"),
        ("name", "STRING"),
        ("tags", "ARRAY<STRING>"),
    ]
    ddl = "CREATE TABLE t (  -- a comment\n `x` DECIMAL(12, 2),\n s STRUCT<a: INT, b: STRING>\n)"
    assert parse_ddl(ddl) == [("x", "DECIMAL(12, 2)"), ("s", "STRUCT<a: INT, b: STRING>")]


def test_parse_nested_types_comments_and_create_table_clauses() -> None:
    ddl = (
        "create external table db.t (\n"
        "  a STRUCT<x: DECIMAL(5, 2), y: ARRAY<STRING>>,  -- first, with a comma\n"
        "  b MAP<STRING, ARRAY<INT>> COMMENT 'keys (ids), values',\n"
        "  c  INT ,\n"
        ") STORED AS ORC"
    )
    assert parse_ddl(ddl) == [
        ("a", "STRUCT<x: DECIMAL(5, 2), y: ARRAY<STRING>>"),
        ("b", "MAP<STRING, ARRAY<INT>>"),
        ("c", "INT"),
    ]


# Quotes, comments, backticks and tabs wherever they stand (once gaps of the parser).
@pytest.mark.parametrize(
    "text, columns",
    [
        ("CREATE TABLE t (a INT COMMENT 'x)', b INT)", [("a", "INT"), ("b", "INT")]),
        ("a INT COMMENT 'x -- y', b INT", [("a", "INT"), ("b", "INT")]),
        ("a INT COMMENT 'it\\'s, ok', b INT", [("a", "INT"), ("b", "INT")]),
        ("`b c` INT, d INT", [("b c", "INT"), ("d", "INT")]),
        ("a\tINT", [("a", "INT")]),
    ],
)
def test_parse_ddl_respects_quotes_comments_backticks_and_tabs(
    text: str, columns: list[tuple[str, str]]
) -> None:
    assert parse_ddl(text) == columns


@pytest.mark.parametrize("text, message", [("", "no columns found"), ("id", "has no type")])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ddl(text)


@pytest.mark.parametrize(
    "ddl, spark",
    [
        ("INTEGER", "int"),
        ("LONG", "bigint"),
        ("DECIMAL", "decimal(10,0)"),
        ("decimal(12, 2)", "decimal(12,2)"),
        ("VARCHAR(10)", "string"),
        ("MAP<STRING, LONG>", "map<string,bigint>"),
        ("STRUCT<long: INT, b: REAL>", "struct<long:int,b:float>"),
    ],
)
def test_normalize_type_uses_sparks_spelling(ddl: str, spark: str) -> None:
    assert normalize_type(ddl) == spark


def test_schema_problems_name_each_column() -> None:
    expected = [("id", "BIGINT"), ("Premium", "DOUBLE"), ("gone", "STRING")]
    actual = [("ID", "bigint"), ("premium", "decimal(10,2)"), ("extra", "int")]
    assert schema_problems(expected, actual) == [
        "column 'gone' is missing (expected string)",
        "column 'premium' is decimal(10,2), expected double",
        "column 'extra' (int) is not in the expected schema",
    ]
    assert schema_problems([("a", "INTEGER")], [("a", "int")]) == []
