"""Distributed, tolerance-aware parity check of two Spark DataFrames.

Usually one query does the work: each side is renamed to internal column names (so names
with spaces, dots or backticks never reach SQL) and keyed by null-safe join columns; a
keyed full outer join feeds a single fixed-width aggregation (whole-stage codegen) that
yields every count and every per-column statistic. Each input's row count is learnt from
that same query (``_RowCounts``, no extra job); matched pairs plus one-sided rows adding up to
those counts proves every row met exactly one partner. Only when they do not is a
key-only pass run (missing, extra and duplicated keys per distinct key), or, if a key
present on both sides is duplicated, the comparison again with per-key windows that
share the join's shuffle. A bounded, deterministic sample of failures is found on first
use (see ``_Examples``). Nothing but aggregated rows and example rows reaches the driver.

Match rule for numeric columns (pytest.approx's, golden as the reference)::

    |actual - expected| <= max(rtol * |expected|, atol)

with null == null only, NaN == NaN only, +inf/-inf equal only to themselves, and
-0.0 == 0.0. With rtol == atol == 0 values must be equal in their own type (no cast, so
longs beyond 2**53 and decimals stay exact).
"""

from __future__ import annotations

import functools
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from harness.errors import CompareError, first_line

TYPE_POLICIES = ("exact", "widening", "numeric")
_MAX_FIELDS = "spark.sql.codegen.maxFields"
_TOLERANCE_FIELDS = {"rtol", "atol"}
_INTEGRAL_RANK = {T.ByteType: 1, T.ShortType: 2, T.IntegerType: 3, T.LongType: 4}
_INTEGRAL_DIGITS = {T.ByteType: 3, T.ShortType: 5, T.IntegerType: 10, T.LongType: 19}


def is_numeric(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.NumericType)


def _contains_numeric(dtype: T.DataType) -> bool:
    if isinstance(dtype, T.ArrayType):
        return _contains_numeric(dtype.elementType)
    if isinstance(dtype, T.StructType):
        return any(_contains_numeric(f.dataType) for f in dtype.fields)
    return is_numeric(dtype)


def type_change_tolerated(expected: T.DataType, actual: T.DataType, policy: str) -> bool:
    """Whether a column whose type changed still counts as the same column.

    ``exact``: never. ``widening`` (default): only changes that cannot lose information
    (int -> bigint, float -> double, integral -> wider decimal, decimal(p,s) -> decimal
    with at least as many integer and fraction digits). ``numeric``: any numeric change.
    """
    if expected == actual:
        return True
    if policy == "exact":
        return False
    if not (is_numeric(expected) and is_numeric(actual)):
        return False
    if policy == "numeric":
        return True
    e, a = type(expected), type(actual)
    if e in _INTEGRAL_RANK and a in _INTEGRAL_RANK:
        return _INTEGRAL_RANK[a] >= _INTEGRAL_RANK[e]
    if e is T.FloatType and a is T.DoubleType:
        return True
    if e in _INTEGRAL_RANK and a is T.DecimalType:
        return actual.precision - actual.scale >= _INTEGRAL_DIGITS[e]
    if e is T.DecimalType and a is T.DecimalType:
        return (
            actual.scale >= expected.scale
            and actual.precision - actual.scale >= expected.precision - expected.scale
        )
    return False


@dataclass(frozen=True)
class KeyDiff:
    """Keys present on one side only (or duplicated): an exact count and a bounded sample.

    ``len()`` is the count; iterate for the sampled keys (fetched on first use). The full
    set is one ``to_dataframe()`` away, computed lazily on the cluster.
    """

    count: int
    _sample: Callable[[], list[dict[str, Any]]] = field(repr=False, compare=False)
    _frame: Callable[[], DataFrame] | None = field(default=None, repr=False, compare=False)

    @property
    def sample(self) -> list[dict[str, Any]]:
        return self._sample() if self.count else []

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return iter(self.sample)

    def __bool__(self) -> bool:
        return self.count > 0

    def to_dataframe(self) -> DataFrame:
        if self._frame is None:
            raise CompareError("this key set has no DataFrame attached (built from a dict?)")
        return self._frame()


@dataclass
class ColumnStats:
    name: str
    expected_type: str
    actual_type: str
    kind: str  # numeric | exact | nested | incomparable
    rtol: float
    atol: float
    mismatches: int = 0
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    _sample: Callable[[], list[dict[str, Any]]] | None = field(
        default=None, repr=False, compare=False
    )
    _null_mismatches: Callable[[], int] | None = field(default=None, repr=False, compare=False)

    @property
    def sample(self) -> list[dict[str, Any]]:
        """Up to ``sample_size`` mismatching rows (key, both values, differences), fetched
        from the inputs on first use: one filtered scan serves every column and key set."""
        return self._sample() if self._sample is not None and self.mismatches else []

    @property
    def null_mismatches(self) -> int:
        """How many of the mismatches are NULL on one side only. A diagnosis, not part of
        the verdict: counted with the examples, on first use (0 without mismatches)."""
        count = self._null_mismatches
        return count() if count is not None and self.mismatches else 0


