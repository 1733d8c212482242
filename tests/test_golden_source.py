"""Where each golden came from, in every report: the ``golden_source`` record built from a
manifest's provenance (emulated, imported, refreshed), and the four places a run shows it
(summary.json, the HTML summary table, the text failure report, JUnit properties), read from
the real run of tests/real_run.py. Also the peak memory of R steps on the driver, which the
same run records."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from real_run import RealRun

from harness.golden.provenance import describe, golden_source
from harness.report.html import render_html
from harness.report.records import OutputRecord, RunSummary
from harness.report.text import format_golden_source


def manifest(**provenance: Any) -> dict[str, Any]:
    return {"version": "v0007", "provenance": {"created_by": "ana@edge", **provenance}}


def test_emulated_source_says_how_far_the_emulation_reached():
    source = golden_source(
        manifest(
            source="legacy-emulation",
            emulated_rules=["percentile-approx", "ansi-cast"],
            not_emulated_rules=["float-sum-order"],
            steps=[
                {"step": "sql:m.hql", "kind": "sql", "semantics": "SQL text rewritten for Hive"},
                {"step": "py", "kind": "python", "semantics": "DataFrame API with Spark 4"},
            ],
        )
    )
    assert source["kind"] == "emulated" and source["version"] == "v0007"
    line = describe(source)
    assert line.startswith("emulated v0007 (legacy emulation on Spark, not the real HDInsight")
    assert "2/3 catalogue rules emulated" in line
    assert "sql:m.hql SQL text rewritten for Hive" in line
    assert "py DataFrame API with Spark 4" in line
    assert source["detail"] == line


def test_imported_source_names_the_export():
    source = golden_source(
        manifest(source="imported", format="parquet", origin=["abfss://x@acct/exp/m/full/o"])
    )
    assert source["kind"] == "imported"
    assert describe(source) == "imported v0007 (legacy export abfss://x@acct/exp/m/full/o)"


def test_refreshed_source_names_reason_and_approver():
    source = golden_source(manifest(source="refresh", reason="CR-9: new factors"))
    assert describe(source) == "refreshed v0007 (reason: CR-9: new factors; approver: ana@edge)"
    approved = golden_source(manifest(source="refresh", reason="CR-9", approved_by="lead@x"))
    assert approved["approver"] == "lead@x"


@pytest.mark.parametrize("bad", [None, {}, {"provenance": "x"}, {"provenance": {"source": 3}}])
def test_unknown_or_malformed_provenance_is_said_so(bad):
    source = golden_source(bad)
    assert source["kind"] == "unknown"
    assert describe(source) == "unknown" and describe(None) == "unknown (no provenance)"


def test_golden_source_round_trips_through_the_records():
    out = OutputRecord("o", "passed", golden_source=golden_source(manifest(source="imported")))
    again = OutputRecord.from_dict(out.to_dict())
    assert again.golden_source == out.golden_source
    assert OutputRecord.from_dict({"output": "o", "golden_source": "junk"}).golden_source is None
    assert format_golden_source(out.golden_source).startswith("  golden: imported v0007")


# ------------------------------------------------------------------- the four formats


pytestmark = pytest.mark.xdist_group("real_run")


def compared_outputs(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (m["model"], o)
        for m in summary["models"]
        for o in m["outputs"]
        if o["status"] in ("passed", "failed")
    ]


def test_summary_json_records_each_compared_goldens_source(real_summary_run: RealRun):
    compared = compared_outputs(real_summary_run.summary)
    assert {m for m, _ in compared} == {"adoption_rate", "propensity_glm"}
    for _model, out in compared:
        source = out["golden_source"]
        # The committed sample goldens were captured on the emulated legacy platform.
        assert source["kind"] == "emulated", out
        assert source["version"] and source["detail"].startswith(f"emulated {source['version']}")
    errored = [
        o
        for m in real_summary_run.summary["models"]
        for o in m["outputs"]
        if o["status"] == "error"
    ]
    assert errored and all(o["golden_source"] is None for o in errored)  # no golden read


def test_html_summary_table_shows_the_golden_source(real_summary_run: RealRun):
    page = render_html(real_summary_run.summary)
    table = page.split('<table id="summary">', 1)[1].split("</table>", 1)[0]
    assert "<th>Golden</th>" in table
    for _model, out in compared_outputs(real_summary_run.summary):
        assert f'title="{out["golden_source"]["detail"]}"' in table or (
            out["golden_source"]["detail"] in table
        )
    assert table.count('<span class="g-emulated">emulated</span>') == len(
        compared_outputs(real_summary_run.summary)
    )
    rows = RunSummary.from_dict(real_summary_run.summary)
    assert render_html(rows) == page  # the records carry it through from_dict


def test_text_failure_report_names_the_golden_source(real_summary_run: RealRun):
    # adoption_rate differs from its golden on sample: its failure text says which golden.
    assert "adoption_rate/sample/adoption_rates: values differ from the golden" in (
        real_summary_run.stdout
    )
    assert "  golden: emulated v0003 (legacy emulation on Spark" in real_summary_run.stdout


def test_junit_properties_carry_the_golden_source(real_summary_run: RealRun):
    tree = ET.parse(real_summary_run.root / "reports" / "junit.xml")
    found: dict[str, str] = {}
    for case in tree.iter("testcase"):
        for prop in case.iter("property"):
            if prop.get("name") == "golden_source":
                found[case.get("name") or ""] = prop.get("value") or ""
    assert any("adoption_rates-values" in name for name in found), sorted(found)
    assert any("propensity_scores-values" in name for name in found), sorted(found)
    assert all(v.startswith("emulated v") for v in found.values()), found


def test_r_steps_on_the_driver_report_their_peak_memory(real_summary_run: RealRun):
    model = next(
        m
        for m in real_summary_run.summary["models"]
        if m["model"] == "propensity_glm" and m["dataset"] == "sample"
    )
    peaks = model["r_peak_mb"]
    assert list(peaks) == ["r:propensity.R:score"], peaks
    # The driver's process holds Python, Arrow and R: never below 50 MB, never absurd.
    assert all(50 < mb < 64_000 for mb in peaks.values()), peaks
    page = render_html(real_summary_run.summary)
    section = page.split("<table id=driver-memory>", 1)[1].split("</table>", 1)[0]
    for step in peaks:
        assert f"<code>{step}</code>" in section
    adoption = [m for m in real_summary_run.summary["models"] if m["model"] == "adoption_rate"]
    assert all(m["r_peak_mb"] == {} for m in adoption)  # SQL only: no R on the driver
