"""Making a versioned fixture bundle from a legacy table's exported files.

``import_fixture`` writes ``fixtures/<name>/<version>/``: ``schema.ddl`` (from a DDL file, or
from the files' own schema), ``sample.csv`` (a deterministic sample of the stated size, in
the bundle's CSV conventions), ``full: {location, format}`` pointing at the export itself
(read in place by full-data runs, never copied), and data-quality checks *proposed*
from a profile of the full data, for the user to confirm: each is written with
``severity: warn`` and a ``# proposed:`` comment giving its evidence, so a bundle runs at
once and nothing is enforced until someone has read it.

The sample is the same every time: rows are ordered by a hash of their keys (of the whole
row when there are none) and whole key groups are kept, so a key's rows are never split.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from harness.ddl import parse_ddl, schema_problems
from harness.errors import FixtureError, first_line
from harness.exports import FORMATS, read_export
from harness.fixtures import BUNDLE_FILE, write_sample

SCHEMA_FILE = "schema.ddl"
SAMPLE_FILE = "sample.csv"
MAX_ACCEPTED_VALUES = 20  # string columns with at most this many values get accepted_values
_NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType)
_COMPLEX = (T.ArrayType, T.MapType, T.StructType, T.BinaryType)


@dataclass
class Imported:
    """What an import wrote, for the command line to report."""

    directory: Path
    rows: int
    sample_rows: int
    columns: list[tuple[str, str]]
    checks: list[str] = field(default_factory=list)


def next_version(fixtures_root: Path, name: str) -> str:
    """One more than the highest numeric version of ``name`` (``1`` for a new bundle)."""
    found = [int(p.name) for p in (fixtures_root / name).glob("*") if p.name.isdigit()]
    return str(max(found, default=0) + 1)


def export_location(files: list[Path]) -> Path:
    """The one place the full data is read from: the file or folder given, or the folder
    whose data files are exactly the files given."""
    if len(files) == 1:
        return files[0].resolve()
    parents = {f.resolve().parent for f in files}
    if len(parents) != 1:
        raise FixtureError(
            f"the exported files are in {len(parents)} folders; a bundle reads its full data "
            "from one location: pass the one folder holding the export"
        )
    (folder,) = parents
    given = {f.resolve() for f in files}
    stray = sorted(
        p.name
        for p in folder.iterdir()
        if p.resolve() not in given and not p.name.startswith(("_", "."))
    )
    if stray:
        raise FixtureError(
            f"{folder / stray[0]}: this folder holds files besides those given; the full data "
            "is read from the whole folder, so pass the folder or move the other files"
        )
    return folder


def _columns(df: DataFrame, ddl_file: Path | None) -> list[tuple[str, str]]:
    """The bundle's columns: the DDL file's when given (the files must agree), else the files'."""
    found = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    if ddl_file is None:
        return [(n, t.upper() if "<" not in t else t) for n, t in found]
    declared = _read_ddl(ddl_file)
    problems = schema_problems(declared, found)
    if problems:
        raise FixtureError(f"{ddl_file}: the exported files disagree: {problems[0]}")
    return declared


def _read_ddl(ddl_file: Path) -> list[tuple[str, str]]:
    if not ddl_file.is_file():
        raise FixtureError(f"{ddl_file}: DDL file not found")
    try:
        return parse_ddl(ddl_file.read_text())
    except ValueError as exc:
        raise FixtureError(f"{ddl_file}: cannot read the DDL: {exc}") from None


def _ddl_text(columns: list[tuple[str, str]]) -> str:
    """``schema.ddl``: one column a line, backticks only where a name needs them."""
    names = [n if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) else f"`{n}`" for n, _ in columns]
    width = max(map(len, names))
    lines = [f"{n.ljust(width)}  {t}" for n, (_, t) in zip(names, columns, strict=True)]
    return ",\n".join(lines) + "\n"


