"""Reading files exported from the legacy platform: Parquet, ORC, CSV and Hive text.

One reader for every place that takes legacy exports (goldens: ``golden_import``; input
tables: ``fixture_import`` and a fixture bundle's ``full: {location, format}``), so the
formats and their conventions are defined once. Hive's default text format is
``\\001``-delimited with ``\\N`` for NULL and no quoting; CSV and Hive text carry no types,
so they need a schema (a Hive DDL column list).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from harness.errors import HarnessError, first_line

FORMATS = ("parquet", "orc", "csv", "hive-text")


def read_export(
    spark: SparkSession,
    files: Sequence[Path | str],
    *,
    fmt: str,
    schema: str | None = None,
    header: bool = False,
    infer_types: bool = False,
    error: type[HarnessError] = HarnessError,
) -> DataFrame:
    """The exported files as one DataFrame (lazy); ``error``: the caller's error class.
    ``infer_types``: a CSV with a header and no schema gets the types Spark infers.

    Local paths must exist; anything with a scheme (``abfss://``, ``dbfs:/``) is left to Spark.
    """
    if fmt not in FORMATS:
        raise error(f"unknown export format '{fmt}' (use {', '.join(FORMATS)})")
    if not files:
        raise error("name at least one exported file or folder")
    local = [Path(f) for f in files if "://" not in str(f) and not str(f).startswith("dbfs:")]
    missing = [str(f) for f in local if not f.exists()]
    if missing:
        raise error(f"export file(s) not found: {', '.join(missing)}")
    paths = [
        str(Path(f).resolve()) if "://" not in str(f) and not str(f).startswith("dbfs:") else str(f)
        for f in files
    ]
    try:
        if fmt == "parquet":
            return spark.read.parquet(*paths)
        if fmt == "orc":
            return spark.read.orc(paths)  # orc() takes the paths as one list
        if not schema:
            if fmt == "csv" and header and infer_types:
                return spark.read.option("header", True).option("inferSchema", True).csv(paths)
            raise error(
                f"{fmt} exports carry no types: pass the Hive table's column list "
                "(--schema 'col TYPE, ...' or --ddl FILE)"
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
    except HarnessError:
        raise
    except Exception as exc:
        raise error(f"cannot read {fmt} export {paths[0]}: {first_line(exc, 300)}") from None
