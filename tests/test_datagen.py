"""Generator recipes: the macro and variable expansion into Spark SQL (pure text, no
Spark), and what the expanded expressions produce on a real session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.datagen import Recipe, expand, generate
from harness.errors import FixtureError

SEED = 42


def _expand(expr: str, rows: dict[str, int] | None = None, own_rows: int = 100) -> str:
    return expand(expr, SEED, rows or {}, own_rows)


def test_u_hashes_id_seed_and_salt_into_53_bits() -> None:
    assert _expand("U(7)") == (
        "((CAST(xxhash64(id, 42, 7) & 9007199254740991 AS DOUBLE) + 0.5) / 9007199254740992.0)"
    )
    assert expand("U(7)", 43, {}, 1) != _expand("U(7)")  # the seed is in the hash


def test_n_is_box_muller_over_two_distinct_uniforms() -> None:
    u1, u2 = _expand("U((7) * 2 + 1)"), _expand("U((7) * 2 + 2)")
    assert _expand("N(7)") == f"(sqrt(-2.0 * ln({u1})) * cos(2.0 * pi() * {u2}))"


def test_pick_indexes_its_values_and_keeps_quoted_commas() -> None:
    u = _expand("U(3)")
    assert _expand("PICK(3, 'a,b', 'c)', 'd')") == (
        f"element_at(array('a,b', 'c)', 'd'), 1 + CAST(floor({u} * 3) AS INT))"
    )


def test_macros_expand_inside_arguments_and_expressions() -> None:
    out = _expand("CASE WHEN U(1) < 0.5 THEN PICK(U(2) * 10, upper('x'), 'y') ELSE N(3) END")
    assert out.startswith(f"CASE WHEN {_expand('U(1)')} < 0.5 THEN element_at(")
    assert f"xxhash64(id, 42, {_expand('U(2)')} * 10)" in out  # a macro as another's salt
    assert "array(upper('x'), 'y')" in out and out.endswith(" END")
    assert re.search(r"\b(U|N|PICK)\(", out) is None


def test_names_that_end_in_a_macro_letter_are_left_alone() -> None:
    text = "CASE WHEN x IN(1, 2) THEN MENU(x) ELSE SUM(x) END"
    assert _expand(text) == text


def test_variables() -> None:
    assert _expand("${rows} + ${rows:customers} * ${seed}", {"customers": 5000}, 7) == (
        "7 + 5000 * 42"
    )
    assert _expand("U(${seed})") == _expand("U(42)")


@pytest.mark.parametrize(
    "expr, message",
    [
        ("${rows:nope}", r"\$\{rows:nope\} names a table this run does not generate"),
        ("U(1", "unbalanced parentheses"),
        ("PICK(1, 'a'", "unbalanced parentheses"),
    ],
)
def test_expansion_errors(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _expand(expr)


# ------------------------------------------------------------------------- on Spark


def test_generated_values_are_in_range_and_do_not_depend_on_partitions(spark) -> None:
    columns = {
        "_u": "U(1)",
        "u": "_u",
        "n": "N(2)",
        "pick": "PICK(3, 'a', 'b', 'c')",
        "share": "${rows:other} / ${rows}",
    }
    rows = 100_000  # enough for generate() to use more than one partition
    recipe = Recipe(Path("r.yaml"), rows=rows, seed=SEED, columns=columns)
    df = generate(spark, recipe, other_rows={"other": 500})
    assert df.columns == ["u", "n", "pick", "share"]  # helpers dropped
    stats = df.selectExpr(
        "min(u) > 0 AND max(u) < 1",
        "avg(u) BETWEEN 0.45 AND 0.55",
        "avg(n) BETWEEN -0.1 AND 0.1 AND stddev(n) BETWEEN 0.9 AND 1.1",
        "count(DISTINCT pick) = 3 AND min(pick) = 'a' AND max(pick) = 'c'",
        "min(share) = 0.005 AND max(share) = 0.005",
    ).first()
    assert all(stats), stats
    assert df.selectExpr("spark_partition_id()").distinct().count() > 1
    one_partition = Recipe(Path("r.yaml"), rows=rows, seed=SEED, columns=columns, partitions=1)
    again = generate(spark, one_partition, other_rows={"other": 500})
    assert again.count() == rows and df.exceptAll(again).isEmpty()
    with pytest.raises(FixtureError, match=r"r.yaml: column 'share': .*rows:other"):
        generate(spark, recipe)