def _sample(df: DataFrame, keys: list[str], rows: int) -> DataFrame:
    """``rows`` rows (whole key groups: at least one group, never a split one), the same every
    time: key groups (or rows) ordered by a hash of their values, the values breaking ties."""
    if not keys:
        row = F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns]))
        picked = df.withColumn("_h", F.xxhash64(row)).withColumn("_t", row)
        return picked.orderBy("_h", "_t").limit(rows).drop("_h", "_t")
    key = F.to_json(F.struct(*[F.col(f"`{k}`") for k in keys]))
    groups = df.groupBy(key.alias("_t")).agg(F.count(F.lit(1)).alias("_n"))
    order = Window.orderBy(F.xxhash64("_t"), "_t")
    groups = groups.withColumn("_before", F.sum("_n").over(order) - F.col("_n"))
    chosen = groups.where((F.col("_before") == 0) | (F.col("_before") + F.col("_n") <= rows))
    return df.withColumn("_t", key).join(chosen.select("_t"), "_t", "left_semi").drop("_t")


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (quoted where YAML would misread it)."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6)
    return text.strip().removesuffix("...").strip()


def _plain(value: Any) -> int | float | None:
    """A profile's min or max as a YAML number (decimals as floats, which compare alike)."""
    if value is None or isinstance(value, int):
        return value
    return float(value)


def propose_checks(df: DataFrame, keys: list[str]) -> list[tuple[dict[str, Any], str]]:
    """Checks the data already passes, each with its evidence: ``not_null`` where a column has
    no nulls, ``unique`` on the keys (or a column whose values are all distinct),
    ``accepted_values`` for low-cardinality strings, ``range`` for numbers."""
    fields = {f.name: f.dataType for f in df.schema.fields}
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for i, name in enumerate(df.columns):
        col = F.col(f"`{name}`")
        aggs.append(F.count(col).alias(f"n{i}"))
        if not isinstance(fields[name], _COMPLEX):
            aggs.append(F.approx_count_distinct(col).alias(f"d{i}"))
        if isinstance(fields[name], (*_NUMERIC, T.DecimalType)):
            aggs += [F.min(col).alias(f"lo{i}"), F.max(col).alias(f"hi{i}")]
    profile = df.agg(*aggs).collect()[0].asDict()
    rows = int(profile["_rows"])
    out: list[tuple[dict[str, Any], str]] = []
    if not rows:
        return out
    no_nulls = [n for i, n in enumerate(df.columns) if profile[f"n{i}"] == rows]
    if no_nulls:
        out.append(({"not_null": no_nulls}, f"no nulls in {rows:,} rows"))
    candidates = [keys] if keys else []
    if not keys:  # a likely key: an integral or string column, no nulls, every value distinct
        candidates = [
            [n]
            for i, n in enumerate(df.columns)
            if n in no_nulls
            and isinstance(fields[n], (T.IntegerType, T.LongType, T.StringType))
            and profile[f"d{i}"] >= 0.97 * rows
        ]
    for cols in candidates:
        distinct = df.select(*[F.col(f"`{c}`") for c in cols]).distinct().count()
        if distinct == rows:
            out.append(({"unique": cols}, f"{rows:,} distinct values in {rows:,} rows"))
    small = [
        n
        for i, n in enumerate(df.columns)
        if isinstance(fields[n], T.StringType) and profile[f"d{i}"] <= MAX_ACCEPTED_VALUES * 1.1
    ]
    if small:
        sets = df.agg(*[F.collect_set(F.col(f"`{n}`")).alias(n) for n in small]).collect()[0]
        for name in small:
            values = sorted(sets[name])
            if 0 < len(values) <= MAX_ACCEPTED_VALUES:
                out.append(({"accepted_values": {name: values}}, f"{len(values)} values seen"))
    for i, name in enumerate(df.columns):
        bounds = [_plain(profile.get(f"lo{i}")), _plain(profile.get(f"hi{i}"))]
        if any(v is None or not math.isfinite(v) for v in bounds):
            continue
        lo, hi = bounds
        out.append(({"range": {name: {"min": lo, "max": hi}}}, "the smallest and largest values"))
    return out


