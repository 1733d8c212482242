"""``harness lint`` end to end, with the detection core (``harness.explain.lint``): the six
reference models' real findings with the accepted ones marked, SARIF that validates
against the SARIF 2.1.0 schema, ``--strict``'s exit code, stale acceptances, and the
migration risks a real report carries. No Spark: lint reads files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from project_copy import REPO
from sarif_schema import schema_errors

from harness.cli import main
from harness.report.risks import migration_risks

REFERENCE_MODELS = (
    "adoption_pipeline",
    "adoption_rate",
    "premium_bands",
    "propensity_glm",
    "segment_models",
    "uptake_forecast",
)


def test_the_core_is_there() -> None:
    """Fails (never skips) until ``harness.explain.lint`` is merged: the command needs it."""
    from harness.explain.lint import find

    assert callable(find)


def test_lint_lists_the_reference_models_findings_with_the_accepted_ones_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lint.json"
    assert main(["--root", str(REPO), "lint", "--format", "json", "--output", str(out)]) == 0
    assert "matches no finding" not in capsys.readouterr().err  # no stale acceptance
    doc = json.loads(out.read_text())
    models = {m["model"]: m for m in doc["models"]}
    assert tuple(models) == REFERENCE_MODELS
    bands = [f for f in models["premium_bands"]["findings"] if f["rule"] == "percentile-approx"]
    assert sorted(f["column"] for f in bands) == ["p10", "p25", "p50", "p75", "p90"]
    assert sorted(f["line"] for f in bands) == [27, 28, 29, 30, 31]
    for f in bands:
        assert f["file"] == "suites/premium_bands/premium_bands.hql"
        assert f["expression"].lower().startswith("percentile_approx(")
        assert f["accepted"].startswith("CR-2024-017")
    assert models["premium_bands"]["accepted"] == len(bands)
    glm = models["propensity_glm"]  # an R-only model: its code read on R's parse tree
    assert glm["not_analysed"] == [] and glm["findings"] == [], glm
    assert doc["totals"]["accepted"] == len(bands)


def test_lint_sarif_of_the_reference_models_validates(tmp_path: Path) -> None:
    out = tmp_path / "lint.sarif"
    assert main(["--root", str(REPO), "lint", "--format", "sarif", "--output", str(out)]) == 0
    log = json.loads(out.read_text())
    assert schema_errors(log) == []
    results = log["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert {r["ruleId"] for r in suppressed} == {"percentile-approx"} and len(suppressed) == 5
    for result in results:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("suites/") and (REPO / uri).is_file()


MODEL = """name: m1
team: t
description: d
steps: [{sql: m.sql, produces: [out]}]
inputs: {t: t@1}
outputs: {out: {keys: [k]}}
"""
SQL = "CREATE TABLE out AS\nSELECT k, percentile_approx(v, 0.5) AS p\nFROM t\nGROUP BY k;\n"


def _project(root: Path, accepted: str = "") -> Path:
    (root / "fixtures").mkdir(parents=True)
    model = root / "suites" / "m1"
    model.mkdir(parents=True)
    (model / "m.sql").write_text(SQL)
    (model / "model.yaml").write_text(MODEL + accepted)
    return root


def test_strict_fails_only_on_open_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "open")
    assert main(["--root", str(project), "lint"]) == 0
    text = capsys.readouterr().out
    assert "m1: 1 open, 0 accepted, 0 not analysed" in text
    assert "  warning  percentile-approx  suites/m1/m.sql:2  percentile_approx(" in text.lower()
    assert main(["--root", str(project), "lint", "m1", "--strict"]) == 1

    accepted = "accepted: [{rule: percentile-approx, reason: approved drift, column: p}]\n"
    project = _project(tmp_path / "accepted", accepted)
    assert main(["--root", str(project), "lint", "m1", "--strict"]) == 0
    text = capsys.readouterr().out
    assert "m1: 0 open, 1 accepted" in text and "accepted: approved drift" in text


def test_an_acceptance_that_matches_nothing_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = "accepted: [{rule: percentile-approx, reason: old, file: m.sql, line: 9}]\n"
    project = _project(tmp_path, stale)
    assert main(["--root", str(project), "lint", "--strict"]) == 1
    err = capsys.readouterr().err
    assert "accepted 'percentile-approx m.sql:9' matches no finding" in err
    (risk,) = migration_risks(["m1"], project / "suites", project)
    assert risk.error is None and risk.stale == ["percentile-approx m.sql:9"]
    assert [(f.rule, f.file, f.line, f.accepted) for f in risk.findings] == [
        ("percentile-approx", "suites/m1/m.sql", 2, "")
    ]


def test_unknown_model_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(_project(tmp_path)), "lint", "m2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'm2'") and err.count("\n") == 1


def test_a_broken_spec_is_a_risk_record_error_not_a_crash(tmp_path: Path) -> None:
    project = _project(tmp_path, "accepted: [{rule: no-such-rule, reason: r}]\n")
    (risk,) = migration_risks(["m1"], project / "suites", project)
    assert "accepted[0].rule: unknown rule 'no-such-rule'" in (risk.error or "")
