"""Versioned fixture bundles: one input table's schema, sample data and full-size recipe.

``fixtures/<name>/<version>/`` holds ``fixture.yaml`` (what the table is, its schema, its
data-quality checks), the schema (Hive DDL), ``sample.csv`` (Hive conventions: ``\\N`` is
null), a generator recipe or location for the full dataset, and ``manifest.json`` with a
content hash per file. A released version is immutable: if a file changes, loading fails
and says which file and that a new version is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from harness import datagen
from harness.ddl import parse_ddl
from harness.errors import FixtureError
from harness.exports import FORMATS, read_export
from harness.fields import check_choice, check_fields, problem
from harness.workdir import data_dir

BUNDLE_FILE = "fixture.yaml"
MANIFEST_FILE = "manifest.json"
NULL_TOKEN = "\\N"
CHECKS_MEMO = "_harness_checks.json"  # beside a generated table: its check results
_FIELDS = (
    "name",
    "version",
    "description",
    "released",
    "schema",
    "sample",
    "full",
    "reference",
    "checks",
    "owner",
    "source",
)
_FULL_FIELDS = ("generator", "location", "format")  # format: of the files at location
CHECK_KINDS = ("not_null", "unique", "accepted_values", "range", "parseable")
SEVERITIES = ("error", "warn")  # error: stop before the model runs; warn: report and go on
_CHECK_FIELDS = (*CHECK_KINDS, "severity", "max_fraction")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Check:
    kind: str
    columns: tuple[str, ...]
    severity: str = "error"  # error: stop before the model runs; warn: report and go on
    max_fraction: float = 0.0
    arg: Any = None

    @property
    def label(self) -> str:
        return f"{self.kind}({', '.join(self.columns)})"


@dataclass
class Bundle:
    """One fixture version, loaded and (if released) verified against its manifest."""

    name: str
    version: str
    directory: Path
    columns: list[tuple[str, str]]
    sample_file: Path | None
    recipe: datagen.Recipe | None
    location: str | None
    released: bool
    reference: bool
    checks: list[Check] = field(default_factory=list)
    manifest_digest: str = ""
    location_format: str = "parquet"  # exports.FORMATS: how the files at `location` are read

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def ddl(self) -> str:
        return ", ".join(f"`{n}` {t}" for n, t in self.columns)

    def require_recipe(self) -> datagen.Recipe:
        """The generator recipe, or a clear error for a bundle that has none."""
        if self.recipe is None:
            raise FixtureError(f"{self.directory / BUNDLE_FILE}: no 'full.generator' recipe")
        return self.recipe


def _parse_checks(path: Path, raw: Any) -> list[Check]:
    if raw is not None and not isinstance(raw, list):
        raise problem(FixtureError, path, "checks", "must be a list of checks")
    checks = []
    for i, item in enumerate(raw or []):
        where = f"checks[{i}]"
        item = check_fields(FixtureError, path, where, item, _CHECK_FIELDS)
        kinds = [k for k in item if k in CHECK_KINDS]
        if len(kinds) != 1:
            raise problem(
                FixtureError,
                path,
                where,
                f"needs exactly one of {', '.join(CHECK_KINDS)} (got {', '.join(map(str, item))})",
            )
        kind = kinds[0]
        value = item[kind]
        if kind in ("not_null", "unique"):
            cols, arg = (value,) if isinstance(value, str) else tuple(value), None
        else:  # {column: arg}
            if not isinstance(value, dict) or len(value) != 1:
                raise problem(FixtureError, path, f"{where}.{kind}", "must be {column: ...}")
            ((col, arg),) = value.items()
            cols = (col,)
        severity = check_choice(
            FixtureError,
            path,
            f"{where}.severity",
            item.get("severity", "error"),
            SEVERITIES,
            "severity",
        )
        checks.append(Check(kind, cols, severity, float(item.get("max_fraction", 0.0)), arg))
    return checks


def bundle_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def current_hashes(directory: Path) -> dict[str, str]:
    return {
        p.name: sha256_file(p)
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != MANIFEST_FILE and not p.name.startswith(".")
    }


_SCHEMA_EXAMPLE = "e.g. schema: schema.ddl, or schema: 'customer_id BIGINT, region STRING'"


def _names_a_file(ref: str) -> bool:
    """Whether a ``schema:`` value is a file name rather than a column list: one word (a
    column list has a space between each name and its type)."""
    return bool(ref) and not any(ch.isspace() or ch in ",<>()`" for ch in ref)


def schema_columns(spec_path: Path, value: Any) -> list[tuple[str, str]]:
    """The columns a bundle's ``schema:`` declares: a DDL file beside ``fixture.yaml`` or an
    inline column list of any length (never taken for a path: an 87-column list is longer
    than a file name may be), as one string or a YAML list of ``name TYPE`` items."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = ", ".join(value)
    if not isinstance(value, str) or not value.strip():
        raise problem(
            FixtureError,
            spec_path,
            "schema",
            f"must be a DDL file name or a column list, got {value!r}",
            _SCHEMA_EXAMPLE,
        )
    ref = value.strip()
    if _names_a_file(ref):
        schema_path = spec_path.parent / ref
        if not schema_path.is_file():
            raise problem(
                FixtureError,
                spec_path,
                "schema",
                f"schema file {schema_path} is missing, and '{ref}' is not a column list",
                _SCHEMA_EXAMPLE,
            )
        text, where = schema_path.read_text(), f"schema (file {ref})"
    else:
        text, where = ref, "schema"
    try:
        return parse_ddl(text)
    except ValueError as exc:
        raise problem(
            FixtureError, spec_path, where, f"not a Hive DDL column list: {exc}", _SCHEMA_EXAMPLE
        ) from None


