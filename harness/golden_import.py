"""Importing goldens exported from the legacy platform (Parquet, ORC, CSV, Hive text).

Hive's default text format is ``\\001``-delimited with ``\\N`` for NULL and no quoting; CSV
and Hive text need a schema (``--schema`` DDL). Imports go through the golden store's
atomic, versioned write, with provenance ``imported`` and the source files recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from harness.errors import GoldenError, first_line
from harness.golden import GoldenRef, GoldenStore

FORMATS = ("parquet", "orc", "csv", "hive-text")


def read_export(
    spark: SparkSession,
    files: list[Path],
    *,
    fmt: str,
    schema: str | None = None,
    header: bool = False,
) -> DataFrame:
    if fmt not in FORMATS:
        raise GoldenError(f"unknown export format '{fmt}' (use {', '.join(FORMATS)})")
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise GoldenError(f"export file(s) not found: {', '.join(missing)}")
    if not files:
        raise GoldenError("name at least one exported file or folder to import")
    paths = [str(f.resolve()) for f in files]
    try:
        if fmt == "parquet":
            return spark.read.parquet(*paths)
        if fmt == "orc":
            return spark.read.orc(paths)  # orc() takes the paths as one list
        if not schema:
            raise GoldenError(
                f"{fmt} exports carry no types: pass --schema 'col TYPE, ...' "
                "(the Hive table's column list)"
            )
        reader = spark.read.schema(schema).option("mode", "FAILFAST")
        if fmt == "csv":
            return reader.option("header", header).csv(paths)
        # hive-text: Hive's default text SerDe
        return (
            reader.option("sep", "\u0001")
            .option("nullValue", "\\N")
            .option("quote", "")
            .option("escape", "\\")
            .option("header", False)
            .csv(paths)
        )
    except GoldenError:
        raise
    except Exception as exc:
        raise GoldenError(f"cannot read {fmt} export {paths[0]}: {first_line(exc, 300)}") from None


def import_files(
    spark: SparkSession,
    store: GoldenStore,
    ref: GoldenRef,
    files: list[Path],
    *,
    fmt: str,
    keys: list[str],
    schema: str | None = None,
    header: bool = False,
    reason: str = "imported legacy export",
) -> dict[str, Any]:
    df = read_export(spark, files, fmt=fmt, schema=schema, header=header)
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
        },
    )
