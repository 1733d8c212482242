"""The type rules of a comparison: the type policies and which type changes each tolerates.

One module below both users of the list: ``spec`` validates an output's ``type_policy``
against ``TYPE_POLICIES`` and ``compare`` applies the rules, so the spec never imports the
comparison engine. Nullability, top-level or nested, is never a type change: Spark makes
nested fields nullable whenever it reads Parquet back, so an output would otherwise fail
against its own golden after the round trip.
"""

from __future__ import annotations

from pyspark.sql import types as T

TYPE_POLICIES = ("exact", "widening", "numeric")
INTEGRAL_RANK = {T.ByteType: 1, T.ShortType: 2, T.IntegerType: 3, T.LongType: 4}
_INTEGRAL_DIGITS = {T.ByteType: 3, T.ShortType: 5, T.IntegerType: 10, T.LongType: 19}


def is_numeric(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.NumericType)


def contains(dtype: T.DataType, wanted: type | tuple[type, ...]) -> bool:
    """Whether ``dtype`` is, or holds at any depth, a type of class ``wanted``."""
    if isinstance(dtype, wanted):
        return True
    if isinstance(dtype, T.ArrayType):
        return contains(dtype.elementType, wanted)
    if isinstance(dtype, T.MapType):
        return contains(dtype.keyType, wanted) or contains(dtype.valueType, wanted)
    if isinstance(dtype, T.StructType):
        return any(contains(f.dataType, wanted) for f in dtype.fields)
    return False


def without_nullability(dtype: T.DataType) -> T.DataType:
    """``dtype`` with every nested element, value and field nullable: the shape of a type,
    which is all a type comparison looks at."""
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(without_nullability(dtype.elementType), True)
    if isinstance(dtype, T.MapType):
        return T.MapType(
            without_nullability(dtype.keyType), without_nullability(dtype.valueType), True
        )
    if isinstance(dtype, T.StructType):
        return T.StructType(
            [T.StructField(f.name, without_nullability(f.dataType), True) for f in dtype.fields]
        )
    return dtype


def same_type(expected: T.DataType, actual: T.DataType) -> bool:
    return without_nullability(expected) == without_nullability(actual)


def type_change_tolerated(expected: T.DataType, actual: T.DataType, policy: str) -> bool:
    """Whether a column (or key) whose type changed still counts as the same column.

    ``exact``: never. ``widening`` (default): only changes that cannot lose information
    (int -> bigint, float -> double, integral -> wider decimal, decimal(p,s) -> decimal
    with at least as many integer and fraction digits). ``numeric``: any numeric change.
    Arrays, maps and structs follow the rule element-, entry- and field-wise (a struct
    keeps its field names). Nullability is never a change.
    """
    if same_type(expected, actual):
        return True
    if policy == "exact":
        return False
    if isinstance(expected, T.ArrayType) and isinstance(actual, T.ArrayType):
        return type_change_tolerated(expected.elementType, actual.elementType, policy)
    if isinstance(expected, T.MapType) and isinstance(actual, T.MapType):
        return type_change_tolerated(
            expected.keyType, actual.keyType, policy
        ) and type_change_tolerated(expected.valueType, actual.valueType, policy)
    if isinstance(expected, T.StructType) and isinstance(actual, T.StructType):
        a_fields = {f.name.lower(): f for f in actual.fields}
        if [f.name.lower() for f in expected.fields] != list(a_fields):
            return False
        return all(
            type_change_tolerated(f.dataType, a_fields[f.name.lower()].dataType, policy)
            for f in expected.fields
        )
    if not (is_numeric(expected) and is_numeric(actual)):
        return False
    if policy == "numeric":
        return True
    e, a = type(expected), type(actual)
    if e in INTEGRAL_RANK and a in INTEGRAL_RANK:
        return INTEGRAL_RANK[a] >= INTEGRAL_RANK[e]
    if e is T.FloatType and a is T.DoubleType:
        return True
    if e in INTEGRAL_RANK and isinstance(actual, T.DecimalType):
        return actual.precision - actual.scale >= _INTEGRAL_DIGITS[e]
    if isinstance(expected, T.DecimalType) and isinstance(actual, T.DecimalType):
        return (
            actual.scale >= expected.scale
            and actual.precision - actual.scale >= expected.precision - expected.scale
        )
    return False
