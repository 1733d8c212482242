"""The harness core, end to end on a copy of the project: real Spark, real files.

A changed output value, a missing golden, a corrupted golden, a changed released fixture,
an interrupted refresh, a broken spec and an unknown model in -k are each caught as the
README promises, with one clear line instead of a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import FixtureError, GoldenError, SpecError
from harness.fixtures import load_bundle
from harness.golden import GoldenRef, GoldenStore
from harness.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
MODEL = "adoption_rate"
REF = GoldenRef(MODEL, "sample", "adoption_rates")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway copy of the repo's harness files, one model and its sample golden, with
    a scratch folder of its own (its model outputs never meet the repo's)."""
    root = tmp_path / "proj"
    monkeypatch.setenv("HARNESS_WORKDIR", str(root / ".harness"))
    (root / "suites").mkdir(parents=True)
    shutil.copytree(REPO / "suites" / MODEL, root / "suites" / MODEL)
    shutil.copytree(REPO / "fixtures", root / "fixtures")
    shutil.copytree(REPO / "golden" / MODEL / "sample", root / "golden" / MODEL / "sample")
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(REPO / name, root / name)
    return root


def run_pytest(pytester: pytest.Pytester, root: Path, *args: str) -> pytest.RunResult:
    pytester.chdir()
    os.chdir(root)
    return pytester.runpytest_inprocess("-p", "no:randomly", "--rootdir", str(root),
                                        str(root / "suites"), *args)


# ---------------------------------------------------------------------------- specs


def write_spec(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "suites" / "m1"
    folder.mkdir(parents=True)
    (folder / "m.sql").write_text("SELECT 1 AS id")
    (folder / "model.yaml").write_text(text)
    return folder / "model.yaml"


GOOD = """name: m1
team: t
description: d
steps: [{sql: m.sql, produces: [out]}]
inputs: {customers: customers@1}
outputs: {out: {keys: [id]}}
"""


def test_valid_spec_loads(tmp_path):
    spec = load_spec(write_spec(tmp_path, GOOD))
    assert spec.outputs["out"].keys == ("id",) and spec.outputs["out"].rtol == 1e-9
    assert spec.inputs["customers"].fixture == "customers"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("outputs:", "outptus:"),
     "unknown field 'outptus' (did you mean 'outputs'?)"),
    (lambda t: t.replace("{keys: [id]}", "{keys: [id], rtl: 1}"), "did you mean 'rtol'?"),
    (lambda t: t.replace("name: m1", "name: other"), "differs from its folder"),
    (lambda t: t.replace("m.sql", "missing.sql"), "code file 'missing.sql' does not exist"),
    (lambda t: t.replace("{keys: [id]}", "{keys: [id], rtol: -1}"), "non-negative"),
    (lambda t: t.replace("team: t\n", ""), "missing required field 'team'"),
    (lambda t: t + "  bad: [", "not valid YAML"),
    (lambda t: t.replace("sql: m.sql", "r: m.sql"), "names no function"),
])
def test_broken_spec_names_file_field_and_fix(tmp_path, edit, message):
    path = write_spec(tmp_path, edit(GOOD))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert message in str(info.value) and str(path) in str(info.value)


# ------------------------------------------------------------------------- fixtures


def test_changed_released_fixture_is_refused(project):
    bundle = load_bundle(project / "fixtures", "customers", "1")
    assert bundle.released and bundle.manifest_digest
    sample = project / "fixtures" / "customers" / "1" / "sample.csv"
    sample.write_text(sample.read_text().replace("north", "nord", 1))
    with pytest.raises(FixtureError) as info:
        load_bundle(project / "fixtures", "customers", "1")
    assert "sample.csv: changed after customers@1 was released" in str(info.value)
    assert "new version" in str(info.value)


