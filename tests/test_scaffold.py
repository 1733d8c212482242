"""``harness new``: a model folder that validates at once, and (with ``harness fixtures
import``) a new model on a legacy export whose suite passes, in every language."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_copy import copy_project, run_suites

from harness.cli import main
from harness.errors import FixtureError, SpecError
from harness.scaffold import LANGUAGES, new_model
from harness.spec import load_spec


@pytest.mark.parametrize("lang", LANGUAGES)
def test_new_writes_a_valid_model_with_a_readme(
    lang: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--root", str(project), "new", "scored", "--lang", lang]
    assert main([*args, "--inputs", "products@1", "cust=customers@1"]) == 0
    folder = project / "suites" / "scored"
    spec = load_spec(folder)
    assert [s.kind for s in spec.steps] == [lang]
    assert {t: f"{i.fixture}@{i.version}" for t, i in spec.inputs.items()} == {
        "products": "products@1",
        "cust": "customers@1",
    }
    assert list(spec.outputs) == ["row_counts"] and spec.datasets == ("sample", "full")
    readme = (folder / "README.md").read_text()
    assert "| `products` (products@1) | `row_counts` (input_table) |" in readme
    assert "| `cust` (customers@1) | |" in readme
    assert ".venv/bin/pytest -k scored " in readme and "harness capture scored" in readme
    assert "wrote suites/scored/model.yaml" in capsys.readouterr().out
    # never overwrites: one line, exit 2, the folder untouched
    before = (folder / "model.yaml").read_text()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scored exists" in err
    assert (folder / "model.yaml").read_text() == before


def test_new_without_inputs_validates_with_a_placeholder(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(project), "new", "draft", "--lang", "python"]) == 0
    assert "placeholder" in capsys.readouterr().out
    spec = load_spec(project / "suites" / "draft")
    assert spec.inputs["todo_input"].fixture == "todo_fixture" and spec.datasets == ("sample",)
    assert "TODO" in (project / "suites" / "draft" / "model.yaml").read_text()


def test_new_refuses_bad_names_and_unknown_bundles(project: Path) -> None:
    suites, fixtures = project / "suites", project / "fixtures"
    with pytest.raises(SpecError, match="not a valid model name"):
        new_model(suites, fixtures, "2fast", "sql")
    with pytest.raises(SpecError, match="write NAME@VERSION"):
        new_model(suites, fixtures, "m", "sql", ["products"])
    with pytest.raises(FixtureError, match="products@9 not found"):
        new_model(suites, fixtures, "m", "sql", ["products@9"])
    assert not (suites / "m").exists()


def test_a_model_added_with_new_and_fixtures_import_passes_its_suite(
    pytester: pytest.Pytester, spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's acceptance test: a legacy export (Hive text) imported as a bundle, one
    model per language made on it, goldens captured, every suite green; on full data too."""
    root = copy_project(tmp_path / "proj", models=())
    monkeypatch.setenv("HARNESS_WORKDIR", str(root / ".harness"))
    export = tmp_path / "warehouse" / "claims"
    spark.range(2000).selectExpr(
        "id AS claim_id", "CAST(id % 5 AS INT) AS region_code", "id * 0.5 AS amount"
    ).write.option("sep", "\u0001").option("nullValue", "\\N").csv(str(export))
    ddl = tmp_path / "claims.ddl"
    ddl.write_text("CREATE TABLE claims (claim_id BIGINT, region_code INT, amount DOUBLE)")
    cli = ["--root", str(root)]
    imported = ["fixtures", "import", "claims", str(export), "--format", "hive-text"]
    assert main([*cli, *imported, "--ddl", str(ddl), "--sample-rows", "150"]) == 0
    for lang in LANGUAGES:
        assert main([*cli, "new", f"claims_{lang}", "--lang", lang, "--inputs", "claims@1"]) == 0
    assert main([*cli, "capture"]) == 0
    assert main([*cli, "capture", "claims_sql", "--dataset", "full"]) == 0
    result = run_suites(pytester, root, "-k", "claims")
    result.assert_outcomes(passed=12)
    result = run_suites(pytester, root, "-k", "claims_sql", "--harness-dataset", "full")
    result.assert_outcomes(passed=4)
    golden = (root / "golden" / "claims_r" / "sample" / "row_counts" / "summary.ambr").read_text()
    assert "'max': 150," in golden  # the stub counted the sample's rows
