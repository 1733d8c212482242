"""The comparison engine: the counting queries that decide a verdict.

Usually one query does the work: the keyed full outer join (:mod:`harness.compare.join`)
feeds one global aggregation that yields every count and every per-column statistic, while
each input's row count is learnt from that same query (:mod:`harness.compare.rowcounts`).
Matched pairs plus one-sided rows adding up to those counts proves every row met exactly
one partner. Only when they do not is a key-only pass run (missing, extra and duplicated
keys per distinct key), or, if a key present on both sides is duplicated, the comparison
again with per-key windows that share the join's shuffle.

Why every per-row rule sits inside an aggregate function, with no projection between the
join and the aggregate: whole-stage codegen inlines projections into the join's row loop,
one Java method that grows with the column count, and HotSpot never JIT-compiles a method
over 8,000 bytes of bytecode (-XX:-DontCompileHugeMethods changes that, but only in JVMs
the harness starts; a user's session, a cluster or a Connect server runs stock). Spark
gives each aggregate function a method of its own when the joined row is narrow enough
to pass as parameters, which the value structs guarantee. So the hot loop stays small in
any session; :data:`COLUMNS_PER_PASS` bounds the part that still grows with the columns.

Whole-stage codegen also stops at ``spark.sql.codegen.maxFields`` (100 by default) fields in
an operator's input or output, nested fields counted. The engine never changes that setting
(a session's settings are shared by every query running in it: two comparisons in threads
of one notebook must not see each other's): it reads it, and puts no more columns in one
counting query than keep the joined row and the aggregate's buffers within it
(:func:`column_chunks`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from harness.compare import sql
from harness.compare.examples import Examples, key_frame, mismatch, plain
from harness.compare.join import joined, sides
from harness.compare.plan import Plan, make_plan
from harness.compare.result import ColumnStats, CompareResult, KeyDiff
from harness.compare.rowcounts import RowCounts
from harness.errors import CompareError, first_line

# Compared columns per counting query, at most. The aggregate's row method still grows with
# the columns (each numeric column's shared subexpressions and its buffers: measured ~75
# bytes of bytecode a double column, ~100 a decimal one, more with the key-failure locators
# of a windowed pass); 64 keeps it well under HotSpot's 8,000-byte limit (a test measures
# it). The field budget below usually allows fewer; wider outputs take one more join per
# group of columns.
COLUMNS_PER_PASS = 64
MAX_FIELDS = "spark.sql.codegen.maxFields"  # read, never set
DEFAULT_MAX_FIELDS = 100  # Spark's default for it


@dataclass(frozen=True)
class Pass:
    """One counting query's results: combined counts and statistics, the key hashes that
    locate examples of each kind of key failure, and the query that ran (its executed plan
    holds the join's shuffle metrics)."""

    row: dict[str, Any]
    hashes: dict[str, list[int]]
    frame: DataFrame


def _locate(condition: str, name: str, slots: int, n_keys: int) -> dict[str, str]:
    """Aggregates that locate examples of one key failure: rows are spread over ``slots``
    by key hash and per slot the smallest and largest hash of a failing key are kept
    (fixed-width longs; distinct slots hold distinct keys, so they give ``2 * slots``
    distinct examples whenever that many keys fail)."""
    key_hash = sql.key_hash(n_keys)
    out = {}
    for slot in range(slots):
        in_slot = f"{condition} AND pmod({key_hash}, {slots}) = {slot}" if slots > 1 else condition
        for fn in ("min", "max"):
            out[f"L_{name}_{slot}_{fn}"] = f"{fn}(CASE WHEN {in_slot} THEN {key_hash} END)"
    return out


def count_pass(
    plan: Plan,
    expected: DataFrame,
    actual: DataFrame,
    *,
    windowed: bool,
    sample_size: int,
    columns: Sequence[int],
    max_fields: int = DEFAULT_MAX_FIELDS,
) -> Pass:
    """Count rows, pairs, key failures (``windowed`` only) and each of ``columns``'
    mismatches and largest differences: one query per group of :func:`column_chunks`."""
    chunks = column_chunks(
        plan, columns, windowed=windowed, sample_size=sample_size, max_fields=max_fields
    )
    query = functools.partial(count_frame, plan, expected, actual, windowed, sample_size)
    first = read_counts(*query(chunks[0], keys=True), chunks[0])
    for chunk in chunks[1:]:
        more = read_counts(*query(chunk, keys=False), chunk)
        first.row.update({k: v for k, v in more.row.items() if k not in first.row})
    return first


def nested_fields(dtype: T.DataType) -> int:
    """How many fields whole-stage codegen counts for a value of ``dtype`` against
    ``spark.sql.codegen.maxFields``: Spark's own rule (WholeStageCodegenExec's
    ``numOfNestedFields``): a struct's fields, a map's key and value, an array's element."""
    if isinstance(dtype, T.StructType):
        return sum(nested_fields(f.dataType) for f in dtype.fields)
    if isinstance(dtype, T.MapType):
        return nested_fields(dtype.keyType) + nested_fields(dtype.valueType)
    if isinstance(dtype, T.ArrayType):
        return nested_fields(dtype.elementType)
    return 1


def _fields(plan: Plan, j: int) -> tuple[int, int]:
    """What compared column ``j`` adds to the joined row (both sides' values, and the flag
    of a rule evaluated below the aggregate) and to the aggregate (its counts and maxima)."""
    column = plan.columns[j]
    row = nested_fields(column.expected_type) + nested_fields(column.actual_type)
    flag = 1 if sql.uses_lambdas(column) else 0
    return row + flag, 3 if column.kind == "numeric" else 1


def column_chunks(
    plan: Plan,
    columns: Sequence[int],
    *,
    windowed: bool = False,
    sample_size: int = 5,
    max_fields: int = DEFAULT_MAX_FIELDS,
) -> list[list[int]]:
    """The compared columns in groups, one counting query each (one empty group when there
    are none: the rows and keys are still counted). A group keeps the joined row and the
    aggregate's buffers within ``max_fields`` fields (the session's
    ``spark.sql.codegen.maxFields``, past which Spark drops whole-stage codegen) and holds
    at most :data:`COLUMNS_PER_PASS` columns; a column too wide for any group goes alone."""
    keys = sum(nested_fields(k.join_type) + 1 for k in plan.keys)  # join value, is-NULL flag
    # Per side: the keys' join columns (and their values in a windowed pass, for the key
    # hash), the row count and number; the first query also counts rows, pairs and (in a
    # windowed pass) each key failure with its example locators.
    row_base = 2 * ((2 * keys if windowed else keys) + 2)
    slots = (sample_size + 1) // 2  # example locators per kind of key failure: see _locate
    failures = len(sql.KEY_FAILURES) * (1 + 2 * slots) if windowed else 0
    agg_base = 3
    chunks: list[list[int]] = []
    chunk: list[int] = []
    row, agg = row_base, agg_base + failures
    for j in columns:
        add_row, add_agg = _fields(plan, j)
        full = len(chunk) >= COLUMNS_PER_PASS or (
            row + add_row > max_fields or agg + add_agg > max_fields
        )
        if chunk and full:
            chunks.append(chunk)
            chunk, row, agg = [], row_base, agg_base
        chunk.append(j)
        row, agg = row + add_row, agg + add_agg
    return [*chunks, chunk] if chunk or not chunks else chunks


def read_counts(frame: DataFrame, locators: dict[str, list[str]], columns: Sequence[int]) -> Pass:
    """Run one counting query (:func:`count_frame`) and read its single row."""
    row = frame.collect()[0].asDict()
    for name in ["rows_e", "rows_a", *sql.KEY_FAILURES, *(f"m{j}" for j in columns)]:
        if name in row:  # counts over no rows are null
            row[name] = int(row[name] or 0)
    hashes = {
        name: [row[alias] for alias in aliases if row[alias] is not None]
        for name, aliases in locators.items()
    }
    return Pass(row, hashes, frame)


def count_frame(
    plan: Plan,
    expected: DataFrame,
    actual: DataFrame,
    windowed: bool,
    sample_size: int,
    columns: Sequence[int],
    *,
    keys: bool,
) -> tuple[DataFrame, dict[str, list[str]]]:
    """One counting query over the keyed join, not yet run, and the aliases of its key
    failure locators. ``keys`` adds the key failures' counts and locators (a ``windowed``
    join only: a one-to-one join has no key failures to count)."""
    s = sides(plan, expected, actual, columns=columns)
    aggs = {
        "rows_e": f"sum(CASE WHEN {sql.FIRST} THEN coalesce(_en, 0) END)",
        "rows_a": f"sum(CASE WHEN {sql.FIRST} THEN coalesce(_an, 0) END)",
        "matched": sql.count(sql.PAIR),
    }
    locators: dict[str, list[str]] = {}
    if windowed and keys:
        slots = (sample_size + 1) // 2
        for name, condition in sql.KEY_FAILURES.items():
            aggs[name] = sql.count(condition)
            found = _locate(condition, f"s_{name}", slots, s.n_keys)
            aggs |= found
            locators[f"s_{name}"] = list(found)
    projected = []  # per-row flags of columns whose rule cannot be generated code
    for j in columns:
        column = plan.columns[j]
        if sql.uses_lambdas(column):
            projected.append(f"{sql.fails(j, column)} AS _b{j}")
            aggs[f"m{j}"] = sql.count(f"_b{j}")
        else:
            aggs[f"m{j}"] = sql.count(sql.fails(j, column))
        if column.kind == "numeric":
            aggs[f"x{j}"] = f"max({sql.abs_diff(j, column)})"
            aggs[f"r{j}"] = f"max({sql.rel_diff(j, column)})"
    rows = joined(s, windowed)
    if projected:
        rows = rows.selectExpr("*", *projected)
    frame = rows.selectExpr(*(f"{v} AS {k}" for k, v in aggs.items()))
    return frame, locators


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

    Usually one query (see the module docstring); examples of failures are found on first
    use (:mod:`harness.compare.examples`). Column names match case-insensitively by
    default because Hive lower-cases every column name.
    """
    started = time.perf_counter()
    if sample_size < 0:
        raise CompareError(f"sample_size must be >= 0, got {sample_size}")
    plan = make_plan(
        expected.schema,
        actual.schema,
        keys,
        rtol,
        atol,
        column_tolerances or {},
        list(ignore_columns),
        type_policy,
        case_sensitive,
    )
    sample_size = int(sample_size)
    compared = plan.compared

    try:
        # Read, never set: the session's settings belong to every query running in it.
        max_fields = _max_fields(expected)
        counter = RowCounts(expected, actual)
        run = functools.partial(count_pass, plan, sample_size=sample_size, max_fields=max_fields)
        values = run(counter.expected, counter.actual, windowed=False, columns=compared)
        rows_e, rows_a = counter.counts(values.frame)
        # Joined rows: ``matched`` had both sides, ``rows_e - matched`` only the expected one.
        # Every input row met exactly one partner iff those add up to the input row counts.
        v = values.row
        pairs, only_e, only_a = v["matched"], v["rows_e"] - v["matched"], v["rows_a"] - v["matched"]
        if rows_e is None or rows_a is None or rows_e - only_e != pairs or rows_a - only_a != pairs:
            # A key present on both sides is duplicated (or the counts could not be
            # learnt): compare again with per-key windows, which keep duplicated keys out
            # of the value comparison and count them.
            values = keyed = run(expected, actual, windowed=True, columns=compared)
        elif only_e or only_a:
            # Keys on one side only: the values of the one-to-one pairs stand; count the
            # missing and extra keys (and duplicates among them) per distinct key.
            keyed = run(expected, actual, windowed=True, columns=[])
        else:
            keyed = None  # every row met exactly one partner: no key failures at all
    except CompareError:
        raise
    except Exception as exc:  # Spark errors: keep the first meaningful line, drop the JVM trace
        raise CompareError(f"the comparison query failed: {first_line(exc, 500)}") from None
    return _result(plan, expected, actual, values, keyed, (rows_e, rows_a), sample_size, started)


def _max_fields(frame: DataFrame) -> int:
    """The session's ``spark.sql.codegen.maxFields`` (Spark's default when unset or odd)."""
    try:
        return int(frame.sparkSession.conf.get(MAX_FIELDS, None) or DEFAULT_MAX_FIELDS)
    except ValueError:
        return DEFAULT_MAX_FIELDS


def _result(
    plan: Plan,
    expected: DataFrame,
    actual: DataFrame,
    values: Pass,
    keyed: Pass | None,
    counted: tuple[int | None, int | None],
    sample_size: int,
    started: float,
) -> CompareResult:
    """The result object, with samples and NULL-vs-value counts left to fetch on first use."""
    key_names = [kp.expected for kp in plan.keys]

    def key_of(found: Any, side: str) -> dict[str, Any]:
        return {name: plain(found[f"{side}k{i}"]) for i, name in enumerate(key_names)}

    failing = [j for j in plan.compared if values.row[f"m{j}"]]
    examples = Examples(
        keyed.hashes if keyed is not None else {},  # only key passes locate by hash
        plan,
        expected,
        actual,
        sample_size,
        failing,
        windowed=values is keyed,
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
            functools.partial(key_frame, plan, expected, actual, name),
        )

    def column_sample(j: int, kind: str) -> list[dict[str, Any]]:
        return [
            mismatch(key_of(er, "e"), er[f"e{j}"], ar[f"a{j}"], kind)
            for er, ar in examples.get(f"s{j}")
            if er is not None and ar is not None
        ]

    columns: dict[str, ColumnStats] = {}
    for j, c in enumerate(plan.columns):
        stats = ColumnStats(
            c.expected,
            c.expected_type.simpleString(),
            c.actual_type.simpleString(),
            c.kind,
            c.rtol,
            c.atol,
        )
        if c.kind != "incomparable":
            stats.mismatches = int(values.row[f"m{j}"])
            stats._null_mismatches = functools.partial(examples.null_mismatches, j)
            if c.kind == "numeric":
                stats.max_abs_diff, stats.max_rel_diff = values.row[f"x{j}"], values.row[f"r{j}"]
            stats._sample = functools.partial(column_sample, j, c.kind)
        columns[c.expected] = stats

    # A key pass counted the rows exactly, per key; otherwise the counts were proven.
    rows_e, rows_a = (keyed.row["rows_e"], keyed.row["rows_a"]) if keyed is not None else counted
    assert rows_e is not None and rows_a is not None  # compare() runs a key pass without them
    return CompareResult(
        keys=key_names,
        rows_expected=int(rows_e),
        rows_actual=int(rows_a),
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
