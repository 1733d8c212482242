"""The comparison engine's rules, each on small real Spark frames."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from harness.compare import compare, type_change_tolerated
from harness.errors import CompareError
from harness.report.text import format_comparison

INF, NAN = float("inf"), float("nan")


def frames(spark, schema, expected_rows, actual_rows, actual_schema=None):
    return (
        spark.createDataFrame(expected_rows, schema),
        spark.createDataFrame(actual_rows, actual_schema or schema),
    )


def test_identical_frames_in_any_row_order_pass(spark):
    e, a = frames(
        spark,
        "id int, v double, s string",
        [(1, 1.5, "a"), (2, 2.5, "b"), (3, None, None)],
        [(3, None, None), (1, 1.5, "a"), (2, 2.5, "b")],
    )
    result = compare(e, a, keys=["id"])
    assert result.passed
    assert result.mismatch_counts == {"v": 0, "s": 0}
    assert (result.rows_expected, result.rows_actual, result.rows_matched) == (3, 3, 3)


def test_relative_tolerance_is_pytest_approx_rule_with_golden_as_reference(spark):
    e, a = frames(
        spark,
        "id int, v double",
        [(1, 100.0), (2, 100.0), (3, 0.0), (4, -50.0)],
        [(1, 100.0 + 1e-7), (2, 100.0 + 2e-6), (3, 1e-12), (4, -50.0 - 4e-5)],
    )
    result = compare(e, a, keys=["id"], rtol=1e-8)
    # |diff| <= rtol*|expected|: id1 1e-7 <= 1e-6 ok; id2 2e-6 > 1e-6; id3 expected 0 -> only
    # exact passes without atol; id4 4e-5 > 5e-7.
    assert result.mismatch_counts["v"] == 3
    assert compare(e, a, keys=["id"], rtol=1e-8, atol=1e-4).passed
    assert compare(e, a, keys=["id"], rtol=1e-6, atol=1e-11).passed


def test_per_column_tolerance_beats_default(spark):
    e, a = frames(spark, "id int, x double, y double", [(1, 1.0, 1.0)], [(1, 1.001, 1.001)])
    result = compare(e, a, keys=["id"], rtol=1e-9, column_tolerances={"y": {"rtol": 1e-2}})
    assert result.mismatch_counts == {"x": 1, "y": 0}
    assert result.columns["y"].rtol == 1e-2 and result.columns["x"].rtol == 1e-9


@pytest.mark.parametrize(
    "e_val, a_val, ok",
    [
        (None, None, True),
        (None, 1.0, False),
        (1.0, None, False),
        (NAN, NAN, True),
        (NAN, 1.0, False),
        (1.0, NAN, False),
        (NAN, None, False),
        (INF, INF, True),
        (-INF, -INF, True),
        (INF, -INF, False),
        (INF, 1e308, False),
        (1e308, INF, False),
        (-0.0, 0.0, True),
        (0.0, -0.0, True),
    ],
)
def test_null_nan_infinity_and_signed_zero(spark, e_val, a_val, ok):
    e, a = frames(spark, "id int, v double", [(1, e_val)], [(1, a_val)])
    # A huge tolerance must not let NaN or infinities through.
    assert compare(e, a, keys=["id"], rtol=10.0, atol=1e300).passed is ok


@pytest.mark.parametrize("rtol, atol", [(INF, 0.0), (0.0, INF), (1.0, INF)])
def test_infinite_tolerance_still_rejects_nan_infinity_and_null(spark, rtol, atol):
    e, a = frames(
        spark,
        "id int, v double",
        [(1, 1.0), (2, NAN), (3, INF), (4, None), (5, 7.0)],
        [(1, 1e300), (2, 1.0), (3, -INF), (4, 1.0), (5, 7.0)],
    )
    assert compare(e, a, keys=["id"], rtol=rtol, atol=atol).mismatch_counts == {"v": 3}


@pytest.mark.parametrize("dtype", ["float", "decimal(20,6)", "bigint", "int"])
def test_other_numeric_types_follow_the_same_rule_and_stats(spark, dtype):
    cast = {"float": float, "decimal(20,6)": Decimal}.get(dtype, int)
    values = {1: (1000, 1000), 2: (500, 501), 3: (0, 2), 4: (8, 8)}
    e, a = frames(
        spark,
        f"id int, v {dtype}",
        [(k, cast(x)) for k, (x, _y) in values.items()] + [(5, None)],
        [(k, cast(y)) for k, (_x, y) in values.items()] + [(5, None)],
    )
    result = compare(e, a, keys=["id"], rtol=1e-3)
    stats = result.columns["v"]
    assert stats.mismatches == 2  # 1 > 0.5 and 2 > 0: ids 2 and 3
    assert (stats.max_abs_diff, stats.max_rel_diff) == (2.0, INF)  # expected 0 -> inf rel
    assert compare(e, a, keys=["id"], rtol=1e-3, atol=2.0).passed


def test_float_nan_and_rounding_within_tolerance(spark):
    e, a = frames(
        spark,
        "id int, v float",
        [(1, 1.5), (2, NAN), (3, NAN)],
        [(1, 1.5000001), (2, NAN), (3, 1.5)],
    )
    result = compare(e, a, keys=["id"], rtol=1e-6)
    assert result.mismatch_counts == {"v": 1}
    assert result.columns["v"].max_rel_diff < 1e-6


def test_zero_tolerance_is_exact_in_the_columns_own_type(spark):
    big = 2**60
    e, a = frames(
        spark,
        "id int, n bigint, d decimal(38,18)",
        [(1, big, Decimal("1.000000000000000001"))],
        [(1, big + 1, Decimal("1.000000000000000002"))],
    )
    exact = compare(e, a, keys=["id"], rtol=0, atol=0)
    assert exact.mismatch_counts == {"n": 1, "d": 1}  # a double cast would call both equal
    assert compare(e, a, keys=["id"], rtol=1e-9).passed


def test_exact_types_strings_booleans_dates_timestamps_binary(spark):
    schema = "id int, s string, b boolean, d date, t timestamp, bin binary"
    row = (1, "x", True, dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 12), bytearray(b"\x01"))
    changed = (1, "X", False, dt.date(2024, 1, 2), dt.datetime(2024, 1, 1, 13), bytearray(b"\x02"))
    e, a = frames(spark, schema, [row], [changed])
    result = compare(e, a, keys=["id"], rtol=1.0)
    assert result.mismatch_counts == {"s": 1, "b": 1, "d": 1, "t": 1, "bin": 1}
    assert compare(*frames(spark, schema, [row], [row]), keys=["id"]).passed


def test_nested_arrays_and_structs_compare_element_wise_with_tolerance(spark):
    schema = "id int, arr array<double>, st struct<p: double, q: string>, m map<string, int>"
    e, a = frames(
        spark,
        schema,
        [
            (1, [1.0, 2.0], (1.0, "a"), {"k": 1}),
            (2, [1.0], (1.0, "a"), {"k": 1}),
            (3, [NAN], (2.0, "b"), {"k": 1, "j": 2}),
        ],
        [
            (1, [1.0 + 1e-12, 2.0], (1.0 + 1e-12, "a"), {"k": 1}),
            (2, [1.0, 2.0], (1.0, "A"), {"k": 2}),
            (3, [NAN], (2.0, "b"), {"j": 2, "k": 1}),
        ],
    )
    result = compare(e, a, keys=["id"], rtol=1e-9)
    assert result.mismatch_counts == {"arr": 1, "st": 1, "m": 1}  # only id 2 differs


def test_composite_keys_null_keys_missing_extra_and_duplicates(spark):
    schema = "region string, month string, v double"
    e, a = frames(
        spark,
        schema,
        [
            ("n", "01", 1.0),
            ("n", "02", 2.0),
            (None, "01", 3.0),
            ("s", "01", 4.0),
            ("s", "01", 4.0),
            ("w", "01", 5.0),
        ],
        [
            ("n", "01", 1.0),
            (None, "01", 3.0),
            ("s", "01", 4.0),
            ("e", "01", 9.0),
            ("w", "01", 5.0),
            ("w", "01", 5.0),
            ("w", "01", 5.0),
        ],
    )
    result = compare(e, a, keys=["region", "month"])
    assert not result.passed and not result.keys_ok
    assert result.missing_keys.count == 1 and list(result.missing_keys) == [
        {"region": "n", "month": "02"}
    ]
    assert result.extra_keys.count == 1 and result.extra_keys.sample == [
        {"region": "e", "month": "01"}
    ]
    assert result.duplicate_keys_expected.count == 1
    assert result.duplicate_keys_actual.count == 1
    assert result.duplicate_keys_actual.sample == [{"region": "w", "month": "01"}]
    assert result.rows_expected == 6 and result.rows_actual == 7
    # the null key matched the null key; duplicated keys are excluded from value checks
    assert result.rows_matched == 2 and result.values_ok
    missing = result.missing_keys.to_dataframe()
    assert_df_equality(
        missing,
        spark.createDataFrame([("n", "02")], "region string, month string"),
        ignore_nullable=True,
    )


def test_schema_differences_and_type_policy(spark):
    e, a = frames(
        spark,
        "id int, n int, x double, gone string",
        [(1, 5, 1.0, "g")],
        [(1, 5, "1.0", "new")],
        actual_schema="id int, n bigint, x string, added string",
    )
    result = compare(e, a, keys=["id"])
    assert result.missing_columns == ["gone"] and result.extra_columns == ["added"]
    changes = {c["column"]: c["tolerated"] for c in result.type_changes}
    assert changes == {"n": True, "x": False}
    assert result.columns["x"].kind == "incomparable" and not result.passed
    ignored = compare(e, a, keys=["id"], ignore_columns=["gone", "added", "x"])
    assert ignored.passed
    strict = compare(e, a, keys=["id"], ignore_columns=["gone", "added", "x"], type_policy="exact")
    assert not strict.passed and not strict.schema_ok


@pytest.mark.parametrize(
    "expected, actual, policy, ok",
    [
        ("int", "bigint", "widening", True),
        ("bigint", "int", "widening", False),
        ("float", "double", "widening", True),
        ("int", "double", "widening", False),
        ("int", "double", "numeric", True),
        ("decimal(10,2)", "decimal(12,2)", "widening", True),
        ("decimal(10,2)", "decimal(10,3)", "widening", False),
        ("int", "bigint", "exact", False),
        ("string", "int", "numeric", False),
    ],
)
def test_type_change_tolerance_table(expected, actual, policy, ok):
    from pyspark.sql.types import _parse_datatype_string  # pure-python parser for simple types

    assert (
        type_change_tolerated(
            _parse_datatype_string(expected), _parse_datatype_string(actual), policy
        )
        is ok
    )


def test_awkward_column_names_work(spark):
    schema = "`policy id` int, `a.b` double, `we``ird` string, `f(x)` double"
    e, a = frames(spark, schema, [(1, 1.0, "x", 2.0)], [(1, 1.5, "x", 2.0)])
    result = compare(e, a, keys=["policy id"], column_tolerances={"f(x)": {"rtol": 0.1}})
    assert result.mismatch_counts == {"a.b": 1, "we`ird": 0, "f(x)": 0}
    assert result.columns["a.b"].sample[0]["key"] == {"policy id": 1}


def test_hive_lowercased_names_match_case_insensitively(spark):
    e, a = frames(
        spark,
        "policyid int, premium double",
        [(1, 1.0)],
        [(1, 1.0)],
        actual_schema="PolicyId int, Premium double",
    )
    assert compare(e, a, keys=["policyId"]).passed
    assert not compare(e, a, keys=["policyid"], case_sensitive=False, ignore_columns=[]).extra_keys


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"keys": ["nope"]}, "key column 'nope' is not in the expected output"),
        ({"keys": []}, "keys must name at least one key column"),
        ({"keys": ["id"], "rtol": -1}, "rtol must be a non-negative number"),
        ({"keys": ["id"], "atol": float("nan")}, "atol must be a non-negative number"),
        ({"keys": ["id"], "column_tolerances": {"s": {"rtol": 0.1}}}, "only numeric columns"),
        ({"keys": ["id"], "column_tolerances": {"zz": {"rtol": 0.1}}}, "'zz', which is not in"),
        (
            {"keys": ["id"], "column_tolerances": {"v": {"rtl": 0.1}}},
            "mapping with rtol and/or atol",
        ),
        ({"keys": ["id"], "ignore_columns": ["id"]}, "keys cannot be ignored"),
        ({"keys": ["id"], "type_policy": "loose"}, "type_policy must be one of"),
    ],
)
def test_bad_arguments_raise_one_clear_error(spark, kwargs, message):
    e, a = frames(spark, "id int, v double, s string", [(1, 1.0, "a")], [(1, 1.0, "a")])
    with pytest.raises(CompareError) as info:
        compare(e, a, **kwargs)
    assert message in str(info.value)
    assert "py4j" not in str(info.value) and "at org.apache" not in str(info.value)


def test_result_dict_is_json_and_report_is_readable(spark):
    e, a = frames(
        spark,
        "id int, v double, s string",
        [(1, 1.0, "a"), (2, NAN, "b"), (3, 3.0, "c")],
        [(1, 1.1, "a"), (2, 2.0, "B"), (4, 4.0, "d")],
    )
    result = compare(e, a, keys=["id"], sample_size=2)
    data = result.to_dict()
    json.dumps(data, allow_nan=False)  # NaN/inf rendered as strings, never bare NaN
    assert data["mismatch_counts"] == {"v": 2, "s": 1}
    assert data["failing_columns"] == result.failing_columns == ["v", "s"]
    assert data["missing_keys"] == {"count": 1, "sample": [{"id": 3}]}
    assert len(data["samples"]["v"]) == 2
    assert data["columns"]["v"]["max_rel_diff"] == pytest.approx(0.1)
    text = format_comparison(result)
    assert "FAILED" in text and "v " in text and "keys missing from actual: 1" in text
    assert "id=1: 1.0 -> 1.1" in text


def test_empty_frames_pass(spark):
    e, a = frames(spark, "id int, v double", [], [])
    assert compare(e, a, keys=["id"]).passed


# Scenarios for the one-to-one fast path; each names the passes compare() must run after the
# window-free first one ("keys": a key-only windowed pass, "full": everything windowed).
_PATH_SCENARIOS = {
    "clean keys, values differ": (
        [(1, 1.0), (2, 2.0), (3, None), (None, 4.0)],
        [(1, 1.0), (2, 2.5), (3, 3.0), (None, 4.0)],
        [],
    ),
    "missing and extra keys, a missing key duplicated": (
        [(1, 1.0), (2, 2.0), (5, 5.0), (5, 5.0), (6, 6.0)],
        [(1, 1.5), (2, 2.0), (7, 7.0)],
        ["keys"],
    ),
    "a key on both sides duplicated": (
        [(1, 1.0), (2, 2.0), (2, 2.0), (3, 3.0)],
        [(1, 1.0), (2, 2.0), (3, 3.5), (4, 4.0)],
        ["full"],
    ),
    "null key duplicated on one side": (
        [(None, 1.0), (None, 1.0), (1, 1.0)],
        [(None, 1.0), (1, 2.0)],
        ["full"],
    ),
}


@pytest.mark.parametrize("scenario", list(_PATH_SCENARIOS))
def test_one_to_one_fast_path_agrees_with_the_windowed_reference(spark, monkeypatch, scenario):
    """compare() first joins without per-key windows and proves the keys line up one-to-one
    from the observed input row counts; when they do not it falls back. Both routes must
    give the identical result, and the fast route must really be the one taken."""
    from harness.compare import engine

    e_rows, a_rows, expected_passes = _PATH_SCENARIOS[scenario]
    e, a = frames(spark, "id int, v double", e_rows, a_rows)
    passes = []
    real = engine.count_pass

    def spy(plan, e, a, **kw):
        passes.append(kw)
        return real(plan, e, a, **kw)

    monkeypatch.setattr(engine, "count_pass", spy)
    fast = compare(e, a, keys=["id"]).to_dict()
    kinds = ["full" if p["columns"] else "keys" for p in passes[1:]]
    assert not passes[0]["windowed"] and kinds == expected_passes

    monkeypatch.setattr(engine.RowCounts, "counts", lambda self, ran: (None, None))
    reference = compare(e, a, keys=["id"]).to_dict()
    fast.pop("elapsed_s"), reference.pop("elapsed_s")
    assert fast == reference
    assert fast["rows"] == {
        "expected": len(e_rows),
        "actual": len(a_rows),
        "matched": reference["rows"]["matched"],
    }


@pytest.mark.local_only("reads the executed plan through py4j")
@pytest.mark.parametrize("from_plan", [True, False], ids=["shuffle-metrics", "observe"])
def test_input_row_counts_come_from_the_comparison_query_itself(spark, from_plan):
    """Both ways of learning the input row counts (the join's shuffle metrics in-process,
    DataFrame.observe through Connect clients) count every row, whatever the input plan:
    a union, a filter, and the same frame on both sides (Spark reuses its shuffle)."""
    from harness.compare import engine
    from harness.compare.plan import make_plan
    from harness.compare.rowcounts import RowCounts

    base = spark.range(0, 300).selectExpr("id", "CAST(id AS DOUBLE) AS v")
    cases = {
        "union with a duplicate": (base.union(base.limit(7)), base.where("id % 3 != 0")),
        "same frame both sides": (base, base),
    }
    for name, (e, a) in cases.items():
        plan = make_plan(e.schema, a.schema, ["id"], 1e-9, 0.0, {}, [], "widening", False)
        counter = RowCounts(e, a, from_plan=from_plan)
        ran = engine.count_pass(
            plan,
            counter.expected,
            counter.actual,
            windowed=False,
            sample_size=5,
            columns=plan.compared,
        )
        assert counter.counts(ran.frame) == (e.count(), a.count()), name


@pytest.mark.local_only("reads the executed plan through py4j")
def test_duplicates_are_caught_on_either_counting_route(spark, monkeypatch):
    from harness.compare import engine

    e, a = frames(spark, "id int, v double", [(1, 1.0), (2, 2.0)], [(1, 1.0), (1, 1.0), (2, 2.0)])
    results = []
    for from_plan in (True, False):
        real = engine.RowCounts.__init__
        monkeypatch.setattr(
            engine.RowCounts,
            "__init__",
            lambda self, x, y, from_plan=from_plan, real=real: real(self, x, y, from_plan),
        )
        result = compare(e, a, keys=["id"])
        assert len(result.duplicate_keys_actual) == 1 and not result.passed
        assert (result.rows_expected, result.rows_actual, result.rows_matched) == (2, 3, 1)
        results.append(result.to_dict())
    for r in results:
        r.pop("elapsed_s")
    assert results[0] == results[1]


@pytest.mark.parametrize("sample_size", [0, 5])
def test_null_mismatches_are_counted_on_first_use_on_every_route(spark, sample_size):
    """NULL-vs-value counts are a diagnosis fetched with the examples: exact whether the
    keys line up one-to-one or a duplicated key sends compare down the windowed route."""
    e_rows = [(1, 1.0, "a"), (2, None, "b"), (3, 3.0, None), (4, 4.0, "d"), (5, None, None)]
    a_rows = [(1, None, "a"), (2, 2.0, "b"), (3, 3.5, "c"), (4, 4.0, "d"), (5, None, None)]
    for extra in ([], [(4, 4.0, "d")]):  # the second duplicates key 4: windowed route
        e, a = frames(spark, "id int, v double, s string", e_rows, a_rows + extra)
        result = compare(e, a, keys=["id"], sample_size=sample_size)
        v, s = result.columns["v"], result.columns["s"]
        assert (v.mismatches, v.null_mismatches) == (3, 2)
        assert (s.mismatches, s.null_mismatches) == (1, 1)
        assert len(v.sample) == min(sample_size, 3)
        assert result.to_dict()["columns"]["v"]["null_mismatches"] == 2


def test_row_counts_are_never_read_above_a_filter(spark):
    """An input already hash-partitioned by the key gets no shuffle of its own: the
    nearest exchange may sit below a filter and count rows the comparison never sees.
    Those counts must not prove anything (here they would hide a duplicated key)."""
    base = spark.range(0, 100).selectExpr("id", "CAST(id AS DOUBLE) AS v")
    # A nondeterministic filter stays above the exchange (it drops id 3 only).
    keep = "id + CAST(monotonically_increasing_id() >= 0 AS INT) != 4"
    expected = base.repartition(8, "id").where(keep)  # 99 rows; its exchange wrote 100
    actual = base.where("id != 3").union(base.where("id = 5"))  # 100 rows, key 5 twice
    result = compare(expected, actual, keys=["id"])
    assert len(result.duplicate_keys_actual) == 1 and not result.passed
    assert (result.rows_expected, result.rows_actual, result.rows_matched) == (99, 100, 98)
