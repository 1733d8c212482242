"""What to compare, resolved and validated from the two schemas before any Spark job runs.

Which type changes a ``type_policy`` tolerates is :mod:`harness.typerules`' (keys included:
a key is a column like any other); here, what kind of comparison each column gets, and the
one type both sides' keys are joined on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pyspark.sql import types as T

from harness.errors import CompareError
from harness.typerules import (
    INTEGRAL_RANK,
    TYPE_POLICIES,
    contains,
    is_numeric,
    same_type,
    type_change_tolerated,
)

KINDS = ("numeric", "exact", "nested", "incomparable")  # how a column's values are compared
_TOLERANCE_FIELDS = {"rtol", "atol"}
_CONTAINERS = (T.ArrayType, T.MapType, T.StructType)


def kind_of(expected: T.DataType, actual: T.DataType) -> str:
    """How a column's values are compared (one of ``KINDS``): numbers with tolerance,
    containers element-wise, everything else exactly; ``incomparable`` when the two types
    have nothing to compare by (that column then fails on its type change)."""
    if is_numeric(expected) and is_numeric(actual):
        return "numeric"
    if same_type(expected, actual) or type_change_tolerated(expected, actual, "numeric"):
        return "nested" if isinstance(expected, _CONTAINERS) else "exact"
    return "incomparable"


def join_type(expected: T.DataType, actual: T.DataType) -> T.DataType:
    """The one type both sides' key is cast to for the join. Only a change the policy did
    not tolerate can end in ``string``, and that change fails the comparison anyway: the
    join then only serves to show which keys line up."""
    if same_type(expected, actual):
        return expected
    if type(expected) in INTEGRAL_RANK and type(actual) in INTEGRAL_RANK:
        return T.LongType()
    if is_numeric(expected) and is_numeric(actual):
        decimal = T.DecimalType in (type(expected), type(actual))
        return T.DecimalType(38, 10) if decimal else T.DoubleType()
    return T.StringType()


class KeyPlan(NamedTuple):
    expected: str  # the column's name on each side (names match case-insensitively)
    actual: str
    expected_type: T.DataType
    actual_type: T.DataType
    join_type: T.DataType


class ColumnPlan(NamedTuple):
    expected: str
    actual: str
    expected_type: T.DataType
    actual_type: T.DataType
    rtol: float
    atol: float
    kind: str  # one of KINDS


@dataclass(frozen=True)
class Plan:
    keys: list[KeyPlan]
    columns: list[ColumnPlan]  # every compared value column, in the expected side's order
    missing_columns: list[str]
    extra_columns: list[str]
    type_changes: list[dict[str, Any]]  # keys and value columns alike

    @property
    def compared(self) -> list[int]:
        """Indexes of the columns whose values are compared (all but incomparable ones)."""
        return [j for j, c in enumerate(self.columns) if c.kind != "incomparable"]


def check_tolerance(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CompareError(f"{what} must be a number, got {value!r}") from None
    if math.isnan(number) or number < 0:
        raise CompareError(f"{what} must be a non-negative number, got {value!r}")
    return number


def _type_change(name: str, e: T.DataType, a: T.DataType, policy: str, key: bool) -> dict:
    change = {
        "column": name,
        "expected": e.simpleString(),
        "actual": a.simpleString(),
        "tolerated": type_change_tolerated(e, a, policy),
    }
    return change | {"key": True} if key else change


def make_plan(
    expected: T.StructType,
    actual: T.StructType,
    keys: Sequence[str] | str,
    rtol: float,
    atol: float,
    column_tolerances: Mapping[str, Mapping[str, float]],
    ignore: Iterable[str],
    type_policy: str,
    case_sensitive: bool,
) -> Plan:
    """Resolve names, types and tolerances of a comparison, or raise one clear
    ``CompareError`` naming the bad argument."""
    if isinstance(keys, str):
        keys = [keys]
    if not keys:
        raise CompareError("keys must name at least one key column (rows are matched by key)")
    if type_policy not in TYPE_POLICIES:
        raise CompareError(f"type_policy must be one of {TYPE_POLICIES}, got {type_policy!r}")
    rtol = check_tolerance(rtol, "rtol")
    atol = check_tolerance(atol, "atol")

    def norm(name: str) -> str:
        return name if case_sensitive else name.lower()

    e_fields = {norm(f.name): f for f in expected.fields}
    a_fields = {norm(f.name): f for f in actual.fields}
    for side, fields in (("expected", expected.fields), ("actual", actual.fields)):
        seen: dict[str, str] = {}
        for f in fields:
            if norm(f.name) in seen:
                raise CompareError(
                    f"{side} has two columns named {seen[norm(f.name)]!r} and "
                    f"{f.name!r}; rename one (Spark resolves names case-insensitively)"
                )
            seen[norm(f.name)] = f.name

    key_plan, type_changes = [], []
    for k in keys:
        for side, by_name in (("expected", e_fields), ("actual", a_fields)):
            if norm(k) not in by_name:
                raise CompareError(
                    f"key column {k!r} is not in the {side} output; its columns are: "
                    f"{', '.join(f.name for f in by_name.values())}"
                )
        ef, af = e_fields[norm(k)], a_fields[norm(k)]
        for f in (ef, af):
            if isinstance(f.dataType, _CONTAINERS):
                raise CompareError(
                    f"key column {k!r} has nested type {f.dataType.simpleString()}; "
                    "keys must be scalar columns"
                )
        if not same_type(ef.dataType, af.dataType):
            type_changes.append(_type_change(ef.name, ef.dataType, af.dataType, type_policy, True))
        key_plan.append(
            KeyPlan(ef.name, af.name, ef.dataType, af.dataType, join_type(ef.dataType, af.dataType))
        )
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
        if not contains(dtype, T.NumericType):
            raise CompareError(
                f"column_tolerances sets a tolerance on {c!r}, a "
                f"{dtype.simpleString()} column; only numeric columns take a "
                "tolerance (others are compared exactly)"
            )
        tolerances[norm(c)] = (
            check_tolerance(tol.get("rtol", rtol), f"rtol for {c!r}"),
            check_tolerance(tol.get("atol", atol), f"atol for {c!r}"),
        )

    columns = []
    missing = [f.name for n, f in e_fields.items() if n not in a_fields and n not in ignored]
    extra = [f.name for n, f in a_fields.items() if n not in e_fields and n not in ignored]
    for n, ef in e_fields.items():
        if n in key_names or n in ignored or n not in a_fields:
            continue
        af = a_fields[n]
        if not same_type(ef.dataType, af.dataType):
            type_changes.append(_type_change(ef.name, ef.dataType, af.dataType, type_policy, False))
        kind = kind_of(ef.dataType, af.dataType)
        col_rtol, col_atol = tolerances.get(n, (rtol, atol))
        if not contains(ef.dataType, T.NumericType):
            col_rtol = col_atol = 0.0  # tolerances apply to numeric leaves only
        columns.append(
            ColumnPlan(ef.name, af.name, ef.dataType, af.dataType, col_rtol, col_atol, kind)
        )
    return Plan(key_plan, columns, missing, extra, type_changes)