@dataclass
class CompareResult:
    """Everything a person or a machine needs to know about one comparison."""

    keys: list[str]
    rows_expected: int
    rows_actual: int
    rows_matched: int
    missing_keys: KeyDiff
    extra_keys: KeyDiff
    duplicate_keys_expected: KeyDiff
    duplicate_keys_actual: KeyDiff
    missing_columns: list[str]
    extra_columns: list[str]
    type_changes: list[dict[str, Any]]
    columns: dict[str, ColumnStats]
    elapsed_s: float
    hints: list[str] = field(default_factory=list)

    @property
    def mismatch_counts(self) -> dict[str, int]:
        return {name: c.mismatches for name, c in self.columns.items()}

    @property
    def failing_columns(self) -> list[str]:
        return [
            name for name, c in self.columns.items() if c.mismatches or c.kind == "incomparable"
        ]

    @property
    def schema_ok(self) -> bool:
        return (
            not self.missing_columns
            and not self.extra_columns
            and all(t["tolerated"] for t in self.type_changes)
        )

    @property
    def keys_ok(self) -> bool:
        return not (
            self.missing_keys
            or self.extra_keys
            or self.duplicate_keys_expected
            or self.duplicate_keys_actual
        )

    @property
    def values_ok(self) -> bool:
        return not self.failing_columns

    @property
    def passed(self) -> bool:
        return self.schema_ok and self.keys_ok and self.values_ok

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (non-finite floats become strings) that the reports read."""
        return {
            "passed": self.passed,
            "keys": list(self.keys),
            "rows": {
                "expected": self.rows_expected,
                "actual": self.rows_actual,
                "matched": self.rows_matched,
            },
            "missing_keys": {
                "count": self.missing_keys.count,
                "sample": _jsonable(self.missing_keys.sample),
            },
            "extra_keys": {
                "count": self.extra_keys.count,
                "sample": _jsonable(self.extra_keys.sample),
            },
            "duplicate_keys": {
                "expected": self.duplicate_keys_expected.count,
                "actual": self.duplicate_keys_actual.count,
                "sample_expected": _jsonable(self.duplicate_keys_expected.sample),
                "sample_actual": _jsonable(self.duplicate_keys_actual.sample),
            },
            "schema": {
                "missing_columns": list(self.missing_columns),
                "extra_columns": list(self.extra_columns),
                "type_changes": _jsonable(self.type_changes),
            },
            "columns": {
                name: {
                    "type": c.expected_type,
                    "actual_type": c.actual_type,
                    "kind": c.kind,
                    "rtol": c.rtol,
                    "atol": c.atol,
                    "mismatches": c.mismatches,
                    "null_mismatches": c.null_mismatches,
                    "max_abs_diff": _jsonable(c.max_abs_diff),
                    "max_rel_diff": _jsonable(c.max_rel_diff),
                }
                for name, c in self.columns.items()
            },
            "mismatch_counts": self.mismatch_counts,
            "samples": {name: _jsonable(c.sample) for name, c in self.columns.items() if c.sample},
            "hints": list(self.hints),
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def report(self, max_examples: int = 5) -> str:
        from harness.report.text import format_comparison

        return format_comparison(self.to_dict(), max_examples=max_examples)

    def __str__(self) -> str:
        return self.report()


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if hasattr(value, "asDict"):
        return _jsonable(value.asDict(recursive=True))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)  # Decimal and anything exotic: exact text, never a lossy float


# ----------------------------------------------------------------------------- planning


@dataclass
class _Plan:
    """What to compare, resolved and validated before any Spark job runs."""

    keys: list[tuple[str, str, T.DataType, T.DataType]]  # (expected name, actual name, types)
    columns: list[tuple[str, str, T.DataType, T.DataType, float, float]]
    missing_columns: list[str]
    extra_columns: list[str]
    type_changes: list[dict[str, Any]]


def _check_tolerance(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CompareError(f"{what} must be a number, got {value!r}") from None
    if math.isnan(number) or number < 0:
        raise CompareError(f"{what} must be a non-negative number, got {value!r}")
    return number


def _plan(
    expected: DataFrame,
    actual: DataFrame,
    keys: Sequence[str],
    rtol: float,
    atol: float,
    column_tolerances: Mapping[str, Mapping[str, float]],
    ignore: Iterable[str],
    type_policy: str,
    case_sensitive: bool,
) -> _Plan:
    if isinstance(keys, str):
        keys = [keys]
    if not keys:
        raise CompareError("keys must name at least one key column (rows are matched by key)")
    if type_policy not in TYPE_POLICIES:
        raise CompareError(f"type_policy must be one of {TYPE_POLICIES}, got {type_policy!r}")
    rtol = _check_tolerance(rtol, "rtol")
    atol = _check_tolerance(atol, "atol")

    def norm(name: str) -> str:
        return name if case_sensitive else name.lower()

    e_fields = {norm(f.name): f for f in expected.schema.fields}
    a_fields = {norm(f.name): f for f in actual.schema.fields}
    for side, fields in (("expected", expected.schema.fields), ("actual", actual.schema.fields)):
        seen: dict[str, str] = {}
        for f in fields:
            if norm(f.name) in seen:
                raise CompareError(
                    f"{side} has two columns named {seen[norm(f.name)]!r} and "
                    f"{f.name!r}; rename one (Spark resolves names case-insensitively)"
                )
            seen[norm(f.name)] = f.name

    key_plan = []
    for k in keys:
        for side, fields in (("expected", e_fields), ("actual", a_fields)):
            if norm(k) not in fields:
                raise CompareError(
                    f"key column {k!r} is not in the {side} output; its columns are: "
                    f"{', '.join(f.name for f in fields.values())}"
                )
        ef, af = e_fields[norm(k)], a_fields[norm(k)]
        for f in (ef, af):
            if isinstance(f.dataType, (T.ArrayType, T.MapType, T.StructType)):
                raise CompareError(
                    f"key column {k!r} has nested type {f.dataType.simpleString()}; "
                    "keys must be scalar columns"
                )
        key_plan.append((ef.name, af.name, ef.dataType, af.dataType))
    key_names = {norm(k) for k in keys}

    ignored = {norm(c) for c in ignore}
    for c in ignore:
        if norm(c) in key_names:
            raise CompareError(f"ignore_columns names key column {c!r}; keys cannot be ignored")
        if norm(c) not in e_fields and norm(c) not in a_fields:
            raise CompareError(f"ignore_columns names {c!r}, which is in neither output")

    tolerances: dict[str, tuple[float, float]] = {}
    for c, tol in (column_tolerances or {}).items():
        if norm(c) not in e_fields:
            raise CompareError(
                f"column_tolerances names {c!r}, which is not in the expected output"
            )
        if not isinstance(tol, Mapping) or not set(tol) <= _TOLERANCE_FIELDS or not tol:
            raise CompareError(
                f"column_tolerances[{c!r}] must be a mapping with rtol and/or atol, got {tol!r}"
            )
        dtype = e_fields[norm(c)].dataType
        if not _contains_numeric(dtype):
            raise CompareError(
                f"column_tolerances sets a tolerance on {c!r}, a "
                f"{dtype.simpleString()} column; only numeric columns take a "
                "tolerance (others are compared exactly)"
            )
        tolerances[norm(c)] = (
            _check_tolerance(tol.get("rtol", rtol), f"rtol for {c!r}"),
            _check_tolerance(tol.get("atol", atol), f"atol for {c!r}"),
        )

    columns, type_changes = [], []
    missing = [f.name for n, f in e_fields.items() if n not in a_fields and n not in ignored]
    extra = [f.name for n, f in a_fields.items() if n not in e_fields and n not in ignored]
    for n, ef in e_fields.items():
        if n in key_names or n in ignored or n not in a_fields:
            continue
        af = a_fields[n]
        if ef.dataType != af.dataType:
            type_changes.append(
                {
                    "column": ef.name,
                    "expected": ef.dataType.simpleString(),
                    "actual": af.dataType.simpleString(),
                    "tolerated": type_change_tolerated(ef.dataType, af.dataType, type_policy),
                }
            )
        col_rtol, col_atol = tolerances.get(n, (rtol, atol))
        columns.append((ef.name, af.name, ef.dataType, af.dataType, col_rtol, col_atol))
    return _Plan(key_plan, columns, missing, extra, type_changes)


# -------------------------------------------------------------------------- expressions


def _kind(e: T.DataType, a: T.DataType) -> str:
    if is_numeric(e) and is_numeric(a):
        return "numeric"
    if type(e) is not type(a) and not (isinstance(e, T.StringType) and isinstance(a, T.StringType)):
        return "incomparable"
    if isinstance(e, (T.ArrayType, T.StructType, T.MapType)):
        return "nested"
    return "exact"


_INF = "CAST('Infinity' AS DOUBLE)"
_MAX_DOUBLE = "1.7976931348623157E308D"


def _match_sql(
    e: str, a: str, et: T.DataType, at: T.DataType, rtol: float, atol: float, depth: int = 0
) -> str:
    """The match rule as SQL text (a never-null boolean). Built as text, not Columns: with
    py4j every Column operation is a round trip, ~15,000 of them for 20 columns (2-3 s)."""
    if isinstance(et, T.MapType) and isinstance(at, T.MapType):
        return f"(array_sort(map_entries({e})) <=> array_sort(map_entries({a})))"
    same = f"({e} <=> {a})"  # Spark: NaN <=> NaN and -0.0 <=> 0.0 are true
    exact = rtol == 0 and atol == 0
    if isinstance(et, T.ArrayType) and isinstance(at, T.ArrayType):
        if not _contains_numeric(et) or exact:
            return same
        x, y, b = f"x{depth}", f"y{depth}", f"b{depth}"
        inner = _match_sql(x, y, et.elementType, at.elementType, rtol, atol, depth + 1)
        return (
            f"({same} OR coalesce({e} IS NOT NULL AND {a} IS NOT NULL AND "
            f"size({e}) = size({a}) AND forall(zip_with({e}, {a}, ({x}, {y}) -> {inner}), "
            f"{b} -> {b}), false))"
        )
    if isinstance(et, T.StructType) and isinstance(at, T.StructType):
        if not _contains_numeric(et) or exact:
            return same
        a_fields = {f.name.lower(): f for f in at.fields}
        if {f.name.lower() for f in et.fields} != set(a_fields):
            return same
        parts = [
            _match_sql(
                f"{e}.`{_q(f.name)}`",
                f"{a}.`{_q(a_fields[f.name.lower()].name)}`",
                f.dataType,
                a_fields[f.name.lower()].dataType,
                rtol,
                atol,
                depth,
            )
            for f in et.fields
        ]
        return (
            f"({same} OR coalesce({e} IS NOT NULL AND {a} IS NOT NULL AND "
            f"{' AND '.join(parts)}, false))"
        )
    if not (is_numeric(et) and is_numeric(at)) or exact:
        return same
    ed, ad = _double_sql(e, et), _double_sql(a, at)
    return (
        f"({same} OR coalesce({_finite_sql(ed)} AND {_finite_sql(ad)} AND "
        f"abs({ad} - {ed}) <= {_allowed_sql(ed, rtol, atol)}, false))"
    )


def _double_sql(x: str, dtype: T.DataType) -> str:
    """``x`` as a double; no cast node for what already is one (less for Spark to analyse)."""
    return x if isinstance(dtype, T.DoubleType) else f"CAST({x} AS DOUBLE)"


def _finite_sql(x: str) -> str:
    # Spark orders NaN above every number, so one comparison rules out NaN and +-inf.
    return f"(abs({x}) <= {_MAX_DOUBLE})"


def _literal_sql(value: float) -> str:
    return _INF if math.isinf(value) else f"{value!r}D"


def _allowed_sql(ed: str, rtol: float, atol: float) -> str:
    """The allowed difference, max(rtol * |expected|, atol), without the terms that are 0."""
    if atol == 0:
        return f"{_literal_sql(rtol)} * abs({ed})"
    if rtol == 0:
        return _literal_sql(atol)
    return f"greatest({_literal_sql(rtol)} * abs({ed}), {_literal_sql(atol)})"


def _key_default(dtype: T.DataType) -> str:
    """A typed placeholder for null keys (SQL); the separate is-null flag keeps them distinct."""
    if isinstance(dtype, T.StringType):
        return "''"
    if isinstance(dtype, T.BooleanType):
        return "false"
    if isinstance(dtype, T.BinaryType):
        return "X''"
    if isinstance(dtype, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return f"CAST('1970-01-01' AS {dtype.simpleString()})"
    return f"CAST(0 AS {dtype.simpleString()})"


def _common_key_type(e: T.DataType, a: T.DataType) -> T.DataType:
    if e == a:
        return e
    if type(e) in _INTEGRAL_RANK and type(a) in _INTEGRAL_RANK:
        return T.LongType()
    if is_numeric(e) and is_numeric(a):
        return T.DecimalType(38, 10) if T.DecimalType in (type(e), type(a)) else T.DoubleType()
    return T.StringType()


# ---------------------------------------------------------------------------- the engine

_HASH_SEED = 42  # seeds the key hash that locates examples (any constant works)


@dataclass
class _Sides:
    """Both inputs projected to internal names: ``ek{i}`` the key, ``ej{i}``/``en{i}`` the
    null-safe join columns (value, is-null), ``e{j}`` the compared values; ``a*`` alike."""

    e: DataFrame
    a: DataFrame
    join_e: list[str]
    join_a: list[str]
    n_keys: int
    values: bool  # whether the value columns are there (a key-only pass leaves them out)


def _sides(plan: _Plan, expected: DataFrame, actual: DataFrame, values: bool) -> _Sides:
    # SQL text, one selectExpr per side: each py4j Column call is a round trip.
    e_cols, a_cols, join_e, join_a = [], [], [], []
    for i, (en, an, et, at) in enumerate(plan.keys):
        kt = _common_key_type(et, at)
        for side, name, cols, join in (("e", en, e_cols, join_e), ("a", an, a_cols, join_a)):
            k = f"CAST(`{_q(name)}` AS {kt.simpleString()})"
            cols += [
                f"{k} AS {side}k{i}",
                f"coalesce({k}, {_key_default(kt)}) AS {side}j{i}",
                f"{k} IS NULL AS {side}n{i}",
            ]
            join += [f"{side}j{i}", f"{side}n{i}"]
    if values:
        for j, (en, an, *_rest) in enumerate(plan.columns):
            e_cols.append(f"`{_q(en)}` AS e{j}")
            a_cols.append(f"`{_q(an)}` AS a{j}")
    return _Sides(
        expected.selectExpr(*e_cols),
        actual.selectExpr(*a_cols),
        join_e,
        join_a,
        len(plan.keys),
        values,
    )


def _key_hash_sql(n_keys: int, side: str | None = None) -> str:
    """The key hash that locates examples, on the joined rows (``side=None``) or on one
    side's own rows: the same value either way, which is what lets a fetch find them."""
    keys = (f"{side}k{i}" if side else f"coalesce(ek{i}, ak{i})" for i in range(n_keys))
    return f"xxhash64({_HASH_SEED}, {', '.join(keys)})"


