"""``harness fixtures import``: bundles from real Parquet, CSV and Hive-text exports that
Spark writes, loaded back by the fixture loader, their samples and proposed checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.errors import FixtureError
from harness.fixture_import import export_location, import_fixture, next_version
from harness.fixtures import load_bundle, load_full, load_sample, run_checks

DDL = "CREATE TABLE t (policy_id BIGINT, holder STRING, premium DOUBLE, status STRING)"


def rows(n: int = 500) -> list[tuple]:
    """Policies: two rows per policy id (key groups), a nullable premium, three statuses."""
    statuses = ("active", "lapsed", "cancelled")
    return [
        (i // 2, f"holder {i // 2}", None if i % 7 == 0 else i * 1.25, statuses[i % 3])
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def exports(spark, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same table exported as Parquet, CSV (header) and Hive text, written by Spark."""
    root = tmp_path_factory.mktemp("exports")
    df = spark.createDataFrame(
        rows(), "policy_id BIGINT, holder STRING, premium DOUBLE, status STRING"
    ).coalesce(2)
    df.write.parquet(str(root / "parquet"))
    df.write.option("header", True).csv(str(root / "csv"))
    df.write.option("sep", "\u0001").option("nullValue", "\\N").option("quote", "").csv(
        str(root / "hive")
    )
    (root / "t.ddl").write_text(DDL)
    return {"parquet": root / "parquet", "csv": root / "csv", "hive-text": root / "hive"}


def test_hive_text_export_becomes_a_bundle_that_loads_with_checks_that_pass(
    spark, exports: dict[str, Path], tmp_path: Path
) -> None:
    done = import_fixture(
        spark,
        tmp_path,
        "policies",
        [exports["hive-text"]],
        fmt="hive-text",
        ddl_file=exports["hive-text"].parent / "t.ddl",
        sample_rows=41,
        keys=["policy_id"],
    )
    assert (done.directory, done.rows) == (tmp_path / "policies" / "1", 500)
    bundle = load_bundle(tmp_path, "policies", "1")
    assert bundle.columns == [
        ("policy_id", "BIGINT"),
        ("holder", "STRING"),
        ("premium", "DOUBLE"),
        ("status", "STRING"),
    ]
    assert (bundle.location, bundle.location_format) == (str(exports["hive-text"]), "hive-text")
    full = load_full(spark, bundle)
    assert full.count() == 500 and full.where("premium IS NULL").count() == 72
    sample = load_sample(spark, bundle).toPandas()
    # whole key groups (2 rows each): 40 rows, never a policy with one row of its two
    assert len(sample) == 40 and set(sample.groupby("policy_id").size()) == {2}
    raw = yaml.safe_load((done.directory / "fixture.yaml").read_text())
    kinds = [next(k for k in c if k != "severity") for c in raw["checks"]]
    assert kinds == ["not_null", "accepted_values", "range", "range"]
    assert raw["checks"][0]["not_null"] == ["policy_id", "holder", "status"]
    assert raw["checks"][1]["accepted_values"] == {"status": ["active", "cancelled", "lapsed"]}
    assert raw["checks"][3]["range"] == {"premium": {"min": 1.25, "max": 623.75}}
    assert {c["severity"] for c in raw["checks"]} == {"warn"}  # proposed: nothing enforced
    assert (done.directory / "fixture.yaml").read_text().count("# proposed: ") == 4
    results = run_checks(full, "policies", bundle.checks)
    assert [r.failing_rows for r in results] == [0, 0, 0, 0]


def test_the_sample_is_the_same_every_time_and_from_every_format(
    spark, exports: dict[str, Path], tmp_path: Path
) -> None:
    samples = []
    for fmt in ("parquet", "csv", "hive-text", "hive-text"):
        done = import_fixture(
            spark,
            tmp_path,
            "policies",
            [exports[fmt]],
            fmt=fmt,
            ddl_file=None if fmt == "csv" else exports[fmt].parent / "t.ddl",
            header=fmt == "csv",
            sample_rows=100,
        )
        samples.append((done.directory / "sample.csv").read_text())
    assert sorted(p.name for p in (tmp_path / "policies").iterdir()) == ["1", "2", "3", "4"]
    assert len(set(samples)) == 1 and samples[0].count("\n") == 101
    assert samples[0].splitlines()[0] == "policy_id,holder,premium,status"
    assert "\\N" in samples[0]  # Hive's NULL, the bundles' convention
    # without keys, a likely key is looked for: none here (policy ids repeat)
    text = (tmp_path / "policies" / "1" / "fixture.yaml").read_text()
    assert "unique" not in text


def test_a_unique_key_column_is_proposed_and_the_cli_reports_the_bundle(
    spark, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    spark.range(300).selectExpr("id AS contact_id", "id % 4 AS channel").write.parquet(str(export))
    project = tmp_path / "proj"
    (project / "suites").mkdir(parents=True)
    (project / "fixtures").mkdir()
    argv = ["--root", str(project), "fixtures", "import", "contacts", str(export)]
    assert main([*argv, "--sample-rows", "10"]) == 0
    out = capsys.readouterr().out
    assert "contacts@1: 2 columns, 300 rows" in out and "10 in sample.csv" in out
    assert "proposed check: {unique: [contact_id]}" in out
    assert "proposed check: {range: {channel: {min: 0, max: 3}}}" in out
    assert load_bundle(project / "fixtures", "contacts", "1").columns == [
        ("contact_id", "BIGINT"),
        ("channel", "BIGINT"),
    ]
    assert main([*argv, "--version", "1"]) == 2  # never overwrites a version
    assert "contacts@1 exists" in capsys.readouterr().err


def test_a_ddl_that_disagrees_with_the_files_is_one_line(
    spark, exports: dict[str, Path], tmp_path: Path
) -> None:
    ddl = tmp_path / "wrong.ddl"
    ddl.write_text("policy_id INT, holder STRING, premium DOUBLE, status STRING")
    with pytest.raises(FixtureError, match=r"wrong.ddl: .*'policy_id' is bigint, expected int"):
        import_fixture(spark, tmp_path, "p", [exports["parquet"]], fmt="parquet", ddl_file=ddl)
    assert not (tmp_path / "p").exists()
    with pytest.raises(FixtureError, match="hive-text exports carry no types"):
        import_fixture(spark, tmp_path, "p", [exports["hive-text"]], fmt="hive-text")


def test_versions_and_locations_without_spark(tmp_path: Path) -> None:
    assert next_version(tmp_path, "x") == "1"
    for v in ("1", "2", "10", "draft"):
        (tmp_path / "x" / v).mkdir(parents=True)
    assert next_version(tmp_path, "x") == "11"
    folder = tmp_path / "export"
    folder.mkdir()
    parts = [folder / "000000_0", folder / "000001_0"]
    for p in [*parts, folder / "_SUCCESS"]:
        p.write_text("")
    assert export_location(parts) == folder.resolve()
    assert export_location([parts[0]]) == parts[0].resolve()
    (folder / "notes.txt").write_text("")
    with pytest.raises(FixtureError, match=r"notes.txt: this folder holds files besides"):
        export_location(parts)
