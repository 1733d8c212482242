"""The typed run records and the pure report helpers: statuses derived from what ran, one
definition of a failing column, the engine line, and reading a summary back."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from harness.report.records import (
    ModelRecord,
    OutputRecord,
    RunRecord,
    RunSummary,
    failing_columns,
    model_status,
    run_engine,
    verdict,
)
from harness.report.text import format_comparison


def _comparison(**columns: dict[str, Any]) -> dict[str, Any]:
    return {
        "passed": False,
        "keys": ["id"],
        "rows": {"expected": 3, "actual": 3, "matched": 3},
        "columns": columns,
    }


def test_failing_columns_are_mismatches_or_incomparable_types() -> None:
    comparison = _comparison(
        a={"kind": "numeric", "mismatches": 0},
        b={"kind": "numeric", "mismatches": 2},
        c={
            "kind": "incomparable",
            "type": "string",
            "actual_type": "map<string,int>",
            "mismatches": 0,
        },
        d={"kind": "exact", "mismatches": 1},
    )
    comparison["mismatch_counts"] = {"a": 5}  # not a definition of its own
    assert failing_columns(comparison) == ["b", "c", "d"]


@pytest.mark.parametrize(
    "junk",
    [
        None,
        {},
        {"columns": None},
        {"columns": {"a": None}},
        {"columns": {"a": {"mismatches": "x"}}},
        {"columns": [1]},
    ],
)
def test_failing_columns_of_malformed_comparisons_are_empty(junk: Any) -> None:
    assert failing_columns(junk) == []


def test_text_report_lists_the_same_failing_columns() -> None:
    comparison = _comparison(
        a={"kind": "numeric", "mismatches": 0, "type": "double"},
        c={
            "kind": "incomparable",
            "type": "string",
            "actual_type": "map<string,int>",
            "mismatches": 0,
        },
    )
    text = format_comparison(comparison)
    assert "1 of 2 compared columns differ" in text
    assert "c  types string vs map<string,int> cannot be compared" in text


@pytest.mark.parametrize(
    "error, statuses, expected",
    [
        (None, ["passed", "passed"], "passed"),
        (None, ["passed", "not checked"], "partial"),
        (None, ["not checked", "not checked"], "not checked"),
        (None, [], "not checked"),
        (None, ["passed", "failed", "not checked"], "failed"),
        (None, ["failed", "error"], "error"),
        ("ModelRunError: boom", ["not checked"], "error"),
    ],
)
def test_model_status_comes_from_what_ran(
    error: str | None, statuses: list[str], expected: str
) -> None:
    assert model_status(error, statuses) == expected


def test_verdict() -> None:
    assert verdict(["passed", "passed"]) == "PASSED"
    assert verdict(["passed", "not checked"]) == "INCOMPLETE"
    assert verdict([]) == "INCOMPLETE"
    assert verdict(["passed", "error"]) == "FAILED"


def _check(output: str, passed: bool, changes: list[str]) -> SimpleNamespace:
    comparison = SimpleNamespace(rows_actual=3, to_dict=lambda: {"passed": passed})
    return SimpleNamespace(
        output=output,
        passed=passed,
        compare_seconds=0.1234,
        comparison=comparison,
        golden_manifest={"version": "v0002", "provenance": {"source": "imported"}},
        fingerprint_changes=changes,
    )


def test_model_record_lists_every_output_and_merges_changes_per_model() -> None:
    record = ModelRecord.start("m", "sample", ["a", "b", "c"])
    assert record.status == "not checked"
    assert [o.status for o in record.outputs] == ["not checked"] * 3
    assert record.fingerprint_changes is None  # no golden read yet
    record.record_comparison(_check("a", True, ["spec: changed"]))
    assert record.status == "partial"
    record.record_comparison(_check("b", False, ["spec: changed", "fixture customers: x -> y"]))
    record.record_error("no golden for m/sample/c", "c")
    assert record.fingerprint_changes == ["spec: changed", "fixture customers: x -> y"]
    assert [o.status for o in record.outputs] == ["passed", "failed", "error"]
    assert record.status == "error" and record.outputs[0].compare_seconds == 0.123
    assert [(o.golden_source or {}).get("kind") for o in record.outputs] == [
        "imported",
        "imported",
        None,  # no golden read
    ]


def test_records_round_trip() -> None:
    model = ModelRecord(
        "m",
        "full",
        [OutputRecord("o", "failed", 1.5, 10, None, {"passed": False})],
        run_seconds=2.0,
        rows_in={"t": 5},
        engine={"R": "4.2.2"},
        fingerprint_changes=[],
        data_quality=["t: unique(id): ... WARN"],
    )
    summary = RunSummary(
        RunRecord(
            "2025-01-01T00:00:00+00:00", None, 1.0, "local", ["sample", "full"], {"spark": "4.3.0"}
        ),
        [model],
    )
    data = summary.to_dict()
    assert data["run"]["dataset"] == "sample,full" and data["run"]["counts"] == {"failed": 1}
    assert data["models"][0]["status"] == "failed"
    assert RunSummary.from_dict(data).to_dict() == data


def test_reading_back_is_forgiving() -> None:
    model = ModelRecord.from_dict(
        {
            "model": "m",
            "run_seconds": math.nan,
            "rows_in": {"t": "x"},
            "outputs": [
                None,
                {"output": "o", "error": "boom"},
                {"output": "p", "comparison": {"passed": True, "rows": {"actual": 4}}},
            ],
            "fingerprint_changes": "not a list",
        }
    )
    assert model.run_seconds is None and model.rows_in == {}
    assert [o.status for o in model.outputs] == ["not checked", "error", "passed"]
    assert model.outputs[2].rows == 4 and model.fingerprint_changes is None


def test_run_engine_includes_R_from_any_model() -> None:
    models = [
        ModelRecord("sql_model", "sample", engine={"spark": "4.3.0", "python": "3.11"}),
        ModelRecord("r_model", "sample", engine={"spark": "4.3.0", "R": "4.2.2"}),
    ]
    assert run_engine(models) == {"spark": "4.3.0", "python": "3.11", "R": "4.2.2"}
    assert run_engine(models, {"spark": "4.3.1"})["spark"] == "4.3.1"
    assert "R" not in run_engine(models[:1])