_PAIR_SQL = "(_en = 1 AND _an = 1)"  # one row on each side: the pair's values are compared


def _diff_sql(j: int, column: tuple) -> str:
    """Per joined row (``_p`` projected): |actual - expected| of numeric column ``j`` as
    doubles, null unless the row is a pair of finite values. Projected once as ``_d{j}``;
    the match rule and both max-diff statistics read it."""
    _en, _an, et, at, *_tol = column
    ed, ad = _double_sql(f"e{j}", et), _double_sql(f"a{j}", at)
    return f"CASE WHEN _p AND {_finite_sql(ed)} AND {_finite_sql(ad)} THEN abs({ad} - {ed}) END"


def _fails_sql(j: int, column: tuple) -> str:
    """Per joined row (``_p`` projected, and ``_d{j}`` for a numeric column): the pair's
    values of compared column ``j`` fail the match rule."""
    _en, _an, et, at, c_rtol, c_atol = column
    if _kind(et, at) == "numeric" and (c_rtol or c_atol):
        allowed = _allowed_sql(_double_sql(f"e{j}", et), c_rtol, c_atol)
        return f"(_p AND NOT (e{j} <=> a{j}) AND NOT coalesce(_d{j} <= {allowed}, false))"
    return f"(_p AND NOT {_match_sql(f'e{j}', f'a{j}', et, at, c_rtol, c_atol)})"


