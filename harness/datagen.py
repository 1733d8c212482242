"""Deterministic, Spark-side data generation from a YAML recipe.

A recipe gives a row count and one Spark SQL expression per column over ``id``
(0..rows-1). Randomness comes from hashing ``id`` with the recipe's seed and a salt, not
from ``rand()``, so a table is identical on every run, machine and partitioning, at any
scale. Macros keep recipes readable:

* ``U(salt)``: uniform double in (0, 1)
* ``N(salt)``: standard normal (Box-Muller over two uniforms)
* ``PICK(salt, 'a', 'b', ...)``: one of the values, uniformly
* ``${rows}``, ``${rows:other_table}``: this or another generated table's row count
* ``${seed}``: the recipe's seed

Columns are evaluated in order and may use earlier ones; columns whose name starts with
``_`` are helpers and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from harness.errors import FixtureError
from harness.fields import check_fields, problem

RECIPE_FIELDS = ("rows", "seed", "columns", "partitions", "description", "sample_rows")
_MACRO = re.compile(r"\b(U|N|PICK)\(")
_VAR = re.compile(r"\$\{(rows|seed)(?::([A-Za-z0-9_]+))?\}")


@dataclass(frozen=True)
class Recipe:
    path: Path
    rows: int
    seed: int
    columns: dict[str, str]
    partitions: int = 8
    sample_rows: int = 3000


def load_recipe(path: Path) -> Recipe:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FixtureError(f"{path}: cannot read generator recipe: {exc}") from None
    check_fields(FixtureError, path, "recipe", raw, RECIPE_FIELDS, ("rows", "columns"))
    if not isinstance(raw["columns"], dict) or not raw["columns"]:
        raise problem(FixtureError, path, "columns", "must map column names to SQL expressions")
    try:
        return Recipe(
            path,
            int(raw["rows"]),
            int(raw.get("seed", 0)),
            {str(k): str(v) for k, v in raw["columns"].items()},
            int(raw.get("partitions", 8)),
            int(raw.get("sample_rows", min(3000, int(raw["rows"])))),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FixtureError(f"{path}: bad 'rows', 'seed' or 'partitions': {exc}") from None


def _split_args(text: str, start: int) -> tuple[list[str], int]:
    """Split a macro's arguments at top-level commas; returns (args, index after ')')."""
    depth, quote, args, current = 0, "", [], []
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "(":
            depth += 1
            current.append(ch)
        elif ch == ")":
            if depth == 0:
                args.append("".join(current).strip())
                return args, i + 1
            depth -= 1
            current.append(ch)
        elif ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    raise ValueError("unbalanced parentheses")


def expand(expr: str, seed: int, rows: Mapping[str, int], own_rows: int) -> str:
    """Expand macros and variables into plain Spark SQL."""

    def var(match: re.Match) -> str:
        if match.group(1) == "seed":
            return str(seed)
        table = match.group(2)
        if table is None:
            return str(own_rows)
        if table not in rows:
            raise ValueError(f"${{rows:{table}}} names a table this run does not generate")
        return str(rows[table])

    expr = _VAR.sub(var, expr)
    out, pos = [], 0
    while (m := _MACRO.search(expr, pos)) is not None:
        out.append(expr[pos : m.start()])
        args, end = _split_args(expr, m.end())
        args = [expand(a, seed, rows, own_rows) for a in args]
        name = m.group(1)
        if name == "U":
            out.append(
                f"((CAST(xxhash64(id, {seed}, {args[0]}) & 9007199254740991 AS DOUBLE)"
                " + 0.5) / 9007199254740992.0)"
            )
        elif name == "N":
            u1 = expand(f"U(({args[0]}) * 2 + 1)", seed, rows, own_rows)
            u2 = expand(f"U(({args[0]}) * 2 + 2)", seed, rows, own_rows)
            out.append(f"(sqrt(-2.0 * ln({u1})) * cos(2.0 * pi() * {u2}))")
        else:  # PICK
            salt, values = args[0], args[1:]
            u = expand(f"U({salt})", seed, rows, own_rows)
            out.append(
                f"element_at(array({', '.join(values)}), "
                f"1 + CAST(floor({u} * {len(values)}) AS INT))"
            )
        pos = end
    out.append(expr[pos:])
    return "".join(out)


def generate(
    spark: SparkSession,
    recipe: Recipe,
    *,
    rows: int | None = None,
    other_rows: Mapping[str, int] | None = None,
) -> DataFrame:
    """Build the table a recipe describes, with ``rows`` rows (default: the recipe's)."""
    n = recipe.rows if rows is None else int(rows)
    df = spark.range(0, n, 1, numPartitions=max(1, min(recipe.partitions, n // 50_000 + 1)))
    helpers = []
    for name, expr in recipe.columns.items():
        try:
            sql = expand(expr, recipe.seed, other_rows or {}, n)
        except (ValueError, IndexError) as exc:
            raise FixtureError(f"{recipe.path}: column '{name}': {exc}") from None
        df = df.withColumn(name, F.expr(sql))
        if name.startswith("_"):
            helpers.append(name)
    keep = [c for c in recipe.columns if c not in helpers]
    return df.select(*[F.col(f"`{c}`") for c in keep])
