"""The determinism check (harness.workflows.determinism) on real Spark and the sample data.

A scratch project holds adoption_rate and a model with planted nondeterminism:
``collect_list`` concatenated without an order, and ``row_number()`` over ties filtered to
``rn = 1`` (a row set that depends on the plan), each beside its deterministic fix, so the
check must flag exactly the planted columns and outputs and nothing else.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from project_copy import copy_project, run_suites

from harness import api
from harness.cli import main
from harness.errors import HarnessError, SpecError
from harness.spec import load_spec
from harness.workflows import determinism as det

PLANTED = """\
DROP TABLE IF EXISTS channel_lists;
DROP TABLE IF EXISTS top_products;
DROP TABLE IF EXISTS first_products;
-- planted: collect_list's order is the order rows reach the aggregate
CREATE TABLE channel_lists AS
SELECT customer_id,
       concat_ws(',', collect_list(channel)) AS channels,
       concat_ws(',', sort_array(collect_list(channel))) AS sorted_channels,
       COUNT(*) AS contacts
FROM contacts
GROUP BY customer_id;
-- planted: most customers have several contacts with the same 'converted': ties
CREATE TABLE top_products AS
SELECT customer_id, product_id
FROM (
  SELECT customer_id, product_id,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY converted DESC) AS rn
  FROM contacts
) ranked
WHERE rn = 1;
-- the fix: a total order
CREATE TABLE first_products AS
SELECT customer_id, product_id
FROM (
  SELECT customer_id, product_id,
         ROW_NUMBER() OVER (PARTITION BY customer_id
                            ORDER BY converted DESC, contact_date, contact_id) AS rn
  FROM contacts
) ranked
WHERE rn = 1;
"""

SPEC = """\
name: contact_lists
team: test
description: planted nondeterminism (collect_list order, row_number ties)
steps:
  - sql: contact_lists.hql
    produces: [channel_lists, top_products, first_products]
inputs:
  contacts: contacts@1
outputs:
  channel_lists: {keys: [customer_id]}
  top_products: {keys: [customer_id, product_id]}
  first_products: {keys: [customer_id, product_id]}
datasets: [sample]
determinism: true
"""


def planted_project(root: Path) -> Path:
    copy_project(root, ("adoption_rate",))
    model = root / "suites" / "contact_lists"
    model.mkdir()
    (model / "model.yaml").write_text(SPEC)
    (model / "contact_lists.hql").write_text(PLANTED)
    return root


@pytest.fixture(scope="module")
def proj(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("det") / "proj"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_WORKDIR", str(root / ".harness"))
        yield planted_project(root)


@pytest.fixture(scope="module")
def planted(spark, proj: Path) -> det.DeterminismReport:
    project = api.Project.find(proj)
    return det.check(spark, project, project.model("contact_lists"), "sample")


def outcome(report: det.DeterminismReport, output: str) -> det.OutputDeterminism:
    (found,) = [o for o in report.outputs if o.output == output]
    return found


def test_collect_list_order_is_flagged_on_its_column_only(
    planted: det.DeterminismReport,
) -> None:
    assert planted.failed and planted.status == det.NONDETERMINISTIC
    lists = outcome(planted, "channel_lists")
    assert lists.status == det.NONDETERMINISTIC
    assert [c.column for c in lists.columns] == ["channels"]  # not sorted_channels, contacts
    assert not lists.row_set_differs and lists.rows[0] == lists.rows[1] > 0
    (channels,) = lists.columns
    assert channels.rows > 100
    example = channels.examples[0]
    assert sorted(example["expected"].split(",")) == sorted(example["actual"].split(","))
    assert example["expected"] != example["actual"]
    assert planted.nondeterministic_columns() == {"channel_lists": ["channels"], "top_products": []}


def test_row_number_over_ties_changes_the_row_set(planted: det.DeterminismReport) -> None:
    top = outcome(planted, "top_products")
    assert top.status == det.NONDETERMINISTIC and top.row_set_differs
    assert top.only_reference == top.only_other > 100  # one row per customer either way
    assert top.columns == [] and top.duplicates == (0, 0)
    kinds = {k["in"] for k in top.key_examples}
    assert kinds == {"reference run only", "reshaped run only"}


def test_the_fixed_output_is_deterministic(planted: det.DeterminismReport) -> None:
    first = outcome(planted, "first_products")
    assert first.status == det.DETERMINISTIC
    assert first.rows == outcome(planted, "top_products").rows


def test_the_report_text_and_json_say_where(planted: det.DeterminismReport) -> None:
    text = planted.text()
    assert text.startswith("contact_lists on sample (spark platform): NONDETERMINISTIC")
    assert "[first_products] vs reshaped: deterministic" in text
    assert "    channels: " in text and "rows differ" in text
    assert "row set differs:" in text
    assert "suspect: collect-order" in text
    data = json.loads(json.dumps(planted.to_dict(), default=str))
    assert data["status"] == "nondeterministic"
    assert set(data["outputs"][0]["columns"]) == {"channels"}


def test_runs_leave_no_tables_behind(spark, planted: det.DeterminismReport) -> None:
    left = [t.name for t in spark.catalog.listTables() if t.name.startswith("determinism_")]
    assert left == []


def test_adoption_rate_differs_only_by_float_noise_within_its_tolerance(spark, proj: Path) -> None:
    """A real finding: AVG over doubles sums in plan order, so expected_premium changes in
    its last bits (~1e-16 relative); the spec's rtol 1e-9 never sees it."""
    project = api.Project.find(proj)
    report = det.check(spark, project, project.model("adoption_rate"), "sample")
    assert not report.failed
    (rates,) = report.outputs
    assert rates.status in (det.DETERMINISTIC, det.WITHIN_TOLERANCE)
    assert {c.column for c in rates.columns} <= {"expected_premium"}
    assert all(c.max_rel_diff < 1e-12 for c in rates.columns)