# Each kind of key failure, counted on one joined row per distinct key (row numbers are 1
# on both sides); one definition serves the counts, the example locators and the lazy
# KeyDiff.to_dataframe().
_FIRST = "(coalesce(_er, 1) = 1 AND coalesce(_ar, 1) = 1)"
_KEY_FAILURES = {
    "missing": f"{_FIRST} AND _en IS NOT NULL AND _an IS NULL",
    "extra": f"{_FIRST} AND _an IS NOT NULL AND _en IS NULL",
    "dup_e": f"{_FIRST} AND _en > 1",
    "dup_a": f"{_FIRST} AND _an > 1",
}


def _joined(s: _Sides, windowed: bool) -> DataFrame:
    """The keyed full outer join. ``windowed`` adds per-key row counts (``_en``/``_an``)
    and row numbers from a window partitioned exactly like the join, so the join reuses
    its shuffle and sort; without it every present row counts as 1 (``compare`` checks that
    assumption against the input row counts)."""
    if windowed:
        we, wa = Window.partitionBy(*s.join_e), Window.partitionBy(*s.join_a)
        e = s.e.select(
            "*",
            F.count(F.lit(1)).over(we).alias("_en"),
            F.row_number().over(we.orderBy(*s.join_e)).alias("_er"),
        )
        a = s.a.select(
            "*",
            F.count(F.lit(1)).over(wa).alias("_an"),
            F.row_number().over(wa.orderBy(*s.join_a)).alias("_ar"),
        )
    else:
        e = s.e.select("*", F.lit(1).alias("_en"), F.lit(1).alias("_er"))
        a = s.a.select("*", F.lit(1).alias("_an"), F.lit(1).alias("_ar"))
    cond = [e[x] == a[y] for x, y in zip(s.join_e, s.join_a, strict=True)]
    return e.join(a, cond, "full_outer")


