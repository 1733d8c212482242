"""The export runbook end to end: ``harness legacy export-script`` writes HiveQL and the
matching imports; the HiveQL runs on the emulated legacy platform (Spark with Hive support,
a local folder as the target, the models' outputs as Hive tables), the printed
``harness golden import`` commands read the exports back into a scratch golden root, and the
suites pass against those imported goldens, which every report then calls "imported"."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from project_copy import copy_project, run_suites

from harness import api, legacy_export
from harness.cli import main as cli
from harness.errors import SpecError
from harness.golden import GoldenRef, GoldenStore
from harness.runners import Platform
from harness.sqltext import split_statements

MODELS = ("adoption_rate", "premium_bands")  # plain Hive SQL, and Hive's percentile UDAF


def test_export_hiveql_names_every_output_and_its_folder(tmp_path: Path) -> None:
    project = api.Project.find(copy_project(tmp_path / "proj", MODELS))
    exports = legacy_export.plan(
        project.models, [], to="abfss://exp@acct.dfs.core.windows.net/parity/", database="prod"
    )
    assert [(e.model, e.output) for e in exports] == [
        ("adoption_rate", "adoption_rates"),
        ("premium_bands", "premium_bands"),
    ]
    hql = legacy_export.hiveql(exports)
    assert (
        "INSERT OVERWRITE DIRECTORY "
        "'abfss://exp@acct.dfs.core.windows.net/parity/adoption_rate/full/adoption_rates'\n"
        "STORED AS PARQUET\nSELECT * FROM `prod`.`adoption_rates`;"
    ) in hql
    # adoption_rates declares no schema: the script says what its import will need.
    assert "declare outputs.adoption_rates.schema in suites/adoption_rate/model.yaml" in hql
    script = legacy_export.import_script(exports)
    assert script.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script
    imports = [ln for ln in script.splitlines() if ln.startswith("${HARNESS:-harness} ")]
    assert len(imports) == 2
    args = shlex.split(imports[0])[1:]
    assert args[:5] == [
        "golden",
        "import",
        "adoption_rate",
        "adoption_rates",
        "abfss://exp@acct.dfs.core.windows.net/parity/adoption_rate/full/adoption_rates",
    ]
    assert args[args.index("--dataset") + 1] == "full"
    with pytest.raises(SpecError, match="unknown model 'nope'"):
        legacy_export.plan(project.models, ["nope"], to="/x")


@pytest.mark.local_only("Hive support and this machine's folders as the export target")
def test_export_script_round_trips_through_import_to_a_passing_suite(
    spark, pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path / "proj", MODELS)
    # The model's hand-written test has the repo's copy's module name: pytest's in-process
    # run would refuse a second module of that name in this worker ("import file mismatch").
    for extra in (root / "suites").glob("*/test_*.py"):
        extra.unlink()
    monkeypatch.setenv("HARNESS_WORKDIR", str(root / ".harness"))
    project = api.Project.find(root)
    # The legacy platform: each model run as Hive would, its outputs kept as Hive tables.
    database = "legacy_prod"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    for name in MODELS:
        spec = project.model(name)
        legacy = Platform("legacy", spec)
        with legacy.active(spark):
            run = api.run_model(spark, project, spec, "sample", platform=legacy)
            for output, df in run.outputs.items():
                df.write.mode("overwrite").saveAsTable(f"{database}.{output}")
    exports, runbook = tmp_path / "exports", tmp_path / "runbook"
    argv = ["--root", str(root), "legacy", "export-script", *MODELS, "--to", str(exports)]
    argv += ["--dataset", "sample", "--database", database, "--out", str(runbook)]
    assert cli(argv) == 0

    # export.hql, statement by statement, on the emulated legacy platform.
    statements = split_statements((runbook / "export.hql").read_text())
    assert len(statements) == 2
    for statement in statements:
        spark.sql(statement)
    for name in MODELS:
        for output in project.model(name).outputs:
            assert list((exports / name / "sample" / output).glob("*")), output

    # import.sh's commands, each into a scratch golden root.
    golden = tmp_path / "golden"
    imports = [
        shlex.split(line)[1:]
        for line in (runbook / "import.sh").read_text().splitlines()
        if line.startswith("${HARNESS:-harness} ")
    ]
    assert len(imports) == 2
    for args in imports:
        assert cli(["--root", str(root), "--golden-root", str(golden), *args]) == 0
    store = GoldenStore(golden)
    for name in MODELS:
        for output in project.model(name).outputs:
            prov = store.verify(GoldenRef(name, "sample", output))["provenance"]
            assert prov["source"] == "imported"
            assert prov["export"] == str(exports / name / "sample" / output)

    # The suites pass against the imported goldens, and the report says where they came from.
    reports = tmp_path / "reports"
    result = run_suites(
        pytester,
        root,
        "-k",
        "sample",
        "--harness-golden-root",
        str(golden),
        "--harness-report-dir",
        str(reports),
    )
    result.assert_outcomes(passed=2 + 2 * 3)  # inputs + schema/keys/values per output
    summary = json.loads((reports / "summary.json").read_text())
    sources = [o["golden_source"] for m in summary["models"] for o in m["outputs"]]
    assert [s["kind"] for s in sources] == ["imported", "imported"]
    assert all(s["detail"].startswith("imported v0001 (legacy export ") for s in sources)


@pytest.mark.local_only("writes Parquet with this machine's pyarrow")
def test_hive_positional_columns_get_the_declared_names(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hive names a directory export's columns _col0, _col1 ...: the import names them from
    --schema (or the output's declared schema), in order, and says so when it cannot."""
    import pyarrow.parquet as pq

    store = GoldenStore(project / "golden")
    ref = GoldenRef("adoption_rate", "sample", "adoption_rates")
    manifest = store.verify(ref)
    base = store.path(ref) / str(store.current_version(ref))
    table = pq.read_table(next(base / f for f in manifest["files"]))
    export = tmp_path / "hive-export"
    export.mkdir()
    pq.write_table(
        table.rename_columns([f"_col{i}" for i in range(table.num_columns)]), export / "000000_0"
    )
    golden = tmp_path / "golden"
    argv = ["--root", str(project), "--golden-root", str(golden), "golden", "import"]
    argv += ["adoption_rate", "adoption_rates", str(export)]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Hive's positional column names (_col0 ...)" in err
    assert "declare outputs.adoption_rates.schema" in err
    ddl = ", ".join(f"{c['name']} {c['type']}" for c in manifest["schema"])
    assert cli([*argv, "--schema", ddl]) == 0
    imported = GoldenStore(golden).verify(ref)
    assert [c["name"] for c in imported["schema"]] == [c["name"] for c in manifest["schema"]]
    assert imported["rows"] == manifest["rows"]