def test_cli_exits_1_with_the_columns_and_writes_json(
    proj: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "det.json"
    args = ["--root", str(proj), "determinism", "contact_lists", "--platform", "legacy"]
    assert main([*args, "--plan", "scattered", "--json", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "contact_lists on sample (legacy platform): NONDETERMINISTIC" in printed
    assert "against:   scattered (inputs scattered in 5 partitions" in printed
    assert "    channels: " in printed
    data = json.loads(out.read_text())
    assert [o["plan"] for o in data["outputs"]] == ["scattered"] * 3


def test_cli_unknown_model_is_one_line(proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(proj), "determinism", "contact_list"]) == 2
    assert "unknown model 'contact_list'" in capsys.readouterr().err


# ------------------------------------------------------------------- pytest and spec


def test_the_pytest_option_adds_one_item_per_model_and_dataset(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    root = planted_project(tmp_path / "p")
    ids = {
        opt: run_suites(pytester, root, "--collect-only", "-q", *opt).stdout.str()
        for opt in ((), ("--harness-determinism", "spec"), ("--harness-determinism", "all"))
    }
    assert "determinism" not in ids[()]
    assert "contact_lists::sample-determinism" in ids[("--harness-determinism", "spec")]
    assert "adoption_rate::sample-determinism" not in ids[("--harness-determinism", "spec")]
    assert "adoption_rate::sample-determinism" in ids[("--harness-determinism", "all")]


def test_the_determinism_item_fails_naming_the_column(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = planted_project(tmp_path / "p")
    monkeypatch.setenv("HARNESS_WORKDIR", str(root / ".harness"))
    reports = tmp_path / "reports"
    result = run_suites(
        pytester,
        root,
        "--harness-determinism",
        "spec",
        "-k",
        "determinism",
        "--harness-report-dir",
        str(reports),
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "contact_lists on sample (spark platform): NONDETERMINISTIC" in out
    assert "Traceback" not in out
    # the nightly's reports carry the check: summary.json per model, report.html per output
    (record,) = [m for m in json.loads((reports / "summary.json").read_text())["models"]]
    assert record["model"] == "contact_lists"
    assert record["determinism"]["status"] == "nondeterministic"
    html = (reports / "report.html").read_text()
    assert "<h3>Determinism</h3>" in html
    assert "nondeterministic; columns that differ: channels" in html


def test_spec_determinism_must_be_a_boolean(tmp_path: Path) -> None:
    root = planted_project(tmp_path / "p")
    spec = root / "suites" / "contact_lists" / "model.yaml"
    assert load_spec(spec).determinism is True
    spec.write_text(SPEC.replace("determinism: true", "determinism: nightly"))
    with pytest.raises(SpecError, match=r"model.yaml: determinism: must be true or false"):
        load_spec(spec)


# ---------------------------------------------------------------------- the lineage hook


def test_lint_findings_on_a_column_path_become_its_suspects(
    planted: det.DeterminismReport, proj: Path
) -> None:
    spec = api.Project.find(proj).model("contact_lists")
    outputs = copy.deepcopy(planted.outputs)
    assert det.add_suspects(spec, outputs) == ""
    report = dataclasses.replace(planted, outputs=outputs, suspects_note="")
    (channels,) = outcome(report, "channel_lists").columns
    assert {f.rule for f in channels.suspects} == {"collect-order"}
    lines = (spec.directory / "contact_lists.hql").read_text().splitlines()
    unsorted = next(n for n, text in enumerate(lines, 1) if "AS channels" in text)
    assert {f.line for f in channels.suspects} == {unsorted}  # not the sorted list's line
    assert {f.rule for f in outcome(report, "top_products").row_suspects} >= {"window-ranking-ties"}
    assert outcome(report, "first_products").row_suspects == []  # deterministic: no suspects
    text = report.text()
    assert f"suspect: collect-order at contact_lists.hql:{unsorted}" in text
    assert "suspect: window-ranking-ties at contact_lists.hql:" in text


def test_an_unknown_plan_is_one_line(spark, proj: Path) -> None:
    project = api.Project.find(proj)
    with pytest.raises(HarnessError, match="unknown determinism plan 'shuffled'"):
        det.check(spark, project, project.model("adoption_rate"), variants=("shuffled",))


def test_the_reference_is_no_variant_of_itself() -> None:
    assert det.variant_named("scattered").layout == "scattered"
    with pytest.raises(HarnessError, match="unknown determinism plan 'reference'"):
        det.variant_named("reference")