@dataclass
class _Pass:
    """One aggregation over the joined data: its combined counts and stats, and the key
    hashes that locate examples of each kind of failure."""

    row: dict[str, Any]
    hashes: dict[str, list[int]]  # failure name -> located key hashes
    frame: DataFrame  # the aggregation that ran (its executed plan holds the join's metrics)


class _Examples:
    """Examples of every failure, found on first use.

    Verdict, counts and statistics never wait for examples. The first report (or
    ``.sample``, or ``.null_mismatches``) pays for them: failing value columns by one
    filtered pass over the keyed join (:func:`_value_examples`), which also counts their
    NULL-vs-value mismatches; missing, extra and duplicate keys, already located by
    hash in the key pass, by one filtered scan of each input."""

    def __init__(
        self,
        hashes: dict[str, list[int]],
        plan: _Plan,
        expected: DataFrame,
        actual: DataFrame,
        sample_size: int,
        failing: list[int],
        windowed: bool,
    ) -> None:
        self._hashes, self._plan, self._sample_size = hashes, plan, sample_size
        self._frames = (expected, actual)
        self._failing, self._windowed = failing, windowed
        self._located: dict[str, list[tuple[Any, Any]]] | None = None
        self._null_counts: dict[int, int] = {}

    def get(self, name: str) -> list[tuple[Any, Any]]:
        self._fetch()
        return self._located.get(name, [])

    def null_mismatches(self, j: int) -> int:
        self._fetch()
        return self._null_counts.get(j, 0)

    def _fetch(self) -> None:
        if self._located is None:
            try:
                sides = _sides(self._plan, *self._frames, values=True)
                located = _fetch_located(self._hashes, sides, self._sample_size)
                examples, self._null_counts = _value_examples(
                    self._plan, sides, self._windowed, self._failing, self._sample_size
                )
                located.update(examples)
                self._located = located
            except Exception as exc:
                raise CompareError(
                    f"could not fetch the examples of the failures: {first_line(exc, 300)} "
                    "(examples are read from the inputs on first use; keep their Spark "
                    "session open until the report is made)"
                ) from None


def _aggregate(
    plan: _Plan,
    s: _Sides,
    *,
    windowed: bool,
    sample_size: int,
    kinds: list[str],
) -> _Pass:
    """Aggregate every count and statistic in one query (one fixed-width, whole-stage-
    codegen HashAggregate). A ``windowed`` pass also counts the key failures per distinct
    key and locates examples of them; its sides may hold the keys only.

    Key failures are located, not carried: rows are spread over ``ceil(sample_size / 2)``
    slots by a key hash, and per slot the aggregate keeps the smallest and largest hash of
    each kind of key failure (fixed-width longs; distinct slots hold distinct rows, so the
    locators give ``sample_size`` distinct examples whenever that many keys fail). Value
    columns get no locators here: see :func:`_value_examples`.
    """
    slots = (sample_size + 1) // 2 if windowed else 0
    located = [f"{_PAIR_SQL} AS _p"]
    if slots:
        key_hash = _key_hash_sql(s.n_keys)
        located.append(f"{key_hash} AS _h")
        if slots > 1:
            located.append(f"CAST(pmod({key_hash}, {slots}) AS INT) AS _slot")
    aggs: list[str] = [
        f"sum(CASE WHEN {_FIRST} THEN coalesce(_en, 0) END) AS rows_e",
        f"sum(CASE WHEN {_FIRST} THEN coalesce(_an, 0) END) AS rows_a",
        "count_if(_p) AS matched",
    ]
    summed = ["rows_e", "rows_a", "matched"]
    locators: dict[str, list[str]] = {}

    def locate(condition: str, name: str) -> list[str]:
        out = []
        for slot in range(slots):
            in_slot = f"{condition} AND _slot = {slot}" if slots > 1 else condition
            for fn in ("min", "max"):
                alias = f"L_{name}_{slot}_{fn}"
                locators.setdefault(name, []).append(alias)
                out.append(f"{fn}(CASE WHEN {in_slot} THEN _h END) AS {alias}")
        return out

    if windowed:
        for name, condition in _KEY_FAILURES.items():
            aggs += [f"count_if({condition}) AS {name}", *locate(condition, f"s_{name}")]
            summed.append(name)
    # Per-row work happens once, in projections below the aggregate (codegen + common
    # subexpression elimination); the aggregate only reads ready-made columns. The numeric
    # differences get a projection of their own because three expressions read each.
    diffs: list[str] = []
    per_row: list[str] = []
    for j, column in enumerate(plan.columns if s.values else []):
        kind = kinds[j]
        if kind == "incomparable":
            continue
        per_row.append(f"{_fails_sql(j, column)} AS _b{j}")
        aggs.append(f"count_if(_b{j}) AS m{j}")
        summed.append(f"m{j}")
        if kind == "numeric":
            ed = _double_sql(f"e{j}", column[2])
            diffs.append(f"{_diff_sql(j, column)} AS _d{j}")
            per_row.append(
                f"CASE WHEN {ed} != 0 THEN _d{j} / abs({ed}) WHEN _d{j} = 0 THEN 0.0D "
                f"WHEN _d{j} IS NOT NULL THEN {_INF} END AS _r{j}"
            )
            aggs += [f"max(_d{j}) AS x{j}", f"max(_r{j}) AS r{j}"]

    flagged = _joined(s, windowed).selectExpr("*", *located)
    for stage in (diffs, per_row):
        if stage:
            flagged = flagged.selectExpr("*", *stage)
    frame = flagged.selectExpr(*aggs)
    row = frame.collect()[0].asDict()
    for name in summed:  # sums over no rows are null
        row[name] = int(row[name] or 0)
    hashes = {
        name: [row[alias] for alias in aliases if row[alias] is not None]
        for name, aliases in locators.items()
    }
    return _Pass(row, hashes, frame)


