"""``harness lint MODEL --accept RULE@FILE:LINE --reason ...``: the accepted: entry written
into the spec (comments kept), an acceptance and a SARIF fingerprint that follow the code
when unrelated lines above it move, and a stale acceptance reported when the accepted
expression changed. No Spark: lint reads files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.risks import migration_risks
from harness.spec import load_spec

MODEL = """name: m1  # a comment the edit keeps
team: t
description: d
steps: [{sql: m.sql, produces: [out]}]
inputs: {t: t@1}
outputs: {out: {keys: [k]}}
"""
SQL = "CREATE TABLE out AS\nSELECT k, percentile_approx(v, 0.5) AS p\nFROM t\nGROUP BY k;\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "fixtures").mkdir()
    model = tmp_path / "suites" / "m1"
    model.mkdir(parents=True)
    (model / "m.sql").write_text(SQL)
    (model / "model.yaml").write_text(MODEL)
    return tmp_path


def _lint(project: Path, *args: str) -> int:
    return main(["--root", str(project), "lint", "m1", *args])


def _sarif(project: Path, tmp_path: Path) -> dict:
    out = tmp_path / "lint.sarif"
    assert _lint(project, "--format", "sarif", "--output", str(out)) == 0
    (result,) = [
        r for r in json.loads(out.read_text())["runs"][0]["results"] if r["level"] != "note"
    ]
    return result


def test_accept_writes_the_entry_and_the_finding_is_accepted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _lint(project, "--strict") == 1
    target = "percentile-approx@suites/m1/m.sql:2"
    assert _lint(project, "--accept", target, "--reason", "CR-1: approved drift") == 0
    assert "accepted 'percentile-approx m.sql p `PERCENTILE_APPROX(v, 0.5)`'" in (
        capsys.readouterr().out
    )
    text = (project / "suites" / "m1" / "model.yaml").read_text()
    assert "# a comment the edit keeps" in text
    (entry,) = load_spec(project / "suites" / "m1").accepted
    assert (entry.rule, entry.file, entry.line, entry.column) == (
        "percentile-approx",
        "m.sql",
        None,
        "p",
    )
    assert (entry.expression, entry.reason) == ("PERCENTILE_APPROX(v, 0.5)", "CR-1: approved drift")
    assert _lint(project, "--strict") == 0
    assert "m1: 0 open, 1 accepted" in capsys.readouterr().out
    # the file as the model's folder names it works too; an accepted finding is not open
    assert _lint(project, "--accept", "percentile-approx@m.sql:2", "--reason", "again") == 2
    assert "already accepted" in capsys.readouterr().err


def test_acceptance_and_fingerprint_follow_the_code_when_lines_above_move(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _sarif(project, tmp_path)
    assert _lint(project, "--accept", "percentile-approx@m.sql:2", "--reason", "ok") == 0
    sql = project / "suites" / "m1" / "m.sql"
    sql.write_text("-- a header\n-- added later\n\n" + SQL)
    capsys.readouterr()
    after = _sarif(project, tmp_path)
    assert after["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    assert before["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert after["partialFingerprints"] == before["partialFingerprints"]
    assert after["suppressions"][0]["justification"] == "ok"
    assert "matches no finding" not in capsys.readouterr().err


def test_an_acceptance_whose_expression_changed_is_reported_stale(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _lint(project, "--accept", "percentile-approx@m.sql:2", "--reason", "ok") == 0
    sql = project / "suites" / "m1" / "m.sql"
    sql.write_text(SQL.replace("0.5", "0.9"))
    capsys.readouterr()
    assert _lint(project, "--strict") == 1
    captured = capsys.readouterr()
    assert "m1: 1 open, 0 accepted" in captured.out
    assert (
        "accepted 'percentile-approx m.sql p `PERCENTILE_APPROX(v, 0.5)`' matches no finding"
        in captured.err
    )
    (risk,) = migration_risks(["m1"], project / "suites", project)
    assert risk.stale == ["percentile-approx m.sql p `PERCENTILE_APPROX(v, 0.5)`"]
    assert [f.accepted for f in risk.findings] == [""]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--accept", "percentile-approx@m.sql:7", "--reason", "r"], "no open finding"),
        (["--accept", "percentile-approx m.sql 2", "--reason", "r"], "expected RULE@FILE:LINE"),
        (["--accept", "percentile-approx@m.sql:2"], "needs one MODEL and --reason"),
    ],
)
def test_a_bad_accept_is_one_line_and_leaves_the_spec_alone(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    spec = project / "suites" / "m1" / "model.yaml"
    assert _lint(project, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert spec.read_text() == MODEL
