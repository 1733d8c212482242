"""Distributed, tolerance-aware parity check of two Spark DataFrames.

One pass over the data does the work: each side is renamed to internal column names (so
names with spaces, dots or backticks never reach SQL), keyed by null-safe join columns,
counted per key with a window whose shuffle the keyed full outer join reuses (so
duplicate-key detection costs no extra exchange), and a single fixed-width aggregation
(whole-stage codegen) yields every count, every per-column statistic and seeded key
hashes that locate a bounded, deterministic sample of mismatches; only on failure are
those few rows fetched by a hash-filtered scan of each input. Nothing but the aggregated
row and the example rows reaches the driver.

Match rule for numeric columns (pytest.approx's, golden as the reference)::

    |actual - expected| <= max(rtol * |expected|, atol)

with null == null only, NaN == NaN only, +inf/-inf equal only to themselves, and
-0.0 == 0.0. With rtol == atol == 0 values must be equal in their own type (no cast, so
longs beyond 2**53 and decimals stay exact).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, Window
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

    ``len()`` is the count; iterate for the sampled keys. The full set is one
    ``to_dataframe()`` away, computed lazily on the cluster.
    """

    count: int
    sample: list[dict[str, Any]]
    _frame: DataFrame | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return iter(self.sample)

    def __bool__(self) -> bool:
        return self.count > 0

    def to_dataframe(self) -> DataFrame:
        if self._frame is None:
            raise CompareError("this key set has no DataFrame attached (built from a dict?)")
        return self._frame


@dataclass
class ColumnStats:
    name: str
    expected_type: str
    actual_type: str
    kind: str  # numeric | exact | nested | incomparable
    rtol: float
    atol: float
    mismatches: int = 0
    null_mismatches: int = 0
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)


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


def _match_sql(e: str, a: str, et: T.DataType, at: T.DataType, rtol: float, atol: float,
               depth: int = 0) -> str:
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
        return (f"({same} OR coalesce({e} IS NOT NULL AND {a} IS NOT NULL AND "
                f"size({e}) = size({a}) AND forall(zip_with({e}, {a}, ({x}, {y}) -> {inner}), "
                f"{b} -> {b}), false))")
    if isinstance(et, T.StructType) and isinstance(at, T.StructType):
        if not _contains_numeric(et) or exact:
            return same
        a_fields = {f.name.lower(): f for f in at.fields}
        if {f.name.lower() for f in et.fields} != set(a_fields):
            return same
        parts = [_match_sql(f"{e}.`{_q(f.name)}`", f"{a}.`{_q(a_fields[f.name.lower()].name)}`",
                            f.dataType, a_fields[f.name.lower()].dataType, rtol, atol, depth)
                 for f in et.fields]
        return (f"({same} OR coalesce({e} IS NOT NULL AND {a} IS NOT NULL AND "
                f"{' AND '.join(parts)}, false))")
    if not (is_numeric(et) and is_numeric(at)) or exact:
        return same
    ed, ad = f"CAST({e} AS DOUBLE)", f"CAST({a} AS DOUBLE)"
    return (f"({same} OR coalesce({_finite_sql(ed)} AND {_finite_sql(ad)} AND "
            f"abs({ad} - {ed}) <= greatest({rtol!r} * abs({ed}), {atol!r}), false))")


def _finite_sql(x: str) -> str:
    return f"(NOT isnan({x}) AND abs({x}) != {_INF})"