def _value_examples(
    plan: _Plan,
    s: _Sides,
    windowed: bool,
    failing: list[int],
    sample_size: int,
) -> tuple[dict[str, list[tuple[Any, Any]]], dict[int, int]]:
    """Examples of the failing value columns, and how many of each column's mismatches
    are NULL on one side only: the keyed join again, filtered to the failing pairs before
    anything is aggregated.

    Kept out of the counting pass on purpose: per-column example locators in that pass
    are rarely taken branches in its one huge codegen loop, and HotSpot deoptimizes on
    them (measured 4x the join floor at 10M rows, 1.35x without them); the null counts
    are a diagnosis, not the verdict, and cost that pass ~10% with new code. Here every
    row that reaches the aggregate is a failing row, so ``min_by(row, key hash, k)`` picks
    a deterministic sample per column cheaply, values included (no further scan).
    """
    if not failing:
        return {}, {}
    rows_sql = ", ".join(f"'ek{i}', ek{i}, 'ak{i}', ak{i}" for i in range(s.n_keys))
    flags = {j: _fails_sql(j, plan.columns[j]) for j in failing}
    aggs = [f"count_if(_p AND (e{j} IS NULL) != (a{j} IS NULL)) AS n{j}" for j in failing]
    if sample_size:
        aggs += [
            f"min_by(named_struct({rows_sql}, 'e', e{j}, 'a', a{j}), "
            f"CASE WHEN {flag} THEN _h END, {int(sample_size)}) AS x{j}"
            for j, flag in flags.items()
        ]
    diffs = [
        f"{_diff_sql(j, plan.columns[j])} AS _d{j}"
        for j in failing
        if _kind(*plan.columns[j][2:4]) == "numeric"
    ]
    located = _joined(s, windowed).selectExpr(
        "*", f"{_PAIR_SQL} AS _p", f"{_key_hash_sql(s.n_keys)} AS _h"
    )
    found = (
        (located.selectExpr("*", *diffs) if diffs else located)
        .where(" OR ".join(flags.values()))
        .selectExpr(*aggs)
        .collect()[0]
    )
    out: dict[str, list[tuple[Any, Any]]] = {}
    for j in failing:
        pairs = []
        for r in (found[f"x{j}"] if sample_size else None) or []:
            e_row = {f"ek{i}": r[f"ek{i}"] for i in range(s.n_keys)} | {f"e{j}": r["e"]}
            a_row = {f"ak{i}": r[f"ak{i}"] for i in range(s.n_keys)} | {f"a{j}": r["a"]}
            pairs.append((e_row, a_row))
        out[f"s{j}"] = pairs
    return out, {j: int(found[f"n{j}"]) for j in failing}


def _fetch_located(
    hashes: dict[str, list[int]], s: _Sides, sample_size: int
) -> dict[str, list[tuple[Any, Any]]]:
    """Fetch the rows whose key hash the key pass located (examples of key failures) from
    each input, reading only the key columns; pair them up per failure name."""
    wanted = sorted({h for found in hashes.values() for h in found})
    if not wanted:
        return {}
    by_side: dict[str, dict[int, Any]] = {}
    for side, base in (("e", s.e), ("a", s.a)):
        keys = [f"{side}k{i}" for i in range(s.n_keys)]
        found = (
            base.selectExpr(*keys, f"{_key_hash_sql(s.n_keys, side)} AS _h")
            .where(F.col("_h").isin(wanted))
            .limit(10_000)
            .collect()
        )
        by_side[side] = {}
        for r in found:
            by_side[side].setdefault(r["_h"], r)
    out: dict[str, list[tuple[Any, Any]]] = {}
    for name, found in hashes.items():
        pairs, seen = [], set()
        for h in found:
            if h not in seen:
                seen.add(h)
                pairs.append((by_side["e"].get(h), by_side["a"].get(h)))
        out[name] = pairs[:sample_size]
    return out


