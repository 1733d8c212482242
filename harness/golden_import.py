"""Importing goldens exported from the legacy platform (Parquet, ORC, CSV, Hive text).

The files are read by ``harness.exports`` (CSV and Hive text need a ``--schema`` DDL).
Imports go through the golden store's atomic, versioned write, with provenance ``imported``
and the export recorded (the report shows it). A Hive directory export names its columns by
position (``_col0`` ...): they get the output's declared names (``legacy_export``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from harness.errors import GoldenError, first_line
from harness.exports import FORMATS, read_export
from harness.golden import GoldenRef, GoldenStore

__all__ = ["FORMATS", "import_files", "read_export"]


def import_files(
    spark: SparkSession,
    store: GoldenStore,
    ref: GoldenRef,
    files: Sequence[Path | str],
    *,
    fmt: str,
    keys: list[str],
    schema: str | None = None,
    header: bool = False,
    reason: str = "imported legacy export",
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """``files`` as a new golden version of ``ref``. ``columns``: the names of an export whose
    columns Hive named by position (``_col0`` ...: a directory export), in their order."""
    df = read_export(spark, files, fmt=fmt, schema=schema, header=header, error=GoldenError)
    if df.columns and all(re.fullmatch(r"_col\d+", c) for c in df.columns):
        if not columns:
            raise GoldenError(
                f"export {files[0]} has Hive's positional column names ({df.columns[0]} ...): "
                f"declare outputs.{ref.output}.schema in the spec of {ref.model}, or pass "
                "--schema 'col TYPE, ...' in the table's column order"
            )
        if len(columns) != len(df.columns):
            raise GoldenError(
                f"export {files[0]} has {len(df.columns)} columns, but {len(columns)} are "
                f"declared for {ref} ({', '.join(columns)})"
            )
        df = df.toDF(*columns)
    lowered = {c.lower() for c in df.columns}
    absent = [k for k in keys if k.lower() not in lowered]
    if absent:
        raise GoldenError(
            f"export {files[0]} lacks key column(s) {absent} of {ref} "
            f"(its columns: {', '.join(df.columns)})"
        )
    try:
        df = df.cache()
        df.count()  # fail here, naming the file, on a malformed row (FAILFAST)
    except Exception as exc:
        raise GoldenError(f"malformed {fmt} export {files[0]}: {first_line(exc, 300)}") from None
    return store.write(
        spark,
        df,
        ref,
        keys=keys,
        provenance={
            "source": "imported",
            "reason": reason,
            "format": fmt,
            "origin": [str(f) for f in files],
            "export": ", ".join(str(f) for f in files),
        },
    )
