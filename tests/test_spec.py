"""Model specs: strict validation naming the file, the field and the fix; the expected
output schema (``outputs.<name>.schema``) checked on a real run; and the documentation
fields shown by ``harness describe``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from project_copy import REPO, run_suites

from harness.errors import SpecError
from harness.spec import load_spec

GOOD = """name: m1
team: t
description: d
steps: [{sql: m.sql, produces: [out]}]
inputs: {customers: customers@1}
outputs: {out: {keys: [id]}}
"""


def write_spec(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "suites" / "m1"
    folder.mkdir(parents=True)
    (folder / "m.sql").write_text("SELECT 1 AS id")
    (folder / "model.yaml").write_text(text)
    return folder / "model.yaml"


def test_valid_spec_loads(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, GOOD))
    assert spec.outputs["out"].keys == ("id",) and spec.outputs["out"].rtol == 1e-9
    assert spec.inputs["customers"].fixture == "customers"


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda t: t.replace("outputs:", "outptus:"),
            "unknown field 'outptus' (did you mean 'outputs'?)",
        ),
        (lambda t: t.replace("{keys: [id]}", "{keys: [id], rtl: 1}"), "did you mean 'rtol'?"),
        (lambda t: t.replace("name: m1", "name: other"), "differs from its folder"),
        (lambda t: t.replace("m.sql", "missing.sql"), "code file 'missing.sql' does not exist"),
        (lambda t: t.replace("{keys: [id]}", "{keys: [id], rtol: -1}"), "non-negative"),
        (lambda t: t.replace("team: t\n", ""), "missing required field 'team'"),
        (lambda t: t + "  bad: [", "not valid YAML"),
        (lambda t: t.replace("sql: m.sql", "r: m.sql"), "names no function"),
        (
            lambda t: t.replace("{keys: [id]}", "{keys: [id], type_policy: widen}"),
            "outputs.out.type_policy: unknown type policy 'widen' (did you mean 'widening'?)",
        ),
        (
            lambda t: t + "datasets: [sample, ful]\n",
            "datasets: unknown dataset 'ful' (did you mean 'full'?)",
        ),
        (lambda t: t + "datasets: 3\n", "datasets: must be a list of datasets"),
        (
            lambda t: t + "packages: {pyhton: {}}\n",
            "packages: unknown field 'pyhton' (did you mean 'python'?)",
        ),
        (
            lambda t: t + "legacy: {confs: {}}\n",
            "legacy: unknown field 'confs' (did you mean 'conf'?)",
        ),
        (
            lambda t: t.replace("{keys: [id]}", "{keys: [id], schema: 'id'}"),
            "outputs.out.schema: cannot parse the column list: column 'id' has no type",
        ),
        (
            lambda t: t.replace("{keys: [id]}", "{keys: [id], schema: [id]}"),
            "outputs.out.schema: must be a column list",
        ),
    ],
)
def test_spec_mistakes_suggest_the_fix(tmp_path: Path, edit, message: str) -> None:
    path = write_spec(tmp_path, edit(GOOD))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_a_single_dataset_may_be_a_string(tmp_path: Path) -> None:
    assert load_spec(write_spec(tmp_path, GOOD + "datasets: sample\n")).datasets == ("sample",)


def test_output_schema_is_parsed(tmp_path: Path) -> None:
    text = GOOD.replace("{keys: [id]}", "{keys: [id], schema: 'id INT, amount DECIMAL(12, 2)'}")
    spec = load_spec(write_spec(tmp_path, text))
    assert spec.outputs["out"].schema == (("id", "INT"), ("amount", "DECIMAL(12, 2)"))
    assert load_spec(write_spec(tmp_path / "b", GOOD)).outputs["out"].schema is None


# ------------------------------------------------------------- expected schema, real run

SCHEMA = (
    "product_name STRING, region STRING, month STRING, contacts BIGINT, "
    "adoptions BIGINT, adoption_rate DOUBLE, expected_premium DOUBLE"
)


def _declare_schema(project: Path, schema: str) -> Path:
    spec = project / "suites" / "adoption_rate" / "model.yaml"
    text = spec.read_text()
    old = "    keys: [product_name, region, month]\n"
    assert old in text
    spec.write_text(text.replace(old, f'{old}    schema: "{schema}"\n'))
    return spec


def test_declared_output_schema_is_checked_on_a_real_run(pytester, project: Path) -> None:
    spec = _declare_schema(project, SCHEMA.replace("contacts BIGINT", "contacts INT"))
    result = run_suites(pytester, project, "-k", "schema")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert (
        f"{spec}: outputs.adoption_rates.schema: model adoption_rate output "
        "'adoption_rates': column 'contacts' is bigint, expected int"
    ) in out
    assert "Traceback" not in out


def test_matching_declared_schema_passes(pytester, project: Path) -> None:
    _declare_schema(project, SCHEMA.replace("BIGINT", "LONG").lower())
    result = run_suites(pytester, project, "-k", "values")
    result.assert_outcomes(passed=1)


def test_describe_shows_the_documentation_fields(project: Path) -> None:
    spec = _declare_schema(project, SCHEMA)
    spec.write_text(spec.read_text() + "notes: migrated in wave 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "--root", str(project), "describe", "adoption_rate"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "notes: migrated in wave 2" in proc.stdout
    assert "(one row per product x region x month)" in proc.stdout  # output description
    assert "schema: product_name STRING, region STRING" in proc.stdout