def compare(
    expected: DataFrame,
    actual: DataFrame,
    *,
    keys: Sequence[str],
    rtol: float = 1e-9,
    atol: float = 0.0,
    column_tolerances: Mapping[str, Mapping[str, float]] | None = None,
    ignore_columns: Iterable[str] = (),
    type_policy: str = "widening",
    sample_size: int = 5,
    case_sensitive: bool = False,
) -> CompareResult:
    """Compare a golden (``expected``) with a candidate (``actual``) output, matched by ``keys``.

    Usually one query: a keyed full outer join without any per-key window, aggregated once,
    while each input's row count is learnt from that same query. Those counts prove the keys
    line up one-to-one (every input row met exactly one partner) or show they do not. Only
    then is a key-only pass run (missing, extra and duplicate keys, counted per distinct
    key), or, when a key present on both sides is duplicated, the whole comparison again
    with per-key windows so duplicated keys stay out of the value comparison. Examples of
    failures are found on first use (``_Examples``). Column names match
    case-insensitively by default because Hive lower-cases every column name.
    """
    started = time.perf_counter()
    if sample_size < 0:
        raise CompareError(f"sample_size must be >= 0, got {sample_size}")
    plan = _plan(
        expected,
        actual,
        keys,
        rtol,
        atol,
        column_tolerances or {},
        list(ignore_columns),
        type_policy,
        case_sensitive,
    )
    kinds = [_kind(et, at) for _en, _an, et, at, *_tol in plan.columns]
    sample_size = int(sample_size)

    # The per-row projection carries ~6 fields per compared column; past Spark's default
    # spark.sql.codegen.maxFields (100) it would lose whole-stage codegen.
    conf = expected.sparkSession.conf
    previous = conf.get(_MAX_FIELDS, None)
    conf.set(_MAX_FIELDS, str(max(1000, 8 * len(plan.columns) + 50)))
    try:
        counter = _RowCounts(expected, actual)

        def run(e: DataFrame, a: DataFrame, *, windowed: bool, with_values: bool) -> _Pass:
            sides = _sides(plan, e, a, values=with_values)
            return _aggregate(plan, sides, windowed=windowed, sample_size=sample_size, kinds=kinds)

        values = run(counter.expected, counter.actual, windowed=False, with_values=True)
        rows_e, rows_a = counter.counts(values.frame)
        # Joined rows: ``matched`` had both sides, ``rows_e - matched`` only the expected one.
        # Every input row met exactly one partner iff those add up to the input row counts.
        v = values.row
        pairs, only_e, only_a = v["matched"], v["rows_e"] - v["matched"], v["rows_a"] - v["matched"]
        if rows_e is None or rows_a is None or rows_e - only_e != pairs or rows_a - only_a != pairs:
            # A key present on both sides is duplicated (or the counts could not be
            # learnt): compare again with per-key windows, which keep duplicated keys out
            # of the value comparison and count them.
            values = keyed = run(expected, actual, windowed=True, with_values=True)
        elif only_e or only_a:
            # Keys on one side only: the values of the one-to-one pairs stand; count the
            # missing and extra keys (and duplicates among them) per distinct key.
            keyed = run(expected, actual, windowed=True, with_values=False)
        else:
            keyed = None  # every row met exactly one partner: no key failures at all
    except CompareError:
        raise
    except Exception as exc:  # Spark errors: keep the first meaningful line, drop the JVM trace
        raise CompareError(f"the comparison query failed: {first_line(exc, 500)}") from None
    finally:
        if previous is None:
            conf.unset(_MAX_FIELDS)
        else:
            conf.set(_MAX_FIELDS, previous)

    key_names = [kp[0] for kp in plan.keys]

    def key_of(found: Any, side: str) -> dict[str, Any]:
        return {name: _plain(found[f"{side}k{i}"]) for i, name in enumerate(key_names)}

    hashes = keyed.hashes if keyed is not None else {}  # only key passes locate by hash
    failing = [j for j, kind in enumerate(kinds) if kind != "incomparable" and values.row[f"m{j}"]]
    examples = _Examples(
        hashes, plan, expected, actual, sample_size, failing, windowed=values is keyed
    )

    def key_sample(name: str) -> list[dict[str, Any]]:
        return [
            key_of(er, "e") if er is not None else key_of(ar, "a")
            for er, ar in examples.get(f"s_{name}")
            if er is not None or ar is not None
        ]

    def key_diff(name: str) -> KeyDiff:
        return KeyDiff(
            int(keyed.row[name]) if keyed is not None else 0,
            functools.partial(key_sample, name),
            functools.partial(_key_frame, plan, expected, actual, name),
        )

    def column_sample(j: int, kind: str) -> list[dict[str, Any]]:
        return [
            _sample(key_of(er, "e"), er[f"e{j}"], ar[f"a{j}"], kind)
            for er, ar in examples.get(f"s{j}")
            if er is not None and ar is not None
        ]

    columns: dict[str, ColumnStats] = {}
    for j, (en, _an, et, at, c_rtol, c_atol) in enumerate(plan.columns):
        kind = kinds[j]
        stats = ColumnStats(
            en,
            et.simpleString(),
            at.simpleString(),
            kind,
            c_rtol if kind == "numeric" else 0.0,
            c_atol if kind == "numeric" else 0.0,
        )
        if kind != "incomparable":
            stats.mismatches = int(values.row[f"m{j}"])
            stats._null_mismatches = functools.partial(examples.null_mismatches, j)
            if kind == "numeric":
                stats.max_abs_diff, stats.max_rel_diff = values.row[f"x{j}"], values.row[f"r{j}"]
            stats._sample = functools.partial(column_sample, j, kind)
        columns[en] = stats

    return CompareResult(
        keys=key_names,
        # A key pass counted the rows exactly, per key; otherwise the counts were proven.
        rows_expected=int(keyed.row["rows_e"] if keyed is not None else rows_e),
        rows_actual=int(keyed.row["rows_a"] if keyed is not None else rows_a),
        rows_matched=int(values.row["matched"]),
        missing_keys=key_diff("missing"),
        extra_keys=key_diff("extra"),
        duplicate_keys_expected=key_diff("dup_e"),
        duplicate_keys_actual=key_diff("dup_a"),
        missing_columns=plan.missing_columns,
        extra_columns=plan.extra_columns,
        type_changes=plan.type_changes,
        columns=columns,
        elapsed_s=time.perf_counter() - started,
    )