def load_bundle(root: Path, name: str, version: str, *, require_sample: bool = True) -> Bundle:
    directory = Path(root) / name / str(version)
    spec_path = directory / BUNDLE_FILE
    if not spec_path.is_file():
        available = sorted(p.name for p in (Path(root) / name).glob("*") if p.is_dir())
        hint = (
            f"versions present: {', '.join(available)}"
            if available
            else f"no fixture '{name}' under {root}"
        )
        raise FixtureError(f"{spec_path}: fixture bundle {name}@{version} not found ({hint})")
    raw = _read_bundle_file(spec_path)
    released = bool(raw.get("released", False))
    manifest_path = directory / MANIFEST_FILE
    digest = ""
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
            recorded = manifest["files"]
        except (ValueError, KeyError) as exc:
            raise FixtureError(f"{manifest_path}: unreadable manifest ({exc})") from None
        now = current_hashes(directory)
        if released:
            for fname, sha in recorded.items():
                if fname not in now:
                    raise FixtureError(
                        f"{directory / fname}: file of released fixture {name}@{version} is missing"
                    )
                if now[fname] != sha:
                    raise FixtureError(
                        f"{directory / fname}: changed after {name}@{version} was released "
                        f"(sha256 {now[fname][:12]} != manifest {sha[:12]}). Released versions "
                        f"are immutable: restore the file, or copy the bundle to a new version "
                        f"folder and release that (harness fixtures release {name}/<new>)"
                    )
            added = set(now) - set(recorded)
            if added:
                raise FixtureError(
                    f"{directory}: file(s) {', '.join(sorted(added))} added to "
                    f"released fixture {name}@{version}; make a new version"
                )
        digest = bundle_digest(recorded)
    elif released:
        raise FixtureError(
            f"{manifest_path}: released fixture {name}@{version} has no manifest "
            f"(run: harness fixtures release {name}/{version})"
        )
    else:
        digest = "unreleased:" + bundle_digest(current_hashes(directory))

    columns = schema_columns(spec_path, raw.get("schema"))

    sample_file = directory / raw["sample"] if raw.get("sample") else None
    if require_sample and sample_file is not None and not sample_file.is_file():
        raise FixtureError(
            f"{sample_file}: sample data file is missing "
            f"(build it with: harness fixtures sample {name}/{version})"
        )
    full = check_fields(FixtureError, spec_path, "full", raw.get("full") or {}, _FULL_FIELDS)
    recipe, location = None, None
    if "generator" in full:
        gen_path = directory / full["generator"]
        if not gen_path.is_file():
            raise FixtureError(f"{gen_path}: generator recipe is missing")
        recipe = datagen.load_recipe(gen_path)
    elif "location" in full:
        location = str(full["location"])
    location_format = check_choice(
        FixtureError, spec_path, "full.format", full.get("format", "parquet"), FORMATS, "format"
    )
    return Bundle(
        name,
        str(version),
        directory,
        columns,
        sample_file,
        recipe,
        location,
        released,
        bool(raw.get("reference", False)),
        _parse_checks(spec_path, raw.get("checks")),
        digest,
        location_format,
    )