def _key_default(dtype: T.DataType) -> Column:
    """A typed placeholder for null keys; the separate is-null flag keeps them distinct."""
    if isinstance(dtype, T.StringType):
        return F.lit("")
    if isinstance(dtype, T.BooleanType):
        return F.lit(False)
    if isinstance(dtype, T.BinaryType):
        return F.lit(bytearray())
    if isinstance(dtype, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return F.lit("1970-01-01").cast(dtype)
    return F.lit(0).cast(dtype)


def _common_key_type(e: T.DataType, a: T.DataType) -> T.DataType:
    if e == a:
        return e
    if type(e) in _INTEGRAL_RANK and type(a) in _INTEGRAL_RANK:
        return T.LongType()
    if is_numeric(e) and is_numeric(a):
        return T.DecimalType(38, 10) if T.DecimalType in (type(e), type(a)) else T.DoubleType()
    return T.StringType()


# ---------------------------------------------------------------------------- the engine


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

    One pass over the data (plus a filtered scan of each input to fetch examples when
    something failed); returns a :class:`CompareResult`. Column names match
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

    # Internal names only from here on: k0.., e0.., a0.. (user names never reach SQL).
    e_cols, a_cols = [], []
    join_e, join_a = [], []
    for i, (en, an, et, at) in enumerate(plan.keys):
        kt = _common_key_type(et, at)
        ek, ak = F.col(f"`{_q(en)}`").cast(kt), F.col(f"`{_q(an)}`").cast(kt)
        e_cols += [
            ek.alias(f"ek{i}"),
            F.coalesce(ek, _key_default(kt)).alias(f"ej{i}"),
            ek.isNull().alias(f"en{i}"),
        ]
        a_cols += [
            ak.alias(f"ak{i}"),
            F.coalesce(ak, _key_default(kt)).alias(f"aj{i}"),
            ak.isNull().alias(f"an{i}"),
        ]
        join_e += [f"ej{i}", f"en{i}"]
        join_a += [f"aj{i}", f"an{i}"]
    for j, (en, an, *_rest) in enumerate(plan.columns):
        e_cols.append(F.col(f"`{_q(en)}`").alias(f"e{j}"))
        a_cols.append(F.col(f"`{_q(an)}`").alias(f"a{j}"))

    # Window partitioned exactly like the join keys: the join reuses its shuffle and sort.
    we, wa = Window.partitionBy(*join_e), Window.partitionBy(*join_a)
    e_base, a_base = expected.select(*e_cols), actual.select(*a_cols)
    e_side = e_base.select(
        "*",
        F.count(F.lit(1)).over(we).alias("_en"),
        F.row_number().over(we.orderBy(*join_e)).alias("_er"),
    )
    a_side = a_base.select(
        "*",
        F.count(F.lit(1)).over(wa).alias("_an"),
        F.row_number().over(wa.orderBy(*join_a)).alias("_ar"),
    )
    cond = [e_side[x] == a_side[y] for x, y in zip(join_e, join_a, strict=True)]
    joined = e_side.join(a_side, cond, "full_outer")

    n_keys = len(plan.keys)
    # Each kind of key failure, counted on one joined row per distinct key ("first": row
    # numbers are 1 on both sides); one definition serves the count, the sample locators
    # and the lazy KeyDiff.to_dataframe().
    first_sql = "(coalesce(_er, 1) = 1 AND coalesce(_ar, 1) = 1)"
    key_failures = {
        "missing": f"{first_sql} AND _en IS NOT NULL AND _an IS NULL",
        "extra": f"{first_sql} AND _an IS NOT NULL AND _en IS NULL",
        "dup_e": f"{first_sql} AND _en > 1",
        "dup_a": f"{first_sql} AND _an > 1",
    }
    # Samples are located, not carried: for each kind of failure the aggregate keeps the
    # smallest of a few differently seeded key hashes (plain longs), so every aggregate is
    # fixed-width and Spark plans a whole-stage-codegen HashAggregate. Only when something
    # failed are those few rows fetched from each input by a hash filter (a scan, no join
    # of the full data). Carrying the values (min_by(struct, ord, k)) would force an
    # interpreted SortAggregate: measured 5-7x slower on 1M rows x 20 columns.
    seeds = list(range(min((int(sample_size) + 1) // 2 + 1, 6))) if sample_size else []
    joined = joined.selectExpr("*", "(_en = 1 AND _an = 1) AS _p")  # paired: compare values
    keys_sql = ", ".join(f"coalesce(ek{i}, ak{i})" for i in range(n_keys))
    per_row: list[str] = [f"xxhash64({s}, {keys_sql}) AS _h{s}" for s in seeds]
    locators: dict[str, list[tuple[int, str]]] = {}

    def locate(condition: str, name: str) -> list[str]:
        """Smallest and largest seeded hash of the failing rows: two distinct rows whenever
        two fail, and more seeds add more picks (deduplicated on the driver)."""
        out = []
        for s in seeds:
            for fn in ("min", "max"):
                alias = f"L{len(out)}_{name}_{fn}"
                locators.setdefault(name, []).append((s, alias))
                out.append(f"{fn}(CASE WHEN {condition} THEN _h{s} END) AS {alias}")
        return out

    aggs: list[str] = [
        f"sum(CASE WHEN {first_sql} THEN coalesce(_en, 0) END) AS rows_e",
        f"sum(CASE WHEN {first_sql} THEN coalesce(_an, 0) END) AS rows_a",
        "count_if(_p) AS matched",
    ]
    for name, condition in key_failures.items():
        aggs += [f"count_if({condition}) AS {name}", *locate(condition, f"s_{name}")]
    # Per-row work happens once, in a projection below the aggregate (codegen + common
    # subexpression elimination); the aggregate only reads ready-made columns.
    kinds = []
    for j, (_en, _an, et, at, c_rtol, c_atol) in enumerate(plan.columns):
        kind = _kind(et, at)
        kinds.append(kind)
        if kind == "incomparable":
            continue
        e, a = f"e{j}", f"a{j}"
        per_row += [f"(_p AND NOT {_match_sql(e, a, et, at, c_rtol, c_atol)}) AS _b{j}",
                    f"(_p AND ({e} IS NULL) != ({a} IS NULL)) AS _n{j}"]
        aggs += [f"count_if(_b{j}) AS m{j}", f"count_if(_n{j}) AS n{j}",
                 *locate(f"_b{j}", f"s{j}")]
        if kind == "numeric":
            ed, ad = f"CAST({e} AS DOUBLE)", f"CAST({a} AS DOUBLE)"
            ok = f"(_p AND {_finite_sql(ed)} AND {_finite_sql(ad)})"
            diff = f"abs({ad} - {ed})"
            per_row += [f"CASE WHEN {ok} THEN {diff} END AS _d{j}",
                        f"CASE WHEN {ok} THEN (CASE WHEN {ed} != 0 THEN {diff} / abs({ed}) "
                        f"WHEN {diff} = 0 THEN 0.0D ELSE {_INF} END) END AS _r{j}"]
            aggs += [f"max(_d{j}) AS x{j}", f"max(_r{j}) AS r{j}"]
    joined = joined.selectExpr("*", *per_row)

    # The per-row projection carries ~6 fields per compared column; past Spark's default
    # spark.sql.codegen.maxFields (100) it would lose whole-stage codegen.
    conf = expected.sparkSession.conf
    previous = conf.get(_MAX_FIELDS, None)
    conf.set(_MAX_FIELDS, str(max(1000, 8 * len(plan.columns) + 50)))
    try:
        row = joined.selectExpr(*aggs).collect()[0].asDict()
        fetched = _fetch_located(row, locators, seeds, n_keys, e_base, a_base)
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

    def located(name: str) -> list[tuple[Any, Any]]:
        """(expected row, actual row) for each distinct located key of failure ``name``."""
        out, seen = [], set()
        for s, alias in locators.get(name, []):
            h = row.get(alias)
            if h is None:
                continue
            pair = (fetched["e"].get((s, h)), fetched["a"].get((s, h)))
            ident = repr(
                key_of(pair[0], "e")
                if pair[0] is not None
                else key_of(pair[1], "a")
                if pair[1] is not None
                else h
            )
            if ident not in seen:
                seen.add(ident)
                out.append(pair)
        return out[:sample_size]

    def keys_of(name: str) -> list[dict[str, Any]]:
        return [
            key_of(er, "e") if er is not None else key_of(ar, "a")
            for er, ar in located(name)
            if er is not None or ar is not None
        ]

    key_any_sql = (
        "CASE WHEN _en IS NOT NULL THEN named_struct("
        + ", ".join(f"'k{i}', ek{i}" for i in range(n_keys))
        + ") ELSE named_struct("
        + ", ".join(f"'k{i}', ak{i}" for i in range(n_keys))
        + ") END"
    )

    def key_diff(name: str) -> KeyDiff:
        frame = (joined.where(F.expr(key_failures[name]))
                 .select(F.expr(key_any_sql).alias("k"))
                 .select(*[F.col(f"k.k{i}").alias(key) for i, key in enumerate(key_names)]))
        return KeyDiff(int(row[name]), keys_of(f"s_{name}"), frame)

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
            stats.mismatches = int(row[f"m{j}"])
            stats.null_mismatches = int(row[f"n{j}"])
            if kind == "numeric":
                stats.max_abs_diff, stats.max_rel_diff = row[f"x{j}"], row[f"r{j}"]
            stats.sample = [
                _sample(key_of(er, "e"), er[f"e{j}"], ar[f"a{j}"], kind)
                for er, ar in located(f"s{j}")
                if er is not None and ar is not None
            ]
        columns[en] = stats

    return CompareResult(
        keys=key_names,
        rows_expected=int(row["rows_e"] or 0),
        rows_actual=int(row["rows_a"] or 0),
        rows_matched=int(row["matched"]),
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


def _fetch_located(
    row: dict[str, Any],
    locators: dict[str, list[tuple[int, str]]],
    seeds: list[int],
    n_keys: int,
    e_base: DataFrame,
    a_base: DataFrame,
) -> dict[str, dict[tuple[int, int], Any]]:
    """Fetch the rows whose seeded key hash was located by the aggregate, from each side."""
    wanted: dict[int, set[int]] = {s: set() for s in seeds}
    for pairs in locators.values():
        for seed, alias in pairs:
            if row.get(alias) is not None:
                wanted[seed].add(int(row[alias]))
    out: dict[str, dict[tuple[int, int], Any]] = {"e": {}, "a": {}}
    if not any(wanted.values()):
        return out
    for side, base in (("e", e_base), ("a", a_base)):
        keys = [F.col(f"{side}k{i}") for i in range(n_keys)]
        hashed = base.select("*", *[F.xxhash64(F.lit(s), *keys).alias(f"_h{s}") for s in seeds])
        cond = None
        for s, hashes in wanted.items():
            if hashes:
                term = F.col(f"_h{s}").isin(sorted(hashes))
                cond = term if cond is None else cond | term
        for found in hashed.where(cond).limit(10_000).collect():
            for s in seeds:
                out[side].setdefault((s, found[f"_h{s}"]), found)
    return out


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