class _RowCounts:
    """Each input's row count, learnt from the comparison's own query (no extra job).

    In-process (classic) sessions read them from the executed plan afterwards: the records
    each side wrote into the join's shuffle (:func:`_shuffle_rows`). Spark Connect and
    Databricks Connect clients cannot see the plan, so there the inputs are wrapped with
    ``DataFrame.observe``; that node breaks whole-stage codegen below the shuffle, measured
    at ~9% of the join floor at 1M rows, hence the plan route where there is one.
    ``counts()`` is (None, None) when neither works, which makes ``compare`` take the
    windowed path: slower, never wrong.
    """

    def __init__(
        self, expected: DataFrame, actual: DataFrame, from_plan: bool | None = None
    ) -> None:
        self.expected, self.actual = expected, actual
        self._observations: list[Any] = []
        if from_plan is None:  # classic DataFrames carry their JVM Dataset
            from_plan = all(getattr(df, "_jdf", None) is not None for df in (expected, actual))
        self._from_plan = from_plan
        if from_plan:
            return
        try:
            from pyspark.sql import Observation

            pair = []
            for df in (expected, actual):
                obs = Observation(f"harness_rows_{uuid.uuid4().hex[:12]}")
                pair.append(df.observe(obs, F.count(F.lit(1)).alias("rows")))
                self._observations.append(obs)
            self.expected, self.actual = pair
        except Exception:  # an old or restricted backend: fall back to the windowed path
            self._observations = []

    def counts(self, ran: DataFrame) -> tuple[int | None, int | None]:
        try:
            if self._from_plan:
                return _shuffle_rows(ran._jdf)
            e, a = (int(obs.get["rows"]) for obs in self._observations)
            return e, a
        except Exception:
            return None, None


_SHUFFLED_JOINS = ("SortMergeJoinExec", "ShuffledHashJoinExec")
# Nodes that pass every row through unchanged: only across these does an exchange's record
# count equal the rows reaching the join (a Filter above an input's own exchange would not).
_ROW_PRESERVING = (
    "SortExec",
    "ProjectExec",
    "InputAdapter",
    "WholeStageCodegenExec",
    "AQEShuffleReadExec",
    "ReusedExchangeExec",
)


def _shuffle_rows(jdf: Any) -> tuple[int | None, int | None]:
    """Rows each side of the comparison's join wrote into its shuffle, from the executed
    (adaptive) plan of the query that ran: the topmost join is ours (everything above it
    is single-child projection and aggregation), its left side is ``expected``. None
    unless only row-preserving nodes lie between the join and that exchange: an input
    already partitioned by the key gets no shuffle of its own, and the nearest exchange
    may then sit below one of the input's filters (counts of that kind once hid a
    duplicated key; see the tests)."""

    def unwrap(node: Any) -> Any:
        while True:
            name = node.getClass().getSimpleName()
            if name == "AdaptiveSparkPlanExec":
                node = node.executedPlan()
            elif name.endswith("QueryStageExec"):  # adaptive stages hide their plan from children()
                node = node.plan()
            else:
                return node

    def rows_written(node: Any) -> int | None:
        while True:
            node = unwrap(node)
            name = node.getClass().getSimpleName()
            if name == "ShuffleExchangeExec":
                return int(node.metrics().apply("shuffleRecordsWritten").value())
            if name not in _ROW_PRESERVING:
                return None
            node = node.child()

    queue = [jdf.queryExecution().executedPlan()]
    while queue:  # breadth first: the topmost join
        node = unwrap(queue.pop(0))
        if node.getClass().getSimpleName() in _SHUFFLED_JOINS:
            return rows_written(node.left()), rows_written(node.right())
        children = node.children()
        queue += [children.apply(i) for i in range(children.size())]
    return None, None


def _key_frame(plan: _Plan, expected: DataFrame, actual: DataFrame, name: str) -> DataFrame:
    """Every key of one kind of key failure, as a lazily evaluated DataFrame."""
    s = _sides(plan, expected, actual, values=False)
    n = s.n_keys
    key_sql = (
        "CASE WHEN _en IS NOT NULL THEN named_struct("
        + ", ".join(f"'k{i}', ek{i}" for i in range(n))
        + ") ELSE named_struct("
        + ", ".join(f"'k{i}', ak{i}" for i in range(n))
        + ") END"
    )
    return (
        _joined(s, windowed=True)
        .where(F.expr(_KEY_FAILURES[name]))
        .select(F.expr(key_sql).alias("k"))
        .select(*[F.col(f"k.k{i}").alias(kp[0]) for i, kp in enumerate(plan.keys)])
    )


def _sample(key: dict[str, Any], expected: Any, actual: Any, kind: str) -> dict[str, Any]:
    """One mismatch example: key, both values and, for numbers, their differences."""
    out = {"key": key, "expected": _plain(expected), "actual": _plain(actual)}
    if kind == "numeric":
        abs_diff = rel_diff = None
        try:
            e, a = float(expected), float(actual)
            if math.isfinite(e) and math.isfinite(a):
                abs_diff = abs(a - e)
                rel_diff = abs_diff / abs(e) if e != 0 else (0.0 if abs_diff == 0 else math.inf)
        except (TypeError, ValueError):
            pass
        out["abs_diff"], out["rel_diff"] = abs_diff, rel_diff
    return out


def _plain(value: Any) -> Any:
    return value.asDict(recursive=True) if hasattr(value, "asDict") else value


def _q(name: str) -> str:
    """Escape a column name for use inside backticks."""
    return name.replace("`", "``")
