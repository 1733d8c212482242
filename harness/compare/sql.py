"""The comparison's per-row rules as Spark SQL text, over the internal column aliases below.

Built as text, not ``Column`` calls: through py4j every Column operation is a round trip,
about 15,000 of them for 20 columns (2-3 s). Every expression here is evaluated inside an
aggregate function (see :mod:`harness.compare.engine` for why), and reads only these
aliases, each with one meaning (``s`` is the side: ``e`` expected, ``a`` actual):

=============  ==============================================================================
alias          meaning
=============  ==============================================================================
``sk{i}``      key column ``i`` cast to its join type; NULL where the key is NULL
``sj{i}``      the join value of key ``i``: NULL replaced by a typed placeholder
``sn{i}``      whether key ``i`` is NULL (joined on too, so a placeholder never meets a NULL)
``sv``         a struct of the side's compared values; field ``f{j}`` is compared column ``j``
``_en/_an``    how many rows the key has on that side (1 in a one-to-one pass); NULL where
               the side has no row for the key
``_er/_ar``    the row's number among its key's rows on that side (1 in a one-to-one pass)
=============  ==============================================================================
"""

from __future__ import annotations

import math

from pyspark.sql import types as T

from harness.compare.plan import ColumnPlan
from harness.typerules import contains, is_numeric

HASH_SEED = 42  # seeds the key hash that locates examples (any constant works)
INF = "CAST('Infinity' AS DOUBLE)"
MAX_DOUBLE = "1.7976931348623157E308D"

PAIR = "(_en = 1 AND _an = 1)"  # one row on each side: the pair's values are compared
# Each kind of key failure, counted on one joined row per distinct key (row numbers are 1
# on both sides); one definition serves the counts, the example locators and
# KeyDiff.to_dataframe().
FIRST = "(coalesce(_er, 1) = 1 AND coalesce(_ar, 1) = 1)"
KEY_FAILURES = {
    "missing": f"{FIRST} AND _en IS NOT NULL AND _an IS NULL",
    "extra": f"{FIRST} AND _an IS NOT NULL AND _en IS NULL",
    "dup_e": f"{FIRST} AND _en > 1",
    "dup_a": f"{FIRST} AND _an > 1",
}


def q(name: str) -> str:
    """Escape a column name for use inside backticks."""
    return name.replace("`", "``")


def value(side: str, j: int) -> str:
    """Compared column ``j`` of one side (``e`` or ``a``)."""
    return f"{side}v.f{j}"


def count(condition: str) -> str:
    """How many rows meet ``condition``. Not ``count_if``: Spark 4 rewrites it with a
    common-expression projection, which pulls the per-row work out of the aggregate
    functions into one method that grows with the column count (see the engine)."""
    return f"count(CASE WHEN {condition} THEN 1 END)"


