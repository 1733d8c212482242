"""The legacy platform's R: goldens captured with the edge node's pre-3.6 sampler.

A copy of propensity_glm whose R code fits on a seeded 80% subsample of its training set
(``set.seed`` then ``sample()``, a common holdout split). Its golden is captured on the
emulated legacy platform, which runs ``RNGkind(sample.kind = "Rounding")`` before the R step
(the catalogue's ``r-sample-kind``): the draws differ from today's R, so the Spark run's
coefficients and scores differ from the golden, and attribution names the rule at the
``sample()`` line. A spec that says its edge node already ran today's R (``legacy: {r: []}``)
captures a golden the Spark run matches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from project_copy import copy_project

from harness.api import Project, capture, compare_output, run_model
from harness.compare import CompareResult
from harness.explain.attribute import attribute
from harness.golden import GoldenRef
from harness.report.text import format_comparison

SUBSAMPLE = (
    "  set.seed(20240101)  # an 80% training subsample, drawn as the edge node drew it\n"
    "  train <- train[sample(nrow(train), floor(0.8 * nrow(train))), ]\n"
)
ANCHOR = "  train <- train[order(train$contact_id), ]\n"
OUTPUT = "propensity_coefficients"


def _project(root: Path, legacy_r: str | None = None) -> Project:
    copy_project(root, ("propensity_glm",))
    model = root / "suites" / "propensity_glm"
    code = model / "propensity.R"
    text = code.read_text()
    assert ANCHOR in text
    code.write_text(text.replace(ANCHOR, ANCHOR + SUBSAMPLE, 1))
    if legacy_r is not None:
        spec = model / "model.yaml"
        spec.write_text(spec.read_text() + f"legacy:\n  r: {legacy_r}\n")
    return Project.find(root, golden=root / "golden-planted")


def _sample_line(project: Project) -> int:
    code = project.model("propensity_glm").directory / "propensity.R"
    lines = code.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if "train[sample(" in line)


def _provenance(project: Project) -> dict:
    ref = GoldenRef("propensity_glm", "sample", OUTPUT)
    return project.store().manifest(ref)["provenance"]


def _run_and_compare(spark, project: Project) -> CompareResult:
    spec = project.model("propensity_glm")
    assert capture(spark, project, spec, "sample", only_missing=False, reason="planted")
    run = run_model(spark, project, spec, "sample")
    return compare_output(spark, project.store(), run, OUTPUT).comparison


@pytest.mark.local_only("runs R in this process")
def test_a_golden_drawn_with_the_legacy_sampler_differs_and_names_the_rule(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_WORKDIR", str(tmp_path / ".harness"))
    project = _project(tmp_path / "proj")
    spec = project.model("propensity_glm")
    comparison = _run_and_compare(spark, project)
    result = comparison.to_dict()

    provenance = _provenance(project)
    assert "r-sample-kind" in provenance["emulated_rules"]
    (step,) = provenance["steps"]
    assert 'RNGkind(sample.kind = "Rounding")' in step["semantics"]

    assert not result["passed"]
    assert "estimate" in result["failing_columns"]
    causes = attribute(result, spec, OUTPUT)
    estimate = [c for c in causes if c.column == "estimate"]
    assert estimate and estimate[0].rule == "r-sample-kind"
    top = estimate[0]
    assert (top.file.name, top.line) == ("propensity.R", _sample_line(project))
    assert "the legacy platform emulates it" in top.evidence
    assert 'RNGkind(sample.kind = "Rounding")' in top.setting
    text = format_comparison(comparison)
    assert "estimate #1: r-sample-kind (" in text
    assert f"at propensity.R:{_sample_line(project)} `sample(nrow(train)" in text

    # The legacy platform put today's sampler back: a second Spark run draws the same rows.
    again = run_model(spark, project, spec, "sample")
    second = compare_output(spark, project.store(), again, OUTPUT).comparison.to_dict()
    assert second["columns"]["estimate"] == result["columns"]["estimate"]


@pytest.mark.local_only("runs R in this process")
def test_an_edge_node_with_todays_r_captures_what_spark_draws(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_WORKDIR", str(tmp_path / ".harness"))
    project = _project(tmp_path / "proj", legacy_r="[]")
    result = _run_and_compare(spark, project).to_dict()
    assert result["passed"], result["failing_columns"]
    provenance = _provenance(project)
    assert "r-sample-kind" in provenance["not_emulated_rules"]
    assert provenance["steps"][0]["semantics"] == "R's own semantics (not emulated)"