def test_missing_fixture_file_and_version_are_named(project):
    (project / "fixtures" / "products" / "1" / "generator.yaml").unlink()
    with pytest.raises(FixtureError, match=r"generator.yaml.*missing"):
        load_bundle(project / "fixtures", "products", "1")
    with pytest.raises(FixtureError, match=r"customers@9 not found .versions present: 1"):
        load_bundle(project / "fixtures", "customers", "9")


# -------------------------------------------------------------- generated suites


def test_model_suite_passes_and_ids_are_selectable(pytester, project):
    result = run_pytest(pytester, project, "-k", "adoption_rates and values", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*model.yaml::adoption_rate::sample-adoption_rates-values*PASSED*"])


def test_changed_output_value_fails_with_column_counts_and_examples(pytester, project):
    hql = project / "suites" / MODEL / "adoption_rate.hql"
    hql.write_text(hql.read_text().replace(
        "AVG(p.base_premium *", "AVG(1.0000001 * p.base_premium *"))
    result = run_pytest(pytester, project, "-k", MODEL)
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "sample-adoption_rates-values" in out
    assert "expected_premium" in out and "max rel diff 1.000e-07" in out
    assert "product_name=" in out  # example keys with both values
    assert "model code adoption_rate.hql: changed" in out  # what changed since the golden
    assert "Traceback" not in out


def test_missing_golden_says_how_to_create_one(pytester, project):
    shutil.rmtree(project / "golden" / MODEL)
    result = run_pytest(pytester, project, "-k", "values")
    result.assert_outcomes(passed=0, failed=1)
    out = result.stdout.str()
    assert "no golden for adoption_rate/sample/adoption_rates" in out
    assert "harness capture adoption_rate" in out and "--update-golden" in out
    assert "Traceback" not in out


def test_corrupted_golden_is_an_error_never_a_pass(pytester, project):
    store = GoldenStore(project / "golden")
    data = next((store.path(REF) / store.current_version(REF) / "data").glob("*.parquet"))
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data.write_bytes(bytes(blob))
    result = run_pytest(pytester, project, "-k", "values")
    result.assert_outcomes(failed=1)
    assert "golden data was modified or corrupted" in result.stdout.str()


def test_hand_edited_manifest_is_caught(project):
    store = GoldenStore(project / "golden")
    manifest = store.path(REF) / store.current_version(REF) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["rows"] += 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(GoldenError, match="manifest says"):
        store.verify(REF)


def test_unknown_model_in_k_is_one_clear_line(pytester, project):
    result = run_pytest(pytester, project, "-k", "no_such_model")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*no model, dataset or output matches -k 'no_such_model'*"
                                 "models: adoption_rate*"])


def test_broken_spec_is_one_failing_test(pytester, project):
    spec = project / "suites" / MODEL / "model.yaml"
    spec.write_text(spec.read_text().replace("outputs:", "outptus:"))
    result = run_pytest(pytester, project)
    result.assert_outcomes(failed=1)
    assert "unknown field 'outptus' (did you mean 'outputs'?)" in result.stdout.str()


def test_update_golden_needs_a_reason(pytester, project):
    result = run_pytest(pytester, project, "--harness-update-golden")
    assert result.ret != 0
    assert "--harness-update-golden needs --harness-reason" in result.stderr.str()


def test_refresh_writes_new_version_with_provenance_and_keeps_the_old(pytester, project):
    store = GoldenStore(project / "golden")
    before = store.current_version(REF)
    hql = project / "suites" / MODEL / "adoption_rate.hql"
    hql.write_text(hql.read_text().replace("AVG(p.base_premium *", "AVG(2.0 * p.base_premium *"))
    result = run_pytest(pytester, project, "-k", MODEL, "--harness-update-golden",
                        "--harness-reason",
                        "CR-123: premium doubled")
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert "golden refresh" in out and "expected_premium" in out  # summary of what changed
    after = store.current_version(REF)
    assert after != before and before in store.versions(REF)
    prov = store.manifest(REF)["provenance"]
    assert prov["source"] == "refresh" and prov["reason"] == "CR-123: premium doubled"
    assert prov["previous_version"] == before and prov["fingerprint"]["parts"]
    assert "CR-123" in (store.path(REF) / "summary.ambr").read_text()
    store.restore(REF, before)  # reversible
    assert store.current_version(REF) == before


