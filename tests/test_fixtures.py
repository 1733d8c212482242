"""Fixture bundles: a released bundle is immutable, and a missing file or version is named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.errors import FixtureError
from harness.fixtures import load_bundle, load_sample


def test_changed_released_fixture_is_refused(project: Path) -> None:
    bundle = load_bundle(project / "fixtures", "customers", "1")
    assert bundle.released and bundle.manifest_digest
    sample = project / "fixtures" / "customers" / "1" / "sample.csv"
    sample.write_text(sample.read_text().replace("north", "nord", 1))
    with pytest.raises(FixtureError) as info:
        load_bundle(project / "fixtures", "customers", "1")
    assert "sample.csv: changed after customers@1 was released" in str(info.value)
    assert "new version" in str(info.value)


def test_missing_fixture_file_and_version_are_named(project: Path) -> None:
    (project / "fixtures" / "products" / "1" / "generator.yaml").unlink()
    with pytest.raises(FixtureError, match=r"generator.yaml.*missing"):
        load_bundle(project / "fixtures", "products", "1")
    with pytest.raises(FixtureError, match=r"customers@9 not found .versions present: 1"):
        load_bundle(project / "fixtures", "customers", "9")


def _wide_bundle(root: Path, columns: int = 87) -> Path:
    """An unreleased bundle whose inline ``schema:`` lists ``columns`` columns (longer than
    a file name may be) and whose recipe and sample cover them all."""
    directory = root / "fixtures" / "wide" / "1"
    directory.mkdir(parents=True)
    names = ["id", *[f"predictor_{i:03d}" for i in range(1, columns)]]
    schema = ", ".join(f"{n} {'BIGINT' if n == 'id' else 'DOUBLE'}" for n in names)
    recipe = {n: "id" if n == "id" else f"id * {i}.5" for i, n in enumerate(names)}
    (directory / "generator.yaml").write_text(
        yaml.safe_dump({"rows": 3, "seed": 1, "partitions": 1, "columns": recipe}, width=10**6)
    )
    (directory / "fixture.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "wide",
                "version": 1,
                "schema": schema,
                "sample": "sample.csv",
                "full": {"generator": "generator.yaml"},
            },
            width=10**6,
        )
    )
    return directory


def test_an_inline_schema_of_any_length_loads_releases_and_samples(
    project: Path, spark, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _wide_bundle(project)
    assert len(str(yaml.safe_load((directory / "fixture.yaml").read_text())["schema"])) > 255
    root = ["--root", str(project)]
    assert main([*root, "fixtures", "sample", "wide/1"]) == 0, capsys.readouterr().err
    assert main([*root, "fixtures", "release", "wide/1"]) == 0, capsys.readouterr().err
    bundle = load_bundle(project / "fixtures", "wide", "1")
    assert bundle.released and len(bundle.columns) == 87
    assert bundle.columns[86] == ("predictor_086", "DOUBLE")
    df = load_sample(spark, bundle)
    assert df.count() == 3 and len(df.columns) == 87
    assert df.schema["predictor_086"].dataType.simpleString() == "double"


def test_a_schema_as_a_yaml_list_of_columns_loads(project: Path) -> None:
    directory = _wide_bundle(project, columns=3)
    spec = yaml.safe_load((directory / "fixture.yaml").read_text())
    spec["schema"] = spec["schema"].split(", ")
    (directory / "fixture.yaml").write_text(yaml.safe_dump(spec))
    bundle = load_bundle(project / "fixtures", "wide", "1", require_sample=False)
    assert [n for n, _ in bundle.columns] == ["id", "predictor_001", "predictor_002"]


@pytest.mark.parametrize(
    "schema, says",
    [
        ("schema.dll", "schema: schema file .*schema.dll is missing, and 'schema.dll' is not"),
        ("id BIGINT, name", "schema: not a Hive DDL column list: column 'name' has no type"),
        ("", "schema: must be a DDL file name or a column list, got ''"),
    ],
)
def test_a_schema_neither_ddl_nor_file_is_one_line_naming_file_and_field(
    project: Path, capsys: pytest.CaptureFixture[str], schema: str, says: str
) -> None:
    directory = _wide_bundle(project, columns=3)
    spec = yaml.safe_load((directory / "fixture.yaml").read_text())
    (directory / "fixture.yaml").write_text(yaml.safe_dump({**spec, "schema": schema}))
    with pytest.raises(FixtureError, match=rf"wide/1/fixture.yaml: {says}"):
        load_bundle(project / "fixtures", "wide", "1", require_sample=False)
    for action in ("release", "sample"):
        assert main(["--root", str(project), "fixtures", action, "wide/1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "fixture.yaml: schema" in err, err
    assert not (directory / "manifest.json").exists()