def _bundle_yaml(
    name: str,
    version: str,
    source: str,
    location: Path,
    fmt: str,
    rows: int,
    checks: list[tuple[dict[str, Any], str]],
) -> str:
    lines = [
        f"name: {_flow(name)}",
        f"version: {version}",
        f"description: TODO what the table holds (imported from {fmt} export, {rows:,} rows)",
        f"source: {_flow(source)}",
        f"schema: {SCHEMA_FILE}",
        f"sample: {SAMPLE_FILE}",
        "full:                 # read in place by full-data runs, never copied",
        f"  location: {_flow(str(location))}",
        f"  format: {fmt}",
        "# Proposed by harness fixtures import from a profile of the full data: confirm each",
        "# check (edit or delete it), set severity: error where bad data must stop the model,",
        f"# then freeze the bundle: harness fixtures release {name}/{version}",
        "checks:" if checks else "checks: []",
    ]
    for check, evidence in checks:
        ((kind, arg),) = check.items()
        lines.append(f"  - {kind}: {_flow(arg)}   # proposed: {evidence}")
        lines.append("    severity: warn")
    return "\n".join(lines) + "\n"


def import_fixture(
    spark: SparkSession,
    fixtures_root: Path,
    name: str,
    files: list[Path],
    *,
    fmt: str,
    ddl_file: Path | None = None,
    sample_rows: int = 1000,
    keys: list[str] | None = None,
    version: str | None = None,
    header: bool = False,
) -> Imported:
    """Write ``fixtures/<name>/<version>/`` from the exported files (see the module doc)."""
    if fmt not in FORMATS:
        raise FixtureError(f"unknown export format '{fmt}' (use {', '.join(FORMATS)})")
    if sample_rows < 1:
        raise FixtureError(f"--sample-rows must be at least 1, got {sample_rows}")
    version = version or next_version(fixtures_root, name)
    directory = fixtures_root / name / version
    if directory.exists():
        raise FixtureError(
            f"{directory}: fixture {name}@{version} exists; choose another --version"
        )
    location = export_location(files)
    declared = _read_ddl(ddl_file) if ddl_file is not None else None
    typeless = fmt in ("csv", "hive-text")
    df = read_export(
        spark,
        files,
        fmt=fmt,
        schema=", ".join(f"`{n}` {t}" for n, t in declared) if declared and typeless else None,
        header=header,
        infer_types=True,
        error=FixtureError,
    )
    columns = declared if declared and typeless else _columns(df, ddl_file)
    complex_cols = [f.name for f in df.schema.fields if isinstance(f.dataType, _COMPLEX)]
    if complex_cols:
        raise FixtureError(
            f"column '{complex_cols[0]}' is {df.schema[complex_cols[0]].dataType.simpleString()}: "
            "a bundle's sample.csv holds only atomic types"
        )
    lowered = {c.lower(): c for c in df.columns}
    absent = [k for k in keys or [] if k.lower() not in lowered]
    if absent:
        raise FixtureError(
            f"--keys: column '{absent[0]}' is not in the export ({', '.join(df.columns)})"
        )
    keys = [lowered[k.lower()] for k in keys or []]
    df = df.select(*[F.col(f"`{lowered[n.lower()]}`").alias(n) for n, _ in columns])
    df = df.cache()
    try:
        rows = df.count()  # fails here, naming the file, on a malformed row (FAILFAST)
    except Exception as exc:
        raise FixtureError(f"malformed {fmt} export {files[0]}: {first_line(exc, 300)}") from None
    checks = propose_checks(df, keys)
    directory.mkdir(parents=True)
    try:
        (directory / SCHEMA_FILE).write_text(_ddl_text(columns))
        sample = _sample(df, keys, sample_rows)
        written = write_sample(
            sample,
            [n for n, _ in columns],
            directory / SAMPLE_FILE,
            keys or [n for n, _ in columns],
        )
        source = f"imported by harness fixtures import from {location} ({fmt})"
        (directory / BUNDLE_FILE).write_text(
            _bundle_yaml(name, version, source, location, fmt, rows, checks)
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # no half-written bundle left behind
        raise
    finally:
        df.unpersist()
    return Imported(directory, rows, written, columns, [_flow(c) for c, _ in checks])
