"""Importing a legacy export as a golden, through the CLI, on a copy of the project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from project_copy import run_suites

from harness.golden import GoldenRef, GoldenStore

MODEL = "adoption_rate"
REF = GoldenRef(MODEL, "sample", "adoption_rates")


def hive_text(value: object) -> str:
    """A value as Hive's text format writes it (NULL and NaN as \\N, floats exactly)."""
    if value is None or value != value:
        return "\\N"
    return repr(value) if isinstance(value, float) else str(value)


def test_import_hive_text_export_becomes_a_verified_golden(
    pytester: pytest.Pytester, project: Path, tmp_path: Path
) -> None:
    """A legacy export in Hive's default text format (\\001 fields, \\N nulls) imports with
    provenance 'imported', and the model passes against it."""
    import pyarrow.parquet as pq

    store = GoldenStore(project / "golden")
    manifest = store.verify(REF)
    base = store.path(REF) / store.current_version(REF)
    table = pq.read_table(next(base / f for f in manifest["files"])).to_pandas()
    export = tmp_path / "export" / "000000_0"
    export.parent.mkdir()
    lines = ["\x01".join(hive_text(v) for v in row) for row in table.itertuples(index=False)]
    export.write_text("\n".join(lines) + "\n")
    ddl = ", ".join(f"{c['name']} {c['type']}" for c in manifest["schema"])
    cli = [
        sys.executable,
        "-m",
        "harness.cli",
        "--root",
        str(project),
        "golden",
        "import",
        MODEL,
        "adoption_rates",
        str(export.parent),
        "--format",
        "hive-text",
        "--schema",
        ddl,
        "--reason",
        "HDInsight export 2024-06",
    ]
    env = {**os.environ, "HARNESS_WORKDIR": str(project / ".harness")}
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = store.verify(REF)
    assert imported["provenance"]["source"] == "imported"
    assert imported["provenance"]["origin"] == [str(export.parent)]
    assert imported["rows"] == manifest["rows"]
    result = run_suites(pytester, project, "-k", "values")
    result.assert_outcomes(passed=1)
