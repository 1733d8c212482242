"""The text report (what a failing test prints), rendered from the dict of a comparison
built by hand (see tests/comparisons.py), without Spark."""

from __future__ import annotations

import json
from pathlib import Path

from comparisons import column, comparison, key_diff

from harness.report.html import render_html
from harness.report.records import ModelRecord, OutputRecord, RunRecord, RunSummary
from harness.report.summary import write_summary
from harness.report.text import format_changes, format_comparison


def test_a_passing_comparison_is_one_line() -> None:
    result = comparison(column("p"), keys=("id", "month"), rows=(1200, 1200, 1200))
    assert format_comparison(result.to_dict()) == (
        "parity PASSED: 1,200 expected rows, 1,200 actual rows, 1,200 matched on (id, month)"
    )


def test_a_failing_comparison_shows_every_problem() -> None:
    result = comparison(
        column("ok", mismatches=0),
        column(
            "small",
            mismatches=2,
            max_abs=3e-6,
            max_rel=1.5e-7,
            rtol=1e-9,
            atol=0.5,
            examples=[({"id": 1}, 20.0, 20.000003), ({"id": 2}, 0.0, 0.0)],
        ),
        column(
            "big",
            mismatches=1234,
            max_abs=5.0,
            max_rel=0.25,
            nulls=7,
            examples=[({"id": 3}, 20.0, 25.0)],
        ),
        column("label", "string", mismatches=1, examples=[({"id": 4}, "a", None)]),
        column("tags", "string", kind="incomparable", actual_type="map<string,int>"),
        rows=(10, 9, 8),
        missing=key_diff({"id": 5}, {"id": 6}),
        extra=key_diff(*({"id": i} for i in range(7)), count=2000),
        duplicates_actual=key_diff({"id": 1}),
        missing_columns=["gone"],
        extra_columns=["new", "newer"],
        type_changes=[
            {"column": "n", "expected": "int", "actual": "bigint", "tolerated": True},
            {"column": "m", "expected": "int", "actual": "string", "tolerated": False},
        ],
        hints=["look here"],
    )
    assert format_comparison(result.to_dict()).splitlines() == [
        "parity FAILED: 10 expected rows, 9 actual rows, 8 matched on (id)",
        "  keys missing from actual: 2  e.g. id=5; id=6",
        "  keys only in actual (extra): 2,000  e.g. id=0; id=1; id=2; id=3; id=4",
        "  duplicate keys in actual: 1  e.g. id=1",
        "  columns missing from actual: gone",
        "  columns only in actual: new, newer",
        "  type change n: int -> bigint (tolerated)",
        "  type change m: int -> string (NOT tolerated)",
        "  4 of 5 compared columns differ:",
        "    big    1,234 rows (rtol=1e-09 atol=0), max abs diff 5, max rel diff 0.25, "
        "7 null vs value",
        "    small  2 rows (rtol=1e-09 atol=0.5), max abs diff 3.000e-06, max rel diff 1.500e-07",
        "    label  1 rows (exact)",
        "    tags   types string vs map<string,int> cannot be compared",
        "  examples (key: expected -> actual):",
        "    small @ id=1: 20.0 -> 20.000003  (abs diff 3.000e-06, rel diff 1.500e-07)",
        "    small @ id=2: 0.0 -> 0.0",
        "    big @ id=3: 20.0 -> 25.0  (abs diff 5, rel diff 0.25)",
        "    label @ id=4: 'a' -> None",
        "  why it may differ:",
        "    look here",
    ]


def test_examples_are_capped_per_column() -> None:
    examples = [({"id": i}, float(i), i + 0.5) for i in range(1, 9)]
    result = comparison(column("x", mismatches=8, max_abs=0.5, max_rel=0.5, examples=examples))
    text = format_comparison(result.to_dict(), max_examples=3)
    assert [line.split(":")[0] for line in text.splitlines() if " @ " in line] == [
        "    x @ id=1",
        "    x @ id=2",
        "    x @ id=3",
    ]


def test_format_changes() -> None:
    assert format_changes([]) == ""
    assert format_changes(["spec: changed", "model code m.sql: changed"]) == (
        "  changed since the golden was made:\n    spec: changed\n    model code m.sql: changed"
    )


def test_values_print_exactly_so_close_ones_never_look_equal(tmp_path: Path) -> None:
    """A probability of 0.9999998875 against 0.999999775 once printed as "1 -> 1"."""
    expected, actual = 0.9999998875, 0.999999775
    result = comparison(
        column(
            "prob",
            mismatches=1,
            max_abs=1.125e-07,
            max_rel=1.125e-07,
            examples=[({"id": 7}, expected, actual)],
        ),
    ).to_dict()
    text = format_comparison(result)
    assert "    prob @ id=7: 0.9999998875 -> 0.999999775  (abs diff 1.125e-07, " in text
    output = OutputRecord("scores", "failed", 0.1, 3, None, result)
    summary = RunSummary(
        RunRecord("2025-01-01T00:00:00+00:00", None, 1.0, "local", ["sample"], {}),
        [ModelRecord("m", "sample", [output])],
    )
    page = render_html(summary)
    assert "<td class=mono>0.9999998875</td><td class=mono>0.999999775</td>" in page
    paths = write_summary(tmp_path, summary)
    (sample,) = json.loads(paths["json"].read_text())["models"][0]["outputs"][0]["comparison"][
        "samples"
    ]["prob"]
    assert (sample["expected"], sample["actual"]) == (expected, actual)  # exact, not rounded
    assert sample["abs_diff"] == abs(actual - expected)