# ----------------------------------------------------- interrupted refresh (crash)

CRASHING_REFRESH = """
import os
import sys
from harness.golden import GoldenRef, GoldenStore
from harness.backends import get_spark
spark = get_spark(os.environ.get("HARNESS_BACKEND", "local"))
store = GoldenStore(sys.argv[1])
ref = GoldenRef("adoption_rate", "sample", "adoption_rates")
df = spark.createDataFrame([("x", "y", "2024-01", 1, 1, 1.0, 1.0)],
    "product_name string, region string, month string, contacts bigint, adoptions bigint, "
    "adoption_rate double, expected_premium double")
store.write(spark, df, ref, keys=["product_name", "region", "month"],
            provenance={"source": "refresh", "reason": "crash test"})
print("completed")
"""


@pytest.mark.parametrize("fault", ["after-data", "after-manifest", "before-switch"])
def test_interrupted_refresh_leaves_the_old_golden_in_force(project, fault):
    store = GoldenStore(project / "golden")
    before = store.current_version(REF)
    manifest_before = store.verify(REF)
    env = {**os.environ, "HARNESS_FAULT": fault, "HARNESS_WORKDIR": str(project / ".harness")}
    proc = subprocess.run([sys.executable, "-c", CRASHING_REFRESH, str(project / "golden")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 137 and "completed" not in proc.stdout, proc.stderr[-2000:]
    assert store.current_version(REF) == before
    assert store.verify(REF) == manifest_before  # still intact, still verifies


def test_import_hive_text_export_becomes_a_verified_golden(pytester, project, tmp_path):
    """A legacy export in Hive's default text format (\\001 fields, \\N nulls) imports with
    provenance 'imported', and the model passes against it."""
    import pyarrow.parquet as pq

    store = GoldenStore(project / "golden")
    manifest = store.verify(REF)
    base = store.path(REF) / store.current_version(REF)
    table = pq.read_table(next(base / f for f in manifest["files"])).to_pandas()
    export = tmp_path / "export" / "000000_0"
    export.parent.mkdir()
    lines = ["\x01".join("\\N" if v is None or v != v else repr(v) if isinstance(v, float)
                         else str(v) for v in row) for row in table.itertuples(index=False)]
    export.write_text("\n".join(lines) + "\n")
    ddl = ", ".join(f"{c['name']} {c['type']}" for c in manifest["schema"])
    cli = [sys.executable, "-m", "harness.cli", "--root", str(project), "golden", "import",
           MODEL, "adoption_rates", str(export.parent), "--format", "hive-text",
           "--schema", ddl, "--reason", "HDInsight export 2024-06"]
    env = {**os.environ, "HARNESS_WORKDIR": str(project / ".harness")}
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = store.verify(REF)
    assert imported["provenance"]["source"] == "imported"
    assert imported["provenance"]["origin"] == [str(export.parent)]
    assert imported["rows"] == manifest["rows"]
    result = run_pytest(pytester, project, "-k", "values")
    result.assert_outcomes(passed=1)


def test_error_first_line_skips_jvm_trace_and_survives_empty_messages():
    from harness.errors import first_line

    assert first_line(ValueError("")) == "ValueError"  # str(exc).splitlines()[0] would crash
    trace = "\n  [TABLE_OR_VIEW_NOT_FOUND] no table `x`\n\tat org.apache.spark.Foo(Foo.scala:1)"
    assert first_line(RuntimeError(trace)) == "[TABLE_OR_VIEW_NOT_FOUND] no table `x`"
    assert first_line(RuntimeError("y" * 50), limit=10) == "yyyyyyy..."