def _read_bundle_file(spec_path: Path) -> dict[str, Any]:
    """A bundle's fixture.yaml as a mapping of known fields (one error line otherwise)."""
    try:
        raw = yaml.safe_load(spec_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise FixtureError(f"{spec_path}: not valid YAML: {exc}") from None
    return check_fields(FixtureError, spec_path, "top level", raw, _FIELDS)


def release(bundle_dir: Path) -> dict[str, str]:
    """Write the manifest of a bundle and mark it released (from then on, immutable)."""
    spec_path = bundle_dir / BUNDLE_FILE
    if not spec_path.is_file():
        raise FixtureError(f"{spec_path}: no fixture bundle here to release")
    raw = _read_bundle_file(spec_path)
    schema_columns(spec_path, raw.get("schema"))  # a bundle is released only if it loads
    if not raw.get("released"):
        text = spec_path.read_text().rstrip("\n") + "\nreleased: true\n"
        spec_path.write_text(text)
    files = current_hashes(bundle_dir)
    (bundle_dir / MANIFEST_FILE).write_text(
        json.dumps(
            {"bundle": bundle_dir.parent.name, "version": bundle_dir.name, "files": files},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    return files


# ------------------------------------------------------------------------------ loading


def _typed(df: DataFrame, bundle: Bundle) -> DataFrame:
    """The bundle's columns, in its order, cast to its types (strings stay as they are)."""
    exprs = [
        F.col(f"`{n}`").cast(t).alias(n) if t.lower() != "string" else F.col(f"`{n}`")
        for n, t in bundle.columns
    ]
    return df.select(*exprs)


def write_sample(
    df: DataFrame, columns: Sequence[str], path: Path, order: Sequence[str] = ()
) -> int:
    """Write ``df``'s ``columns`` as a bundle's sample CSV (header, Spark's text of each value,
    ``\\N`` for NULL: what :func:`load_sample` reads), sorted by ``order`` if given; returns
    the row count. Collected to the client: a sample is small."""
    if order:
        df = df.orderBy(*[F.col(f"`{c}`") for c in order])
    pdf = df.select(*[F.col(f"`{n}`").cast("string").alias(n) for n in columns]).toPandas()
    pdf.to_csv(path, index=False, na_rep=NULL_TOKEN)
    return len(pdf)


def load_sample(spark: SparkSession, bundle: Bundle) -> DataFrame:
    """The committed sample, read on the client (works on every backend) and typed by Spark."""
    if bundle.sample_file is None:
        raise FixtureError(f"{bundle.directory / BUNDLE_FILE}: no 'sample' data declared")
    try:
        pdf = pd.read_csv(
            bundle.sample_file,
            dtype=str,
            keep_default_na=False,
            na_values=[NULL_TOKEN],
            quotechar='"',
            escapechar=None,
        )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise FixtureError(f"{bundle.sample_file}: cannot read sample CSV: {exc}") from None
    expected = [n for n, _ in bundle.columns]
    if list(pdf.columns) != expected:
        raise FixtureError(
            f"{bundle.sample_file}: header {list(pdf.columns)} does not match "
            f"the schema columns {expected}"
        )
    # pandas-stubs leave None out of where()'s `other`; pandas documents it (NaN -> None).
    pdf = pdf.astype(object).where(pdf.notna(), None)  # type: ignore[call-overload]
    schema = ", ".join(f"`{n}` string" for n in expected)
    raw = (
        spark.createDataFrame(pdf, schema=schema)
        if len(pdf)
        else spark.createDataFrame([], schema=schema)
    )
    return _typed(raw, bundle)


def full_rows(bundle: Bundle, scale: float) -> int:
    recipe = bundle.require_recipe()
    return max(1, round(recipe.rows * (1.0 if bundle.reference else scale)))


def load_full(
    spark: SparkSession,
    bundle: Bundle,
    *,
    scale: float = 1.0,
    other_rows: dict[str, int] | None = None,
    cache: bool = True,
) -> DataFrame:
    """The full-size table: generated deterministically (cached as Parquet) or read in place."""
    if bundle.location is not None:
        if bundle.location_format != "parquet":  # exported files: typed by the bundle's schema
            df = read_export(
                spark,
                [bundle.location],
                fmt=bundle.location_format,
                schema=bundle.ddl,
                error=FixtureError,
            )
            return _typed(df, bundle)
        return (
            spark.read.parquet(bundle.location)
            if "/" in bundle.location
            else spark.table(bundle.location)
        )
    rows = full_rows(bundle, scale)
    target = generated_data(bundle, rows)
    if cache and (target / "_SUCCESS").exists():  # generated before: read, nothing to plan
        return spark.read.parquet(str(target))
    df = datagen.generate(spark, bundle.require_recipe(), rows=rows, other_rows=other_rows)
    df = _typed(df, bundle)
    if not cache:
        return df
    df.write.mode("overwrite").parquet(str(target))
    return spark.read.parquet(str(target))


def generated_data(bundle: Bundle, rows: int) -> Path:
    """Where a generated table is cached: a function of the bundle's content and size."""
    return data_dir() / bundle.name / bundle.version / f"{bundle.manifest_digest[-12:]}-{rows}"


# ------------------------------------------------------------------------------- checks


@dataclass
class CheckResult:
    table: str
    check: str
    severity: str
    failing_rows: int
    rows: int
    max_fraction: float

    @property
    def fraction(self) -> float:
        return self.failing_rows / self.rows if self.rows else 0.0

    @property
    def ok(self) -> bool:
        return self.fraction <= self.max_fraction

    def line(self) -> str:
        state = "ok" if self.ok else self.severity.upper()
        return (
            f"{self.table}: {self.check}: {self.failing_rows:,} of {self.rows:,} rows "
            f"({self.fraction:.2%}, allowed {self.max_fraction:.2%}) {state}"
        )


def checked(
    df: DataFrame, table: str, bundle: Bundle, *, rows: int | None = None
) -> list[CheckResult]:
    """The bundle's checks on ``df``. For a generated table (``rows`` given: its size), the
    results are kept beside the cached data and reused: the data is a function of the
    bundle's content and size, so are the results (the capture and every night after it
    would otherwise check the same data again). Tables read in place are always checked."""
    memo = generated_data(bundle, rows) / CHECKS_MEMO if rows is not None else None
    if memo is not None and memo.is_file():
        with contextlib.suppress(ValueError, TypeError, KeyError):
            return [CheckResult(**item) for item in json.loads(memo.read_text())]
    results = run_checks(df, table, bundle.checks)
    if memo is not None and memo.parent.is_dir():
        memo.write_text(json.dumps([dataclasses.asdict(r) for r in results]))
    return results


def run_checks(df: DataFrame, table: str, checks: list[Check]) -> list[CheckResult]:
    """All of a table's data-quality checks in one aggregation (one extra job for unique)."""
    if not checks:
        return []
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for i, c in enumerate(checks):
        cols = [F.col(f"`{n}`") for n in c.columns]
        for n in c.columns:
            if n not in df.columns:
                raise FixtureError(f"check {c.label} on table '{table}' names unknown column '{n}'")
        if c.kind == "not_null":
            bad = cols[0].isNull()
            for col in cols[1:]:
                bad = bad | col.isNull()
        elif c.kind == "accepted_values":
            bad = cols[0].isNotNull() & ~cols[0].isin(list(c.arg))
        elif c.kind == "range":
            lo, hi = c.arg.get("min"), c.arg.get("max")
            bad = F.lit(False)
            if lo is not None:
                bad = bad | (cols[0] < F.lit(lo))
            if hi is not None:
                bad = bad | (cols[0] > F.lit(hi))
            bad = cols[0].isNotNull() & bad
        elif c.kind == "parseable":
            bad = cols[0].isNotNull() & F.expr(f"try_cast(`{c.columns[0]}` AS {c.arg})").isNull()
        else:  # unique: counted below
            continue
        aggs.append(F.count_if(bad).alias(f"c{i}"))
    row = df.agg(*aggs).collect()[0]
    results = []
    for i, c in enumerate(checks):
        if c.kind == "unique":
            dups = (
                (
                    df.groupBy(*[F.col(f"`{n}`") for n in c.columns])
                    .count()
                    .where(F.col("count") > 1)
                    .agg(F.sum("count"))
                    .collect()[0][0]
                )
                or 0
            )
            failing = int(dups)
        else:
            failing = int(row[f"c{i}"])
        results.append(
            CheckResult(table, c.label, c.severity, failing, int(row["_rows"]), c.max_fraction)
        )
    return results
