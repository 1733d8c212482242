"""Acceptance criteria (``outputs.<name>.acceptance``): validated as strictly as the rest of
the spec, each mistake one line naming the file, the field and the fix; and each metric's
direction decides its verdict. No Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from project_copy import REPO

from harness.criteria import METRICS, passes
from harness.errors import SpecError
from harness.spec import load_spec

MODEL = "propensity_glm"


def spec_with(tmp_path: Path, output: str, acceptance: object) -> Path:
    """propensity_glm's spec with ``outputs.<output>.acceptance`` replaced."""
    folder = tmp_path / "suites" / MODEL
    folder.mkdir(parents=True)
    for f in (REPO / "suites" / MODEL).iterdir():
        if f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
    data = yaml.safe_load((folder / "model.yaml").read_text())
    data["outputs"][output]["acceptance"] = acceptance
    (folder / "model.yaml").write_text(yaml.safe_dump(data))
    return folder / "model.yaml"


def scores(**changes: object) -> dict:
    base = yaml.safe_load((REPO / "suites" / MODEL / "model.yaml").read_text())
    acc = dict(base["outputs"]["propensity_scores"]["acceptance"])
    acc.update(changes)
    return acc


def test_the_models_declaration_loads() -> None:
    acc = load_spec(REPO / "suites" / MODEL).outputs["propensity_scores"].acceptance
    assert acc is not None and acc.score == "propensity" and acc.bins == 10
    assert acc.label is not None and acc.label.table == "contacts"
    assert acc.label.keys == ("customer_id", "product_id")
    assert set(acc.thresholds) <= set(METRICS) and "auc_drop" in acc.thresholds


@pytest.mark.parametrize(
    ("output", "acceptance", "message"),
    [
        (
            "propensity_scores",
            scores(thresholds={"pis": 0.1}),
            "acceptance.thresholds: unknown metric 'pis' (did you mean 'psi'?)",
        ),
        (
            "propensity_scores",
            scores(thresholds={"psi": "0.1"}),
            "acceptance.thresholds.psi: must be a number, got '0.1'",
        ),
        (
            "propensity_scores",
            scores(thresholds={"ks": True}),
            "acceptance.thresholds.ks: must be a number, got True",
        ),
        (
            "propensity_scores",
            scores(label={"table": "contact", "column": "converted", "keys": ["customer_id"]}),
            "acceptance.label.table: unknown label table 'contact' (did you mean 'contacts'?)",
        ),
        (
            "propensity_scores",
            {"score": "propensity", "thresholds": {"auc_drop": 0.01}},
            "acceptance.thresholds.auc_drop: needs outcomes to score against",
        ),
        (
            "propensity_scores",
            {"thresholds": {"psi": 0.1}},
            "thresholds need the score column",
        ),
        (
            "propensity_scores",
            scores(bins=1),
            "acceptance.bins: must be a whole number >= 2, got 1",
        ),
        (
            "propensity_scores",
            scores(treshold={}),
            "unknown field 'treshold' (did you mean 'thresholds'?)",
        ),
        (
            "propensity_coefficients",
            {"columns": {"estimate": {"max_rel_change": 0.5}}},
            "acceptance.columns.estimate.reason: say why this change is acceptable",
        ),
        (
            "propensity_coefficients",
            {"columns": {"estimate": {"max_rel": 0.5, "reason": "x"}}},
            "unknown field 'max_rel' (did you mean 'max_rel_change'?)",
        ),
        ("propensity_coefficients", {}, "declares nothing to check"),
    ],
)
def test_a_mistake_is_one_line_naming_file_and_field(
    tmp_path: Path, output: str, acceptance: object, message: str
) -> None:
    path = spec_with(tmp_path, output, acceptance)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(f"{path}: outputs.{output}.acceptance")
    assert message in text


def test_each_metric_is_judged_in_its_direction() -> None:
    assert passes("psi", 0.05, 0.1) and not passes("psi", 0.2, 0.1)
    assert passes("rank_correlation", 0.99, 0.95) and not passes("rank_correlation", 0.5, 0.95)
    assert not passes("auc_drop", None, 0.1)  # not measurable never passes
    assert not passes("ks", float("nan"), 0.1)
    assert {m.direction for m in METRICS.values()} == {"max", "min"}