def key_default(dtype: T.DataType) -> str:
    """A typed placeholder for NULL keys; the separate is-NULL flag keeps them distinct."""
    if isinstance(dtype, T.StringType):
        return "''"
    if isinstance(dtype, T.BooleanType):
        return "false"
    if isinstance(dtype, T.BinaryType):
        return "X''"
    if isinstance(dtype, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return f"CAST('1970-01-01' AS {dtype.simpleString()})"
    return f"CAST(0 AS {dtype.simpleString()})"


def key_hash(n_keys: int, side: str | None = None) -> str:
    """The key hash that locates examples, on the joined rows (``side=None``) or on one
    side's own rows: the same value either way, which is what lets a fetch find them."""
    keys = (f"{side}k{i}" if side else f"coalesce(ek{i}, ak{i})" for i in range(n_keys))
    return f"xxhash64({HASH_SEED}, {', '.join(keys)})"


def as_double(x: str, dtype: T.DataType) -> str:
    """``x`` as a double; no cast node for what already is one (less for Spark to analyse)."""
    return x if isinstance(dtype, T.DoubleType) else f"CAST({x} AS DOUBLE)"


def finite(x: str) -> str:
    # Spark orders NaN above every number, so one comparison rules out NaN and +-inf.
    return f"(abs({x}) <= {MAX_DOUBLE})"


def literal(number: float) -> str:
    return INF if math.isinf(number) else f"{number!r}D"


def allowed(expected: str, rtol: float, atol: float) -> str:
    """The allowed difference, max(rtol * |expected|, atol), without the terms that are 0."""
    if atol == 0:
        return f"{literal(rtol)} * abs({expected})"
    if rtol == 0:
        return literal(atol)
    return f"greatest({literal(rtol)} * abs({expected}), {literal(atol)})"


def abs_diff(j: int, column: ColumnPlan) -> str:
    """|actual - expected| of numeric column ``j`` as doubles; NULL unless the joined row
    is a pair of finite values."""
    ed = as_double(value("e", j), column.expected_type)
    ad = as_double(value("a", j), column.actual_type)
    return f"(CASE WHEN {PAIR} AND {finite(ed)} AND {finite(ad)} THEN abs({ad} - {ed}) END)"


def rel_diff(j: int, column: ColumnPlan) -> str:
    """|actual - expected| / |expected| of numeric column ``j``: 0 for equal values, +inf
    for a non-zero difference from 0; NULL where :func:`abs_diff` is."""
    ed = as_double(value("e", j), column.expected_type)
    d = abs_diff(j, column)
    return (
        f"CASE WHEN {ed} != 0 THEN {d} / abs({ed}) WHEN {d} = 0 THEN 0.0D "
        f"WHEN {d} IS NOT NULL THEN {INF} END"
    )


def fails(j: int, column: ColumnPlan) -> str:
    """The joined row is a pair whose values of column ``j`` break the match rule."""
    e, a = value("e", j), value("a", j)
    if column.kind == "numeric" and (column.rtol or column.atol):
        bound = allowed(as_double(e, column.expected_type), column.rtol, column.atol)
        within = f"coalesce({abs_diff(j, column)} <= {bound}, false)"
        return f"({PAIR} AND NOT ({e} <=> {a}) AND NOT {within})"
    rule = match(e, a, column.expected_type, column.actual_type, column.rtol, column.atol)
    return f"({PAIR} AND NOT {rule})"


def uses_lambdas(column: ColumnPlan) -> bool:
    """Whether :func:`fails` for the column needs higher-order functions (``forall``,
    ``zip_with``): they have no generated code, and one inside an aggregate function
    takes whole-stage codegen away from every column of the aggregate, so the engine
    evaluates such a column in a projection below it instead. (May say yes needlessly.)"""
    t = column.expected_type
    recurses = _recurses(t, column.actual_type, column.rtol, column.atol)
    return recurses and contains(t, (T.ArrayType, T.MapType))


def _recurses(et: T.DataType, at: T.DataType, rtol: float, atol: float) -> bool:
    """Whether :func:`match` looks inside the values instead of one ``<=>``: it has a
    tolerance to apply at numeric leaves, or maps to compare (``<=>`` cannot order them)."""
    tolerant = bool(rtol or atol) and contains(et, T.NumericType)
    return tolerant or contains(et, T.MapType) or contains(at, T.MapType)


def match(
    e: str, a: str, et: T.DataType, at: T.DataType, rtol: float, atol: float, depth: int = 0
) -> str:
    """The match rule for two values as a never-NULL boolean: NULL matches only NULL;
    numbers by tolerance (NaN only NaN, an infinity only itself, -0.0 == 0.0); arrays
    element by element, structs field by field and maps entry by entry, for any nesting,
    with the same rule at the leaves; everything else exactly. ``<=>`` alone serves where
    it can: it cannot order maps, and it knows no tolerance."""
    same = f"({e} <=> {a})"  # Spark: NaN <=> NaN and -0.0 <=> 0.0 are true
    if not _recurses(et, at, rtol, atol):
        return same
    both_null = f"({e} IS NULL AND {a} IS NULL)"
    both_set = f"{e} IS NOT NULL AND {a} IS NOT NULL"
    if isinstance(et, T.MapType) and isinstance(at, T.MapType):
        k = f"k{depth}"
        inner = match(
            f"try_element_at({e}, {k})",
            f"try_element_at({a}, {k})",
            et.valueType,
            at.valueType,
            rtol,
            atol,
            depth + 1,
        )
        return (
            f"({both_null} OR coalesce({both_set} AND size({e}) = size({a}) AND "
            f"forall(map_keys({e}), {k} -> map_contains_key({a}, {k}) AND {inner}), false))"
        )
    if isinstance(et, T.ArrayType) and isinstance(at, T.ArrayType):
        x, y, b = f"x{depth}", f"y{depth}", f"b{depth}"
        inner = match(x, y, et.elementType, at.elementType, rtol, atol, depth + 1)
        return (
            f"({both_null} OR coalesce({both_set} AND size({e}) = size({a}) AND "
            f"forall(zip_with({e}, {a}, ({x}, {y}) -> {inner}), {b} -> {b}), false))"
        )
    if isinstance(et, T.StructType) and isinstance(at, T.StructType):
        a_fields = {f.name.lower(): f for f in at.fields}
        if [f.name.lower() for f in et.fields] != list(a_fields):
            return same
        parts = [
            match(
                f"{e}.`{q(f.name)}`",
                f"{a}.`{q(a_fields[f.name.lower()].name)}`",
                f.dataType,
                a_fields[f.name.lower()].dataType,
                rtol,
                atol,
                depth,
            )
            for f in et.fields
        ]
        return f"({both_null} OR coalesce({both_set} AND {' AND '.join(parts)}, false))"
    if not (is_numeric(et) and is_numeric(at)):
        return same
    ed, ad = as_double(e, et), as_double(a, at)
    return (
        f"({same} OR coalesce({finite(ed)} AND {finite(ad)} AND "
        f"abs({ad} - {ed}) <= {allowed(ed, rtol, atol)}, false))"
    )
