"""The comparison's type rules: keys follow ``type_policy``, nullability is never a type
change, and arrays, structs and maps compare element-, field- and entry-wise at any
nesting (the three defects found by re-judging other tools' test cases)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import types as T

from harness.compare import compare, type_change_tolerated
from harness.golden import GoldenRef, GoldenStore
from harness.report.text import format_comparison
from harness.typerules import without_nullability


def key_change(result):
    return [t for t in result.type_changes if t.get("key")]


@pytest.mark.parametrize(
    ("e_type", "a_type", "e_key", "a_key", "tolerated_by"),
    [
        ("string", "bigint", "7", 7, ()),
        ("int", "bigint", 7, 7, ("widening", "numeric")),
        ("date", "string", dt.date(2024, 1, 1), "2024-01-01", ()),
        ("bigint", "int", 7, 7, ("numeric",)),
    ],
)
def test_key_types_follow_the_type_policy(spark, e_type, a_type, e_key, a_key, tolerated_by):
    e = spark.createDataFrame([(e_key, 1.0)], f"id {e_type}, v double")
    a = spark.createDataFrame([(a_key, 1.0)], f"id {a_type}, v double")
    for policy in ("exact", "widening", "numeric"):
        result = compare(e, a, keys=["id"], type_policy=policy)
        tolerated = policy in tolerated_by
        assert key_change(result) == [
            {
                "column": "id",
                "expected": e_type,
                "actual": a_type,
                "tolerated": tolerated,
                "key": True,
            }
        ], policy
        assert result.passed is tolerated, policy
        assert result.schema_ok is tolerated
        assert result.rows_matched == 1  # the rows still line up, for the report


def test_a_key_type_change_is_in_the_report_and_the_dict(spark):
    e = spark.createDataFrame([("1", 1.0)], "id string, v double")
    a = spark.createDataFrame([(1, 1.0)], "id bigint, v double")
    result = compare(e, a, keys=["id"])
    assert result.to_dict()["schema"]["type_changes"][0]["key"] is True
    assert "id" in format_comparison(result) and "bigint" in format_comparison(result)


def _struct(name, dtype, nullable=True):
    return T.StructType([T.StructField(name, dtype, nullable)])


NULLABILITY_CASES = {  # (expected type, actual type, a value of both)
    "array containsNull": (
        T.ArrayType(T.DoubleType(), False),
        T.ArrayType(T.DoubleType(), True),
        [1.5, 2.5],
    ),
    "struct field nullable": (
        _struct("p", T.DoubleType(), False),
        _struct("p", T.DoubleType(), True),
        (1.5,),
    ),
    "map valueContainsNull": (
        T.MapType(T.StringType(), T.IntegerType(), False),
        T.MapType(T.StringType(), T.IntegerType(), True),
        {"k": 1},
    ),
    "all of them, nested": (
        T.ArrayType(_struct("m", T.MapType(T.StringType(), T.LongType(), False), False), False),
        T.ArrayType(_struct("m", T.MapType(T.StringType(), T.LongType(), True), True), True),
        [({"k": 3},)],
    ),
}


@pytest.mark.parametrize("case", list(NULLABILITY_CASES))
def test_nullability_is_never_a_type_change(spark, case):
    e_type, a_type, value = NULLABILITY_CASES[case]
    assert without_nullability(e_type) == without_nullability(a_type)
    assert type_change_tolerated(e_type, a_type, "exact")
    e, a = (
        spark.createDataFrame([(1, value)], _struct("id", T.IntegerType()).add("x", dtype))
        for dtype in (e_type, a_type)
    )
    assert e.schema != a.schema
    result = compare(e, a, keys=["id"], type_policy="exact")
    assert result.type_changes == [] and result.passed, format_comparison(result)


def test_nested_type_changes_follow_the_policy_element_wise():
    ints, longs = T.ArrayType(T.IntegerType()), T.ArrayType(T.LongType())
    assert type_change_tolerated(ints, longs, "widening")
    assert not type_change_tolerated(longs, ints, "widening")
    assert not type_change_tolerated(ints, longs, "exact")
    renamed = (
        T.StructType([T.StructField("p", T.IntegerType())]),
        T.StructType([T.StructField("q", T.IntegerType())]),
    )
    assert not type_change_tolerated(*renamed, "numeric")


MAPS_SCHEMA = (
    "id int, am array<map<string, int>>, "
    "st struct<name: string, props: map<string, double>>, "
    "mm map<string, array<map<string, double>>>"
)
MAPS_ROW = (
    1,
    [{"a": 1, "b": 2}, {"c": 3}],
    ("x", {"p": 1.5, "q": 2.5}),
    {"k": [{"z": 1.0}, {"y": 2.0, "w": 3.0}]},
)


def test_maps_nested_in_arrays_and_structs_compare_entry_wise(spark):
    e = spark.createDataFrame([MAPS_ROW, (2, None, None, None)], MAPS_SCHEMA)
    same = compare(
        e,
        spark.createDataFrame([MAPS_ROW, (2, None, None, None)], MAPS_SCHEMA),
        keys=["id"],
        rtol=0,
        atol=0,
    )
    assert same.passed, format_comparison(same)

    changed = (
        1,
        [{"b": 2, "a": 1}, {"c": 4}],  # entry order never matters; c's value differs
        ("x", {"q": 2.5, "p": 1.5 * (1 + 1e-12)}),  # within rtol 1e-9
        {"k": [{"z": 1.0}, {"y": 2.0}]},  # an entry missing in a nested map
    )
    a = spark.createDataFrame([changed, (2, None, None, None)], MAPS_SCHEMA)
    result = compare(e, a, keys=["id"], rtol=1e-9)
    assert result.mismatch_counts == {"am": 1, "st": 0, "mm": 1}
    exact = compare(e, a, keys=["id"], rtol=0, atol=0)
    assert exact.mismatch_counts == {"am": 1, "st": 1, "mm": 1}
    assert exact.columns["am"].sample[0]["actual"] == [{"b": 2, "a": 1}, {"c": 4}] or exact.columns[
        "am"
    ].sample[0]["actual"] == [{"a": 1, "b": 2}, {"c": 4}]


def test_null_map_values_and_null_maps(spark):
    schema = "id int, m map<string, double>"
    e = spark.createDataFrame([(1, {"a": None}), (2, None), (3, {"a": 1.0})], schema)
    a = spark.createDataFrame([(1, {"a": None}), (2, {}), (3, {"a": None})], schema)
    result = compare(e, a, keys=["id"], rtol=1e-9)
    assert result.mismatch_counts == {"m": 2}  # NULL vs empty map; 1.0 vs NULL


def test_nested_output_round_trip_through_the_golden_store(spark, tmp_path):
    """An output with arrays, structs and maps nested in each other, written to the golden
    store and read back (Parquet makes nested fields nullable), matches the same
    computation exactly."""

    def output():
        return spark.range(0, 50).selectExpr(
            "id",
            "array(CAST(id AS DOUBLE), id / 3.0D) AS arr",  # containsNull false
            "named_struct('n', id, 'tags', map('a', id, 'b', id * 2)) AS st",
            "array(map('k', named_struct('v', id / 7.0D, 'w', array(id)))) AS deep",
            "map('m', array(id / 11.0D)) AS mp",
        )

    store = GoldenStore(tmp_path)
    ref = GoldenRef("nested_model", "sample", "out")
    store.write(spark, output(), ref, keys=["id"], provenance={"source": "legacy-emulation"})
    golden, _manifest = store.read(spark, ref)
    assert golden.schema != output().schema  # the round trip did change nullability
    result = compare(golden, output(), keys=["id"], rtol=0, atol=0, type_policy="exact")
    assert result.passed, format_comparison(result)
    assert result.type_changes == [] and result.rows_matched == 50
